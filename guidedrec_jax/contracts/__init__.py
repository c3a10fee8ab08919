"""The file contracts between the torch half and the JAX half, one module per contract.

`feature_cache`: where a probe set's frozen features live and how they are read back;
`history_columns`: the columns of the fine-tuning history table and how it is written.
Both halves import them; they import numpy and the standard library only (never torch or
JAX), so neither half pulls in the other through them. Import the modules one by one.
"""
