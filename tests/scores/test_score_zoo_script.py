"""End to end: scripts/score_zoo.py with the smoke config writes the scores tables."""

import csv
import json
import os
import pathlib
import subprocess
import sys

from configs import score_zoo as score_zoo_config
from guidedrec_jax.scores import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_smoke_run_writes_long_and_wide_tables(tmp_path):
  subprocess.run([sys.executable, str(ROOT / "scripts" / "score_zoo.py"),
                  f"--config={ROOT / 'configs' / 'score_zoo.py'}:smoke",
                  f"--workdir={tmp_path}", "--config.max_bytes=2000000"], check=True, cwd=ROOT, timeout=300,
                 env={**os.environ, "GUIDEDREC_CACHE": str(tmp_path / "user_cache")})
  config = score_zoo_config.get_config("smoke")
  with open(tmp_path / "scores.csv") as handle:
    rows = list(csv.DictReader(handle))
  models = sorted({row["model"] for row in rows})
  assert len(models) == config.synthetic.num_models
  assert [key for key in rows[0]] == ["dataset", "model", "score", "value"]
  assert len(rows) == len(models) * len(config.scores)
  value = {(r["model"], r["score"]): float(r["value"]) for r in rows}
  # The planted zoo improves with the model index: the best model must win on LEEP and LogME
  # (ranked in each score's own direction).
  for name in ("leep", "logme"):
    assert max(models, key=lambda m: registry.sign(name) * value[(m, name)]) == models[-1]
  # The compilation cache is on by default, in the user cache folder.
  assert any((tmp_path / "user_cache" / "jax_compilation").iterdir())
  assert (tmp_path / "scores_wide.md").read_text().startswith("| model |")
  assert json.loads((tmp_path / "config.json").read_text())["seed"] == config.seed
  scored = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
  assert scored["event"] == "scored" and scored["max_bytes"] == 2_000_000  # the flag's budget
