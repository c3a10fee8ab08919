"""What a history costs: memory budgets (`memory`), the throughput table and the priced plan
of a benchmark run (`throughput`, `plan`). Imports neither torch nor JAX."""
