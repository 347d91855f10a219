"""Text, step 1 of the flow: cleaning, tokenizing, vocabularies, padding, encoding and back.

The bottom floor: these modules import only `config` and each other, never a model.
`copying.py` is the per-example copy vocabulary; the Keras copy layer lives in `models/`.
"""
