"""Scale, step 8: titling and embedding whole files in chunks, on one machine or with Ray
Data, and the nearest-neighbour search over embeddings."""
