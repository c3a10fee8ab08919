"""What a history costs: memory budgets (`memory`), the throughput table and the priced plan
of a benchmark run (`throughput`, `plan`), and the step rules both the trainer and the plan
follow (`rules`). Imports neither torch nor JAX."""
