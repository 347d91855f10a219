"""Models, step 3: the GRU seed and attention models, the Transformer, the layers they share,
and `building`, which chooses among them by configuration."""
