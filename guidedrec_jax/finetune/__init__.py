"""Fine-tuning (torch): one job (`train`), resumable HPO sweeps (`sweep`) run by an executor
(`distributed.local`, `distributed.ray_executor`), the jobs log and the history table derived from it (`history_writer`).
Never imports JAX."""

from guidedrec_jax.distributed.local import Executor, ProcessExecutor, SequentialExecutor
from guidedrec_jax.finetune.history_writer import (HISTORY_COLUMNS, JobsLog, best_rows,
                                                   history_from_log, write_history)
from guidedrec_jax.finetune.options import (PRECISIONS, TrainOptions, default_device,
                                            options_from_config, resolve_precision)
from guidedrec_jax.finetune.sweep import (JobSpec, ModelInfo, SweepContext, SweepSummary,
                                          hpo_grid, run_job, run_sweep, split_train_val,
                                          zoo_model_info)
from guidedrec_jax.finetune.train import FinetuneResult, HyperParams, InputSpec, finetune

__all__ = [
    "Executor", "ProcessExecutor", "SequentialExecutor",
    "HISTORY_COLUMNS", "JobsLog", "best_rows", "history_from_log", "write_history",
    "JobSpec", "ModelInfo", "SweepContext", "SweepSummary", "hpo_grid", "run_job", "run_sweep",
    "split_train_val", "zoo_model_info",
    "FinetuneResult", "HyperParams", "InputSpec", "default_device", "finetune",
    "PRECISIONS", "TrainOptions", "options_from_config", "resolve_precision",
]
