"""Inference, step 5: the `Summarizer` that loads a model directory, greedy and beam
decoding, and restoring titles to the body's own words."""
