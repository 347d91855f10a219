"""Data, step 2: reading files, checking inputs, the split by repository, and `prepare`,
which turns rows into the arrays, vocabularies and length statistics a model trains on."""
