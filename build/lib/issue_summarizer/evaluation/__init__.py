"""Evaluation, step 6: ROUGE/BLEU against the lead baseline, paired bootstrap intervals, the
holdout predictions, the model card, and `tuning` of decoding settings on validation rows
(it scores titles, so it sits above inference, not inside it)."""
