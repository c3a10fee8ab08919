"""Writes RESULTS.md from finished runs' own files (configs/results.py)."""

import sys

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, io, provenance, results

config_flags.DEFINE_config_file("config", None, "configs/results.py", lock_config=True)


def main(argv):
  del argv
  config = flags.FLAGS.config
  runs, not_run = results.write_results(list(config.runs), config.out,
                                        command=provenance.command_line())
  for workdir in not_run:
    print(f"note: {workdir} not run (no such folder); listed under 'Not run'", file=sys.stderr)
  sections = len({run.config for run in runs})
  print(f"wrote {config.out}: {len(runs)} runs in {sections} sections, {len(not_run)} not run")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
