"""Fan-out stages on one process or on Ray, chosen by one value, `ray_address`.

`make_executor("")` runs the jobs here; `make_executor("local")` on a Ray started on this
machine; `make_executor("auto" | "host:port" | "ray://host:port")` on a running cluster.
Imports neither torch nor JAX, and Ray only when a Ray executor first runs.
"""

from guidedrec_jax.distributed.local import Executor, ProcessExecutor, SequentialExecutor
from guidedrec_jax.distributed.ray_executor import (RayExecutor, executor_from_config,
                                                    make_executor, validate_ray_address)

__all__ = ["Executor", "ProcessExecutor", "SequentialExecutor", "RayExecutor", "executor_from_config",
           "make_executor", "validate_ray_address"]
