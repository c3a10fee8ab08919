"""The end-to-end micro benchmark: pre-train, fine-tune, extract, score, recommend, evaluate.

`pipeline.run_benchmark` (the driver, JAX half) runs the torch stages (`torch_stages`) in a
child process that fans out to spawned workers (`distributed.ProcessExecutor`), then scores
the zoo, evaluates the recommenders (setting 3) and writes a ranked recommendation
(`recommend`); `plan` (config checks, zoo names) serves both. The modules are imported one by
one, never from here, so that the torch child importing `plan` does not pull in JAX, and the
driver importing `pipeline` does not pull in torch.
"""
