"""RESULTS.md: the figures of finished runs, one section per config, generated, never edited.

A run is a workdir that `scripts/evaluate.py` or `scripts/run_benchmark.py` wrote. What it
contributes is read from its own files only:

  config.json          the resolved config (must exist: the run is a real one)
  metrics.jsonl        appended by every run in the folder; the latest run is the part from
                       its last `{"event": "run"}` record (`provenance.run_record`: commit, date,
                       machine, load, command) to its `done` record (wall seconds), then
                       `run_end` (the load at the end)
  summary.csv          an evaluation's summary (method, Pearson, Spearman, regret, MAE, ...)
  table2.csv           a main-job run's leave-one-task-out table, beside its evaluation's
  evaluation/summary.csv

A run without a run record (made before records were written) or without a `done` record
after it (unfinished) is refused with a `ValueError` naming it: a results file must say where
its numbers came from. Runs are grouped by the config file their command names
(`--config=configs/setting3.py:public=modelspider`); each run's section gives its command.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shlex
import time
from typing import Any, Sequence

import pandas as pd

from guidedrec_jax import io
from guidedrec_jax.benchmark import layout

# summary.csv column -> its heading in RESULTS.md (shown when present, in this order); a
# `<metric>_mean` column is shown as "mean ± std" when its `<metric>_std` is there too.
SUMMARY_COLUMNS = {"method": "method", "pearson_mean": "Pearson", "spearman_mean": "Spearman",
                   "kendall_mean": "Kendall", "regret_mean": "regret@1",
                   "regret3_mean": "regret@3", "mae_mean": "MAE", "repeats": "repeats",
                   "num_datasets": "datasets"}
RERUN = "rerun it with the current code (it then records commit, date, machine and load)"


@dataclasses.dataclass(frozen=True)
class Run:
  """One finished run as RESULTS.md shows it."""
  workdir: str
  config: str                      # the `--config=` value of its command ("" if none)
  record: dict[str, Any]           # the `run` event (provenance.run_record)
  seconds: float | None            # wall seconds, from its `done` event
  end_load: list[float] | None     # the `run_end` event's load averages
  tables: dict[str, pd.DataFrame]  # title -> table, in display order
  notes: tuple[str, ...] = ()


def _events(path: pathlib.Path) -> list[dict[str, Any]]:
  events = []
  for number, line in enumerate(path.read_text().splitlines(), 1):
    if line.strip():
      try:
        events.append(json.loads(line))
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{number} is not valid JSON ({e})") from e
  return events


def config_of(command: str) -> str:
  """The `--config` value of a command line ("" if it has none)."""
  words = shlex.split(command)
  for i, word in enumerate(words):
    if word.startswith("--config="):
      return word.split("=", 1)[1]
    if word == "--config" and i + 1 < len(words):
      return words[i + 1]
  return ""


def load_run(workdir: str | os.PathLike) -> Run:
  """Reads the latest finished run in `workdir` (module docstring).

  Raises:
    FileNotFoundError: `workdir` or its config.json / metrics.jsonl / summary table is missing.
    ValueError: its latest run has no run record or did not finish.
  """
  path = pathlib.Path(workdir)
  for name in (layout.CONFIG, layout.METRICS):
    if not (path / name).is_file():
      raise FileNotFoundError(f"run {workdir}: no {name} (not a finished run)")
  events = _events(path / layout.METRICS)
  starts = [i for i, e in enumerate(events) if e.get("event") == "run"]
  if not starts:
    raise ValueError(f"run {workdir} has no run record in {layout.METRICS} (it predates "
                     f"them): {RERUN}")
  record, latest = events[starts[-1]], events[starts[-1] + 1:]
  done = [e for e in latest if e.get("event") == "done"]
  if not done:
    raise ValueError(f"run {workdir}: its latest run ({record.get('date')}) did not finish "
                     f"(no done record after its run record): {RERUN}")
  seconds = done[-1].get("seconds")
  if seconds is None and "time" in done[-1] and "time" in record:
    seconds = done[-1]["time"] - record["time"]
  end = [e for e in latest if e.get("event") == "run_end"]
  tables, notes = {}, []
  table2, evaluated = f"{layout.TABLE2}.csv", f"{layout.EVALUATION}/{layout.SUMMARY}"
  if (path / table2).is_file():  # a main-job run
    title = f"{table2} (leave one task out: Pearson per task, then the means)"
    tables[title] = _read(path / table2, since=record.get("time"))
    tables[evaluated] = summary_table(_read(path / evaluated))
    torch = [e for e in latest if e.get("event") == "torch_stages"]
    if torch:
      t = torch[-1]
      notes.append("torch stages this run executed: pretraining "
                   f"{t.get('pretrain', {}).get('executed', '?')}, sweep jobs "
                   f"{t.get('sweep', {}).get('executed', '?')} of "
                   f"{t.get('sweep', {}).get('planned', '?')}, feature caches computed "
                   f"{t.get('extract', {}).get('computed', '?')} (the rest reused from the "
                   "workdir's earlier runs)")
    stages = [e for e in latest if e.get("event") == "stages"]
    if stages and not stages[-1].get("evaluation_ran", True):
      written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
          (path / evaluated).stat().st_mtime))
      notes.append(f"{layout.EVALUATION}/ was current and reused (its fingerprint matched "
                   "this run's history, scores and config), not recomputed by this run; its "
                   f"{layout.SUMMARY} was written {written}")
  else:
    tables[layout.SUMMARY] = summary_table(_read(path / layout.SUMMARY,
                                                 since=record.get("time")))
  return Run(workdir=str(workdir), config=config_of(record.get("command", "")),
             record=record, seconds=seconds, end_load=end[-1].get("load") if end else None,
             tables=tables, notes=tuple(notes))


def _read(path: pathlib.Path, since: float | None = None) -> pd.DataFrame:
  """A run's table; refused if it is older than `since` (the run record's time): a run that
  stopped after its `done` record would otherwise show an earlier run's table."""
  if not path.is_file():
    raise FileNotFoundError(f"run {path.parent}: no {path.name}")
  if since is not None and path.stat().st_mtime < since:
    raise ValueError(f"run {path.parent}: {path.name} is older than its latest run record "
                     f"(that run did not write it): {RERUN}")
  return pd.read_csv(path)


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
  """A summary.csv as RESULTS.md shows it: `SUMMARY_COLUMNS` that exist, as strings; "mean ±
  std" where some method has more than one repeat."""
  out = {}
  # A spread across repeats; one repeat (setting 3) has none to show.
  spread = "repeats" not in summary or bool((summary["repeats"] > 1).any())
  for column, heading in SUMMARY_COLUMNS.items():
    if column not in summary:
      continue
    cells = [io.table_cell(v, exact=True) for v in summary[column]]
    std = column.replace("_mean", "_std")
    if column.endswith("_mean") and std in summary and spread:
      cells = [c if c == io.MISSING else f"{c} ± {io.table_cell(s, exact=True)}"
               for c, s in zip(cells, summary[std])]
      heading += " (mean ± std)"
    out[heading] = cells
  return pd.DataFrame(out) if out else summary


def _load(values: Any) -> str:
  return "?" if not values else f"{values[0]:.2f}"


def run_section(run: Run) -> str:
  """One run's part of its config's section: where it ran, then its tables."""
  r, machine = run.record, run.record.get("machine", {})
  machine_text = (f"{machine.get('host', '?')}, {machine.get('processor', '?')}, "
                  f"{machine.get('cpus', '?')} CPUs, {machine.get('memory_gib', '?')} GiB, "
                  f"{machine.get('accelerator', '?')}")
  seconds = "?" if run.seconds is None else f"{run.seconds:.1f}"
  lines = [f"### `{run.workdir}`", "",
           f"- command: `{r.get('command', '?')}`",
           f"- commit: `{r.get('commit', '?')}`",
           f"- date: {r.get('date', '?')}",
           f"- machine: {machine_text}",
           f"- load (1-minute average, start–end): {_load(r.get('load'))}–"
           f"{_load(run.end_load)}",
           f"- wall seconds: {seconds}"]
  lines += [f"- note: {note}" for note in run.notes]
  for title, table in run.tables.items():
    # Floats to exactly 3 decimals, as the header says; a table without rows keeps its header.
    shown = io.markdown_table(table.to_dict("records"), exact=True, columns=list(table.columns))
    lines += ["", f"{title}:", "", shown.rstrip("\n")]
  return "\n".join(lines) + "\n"


def render(runs: Sequence[Run], command: str, not_run: Sequence[str] = ()) -> str:
  """RESULTS.md: the header, one section per config (in order of first appearance), then a
  line per run that was asked for but not found."""
  lines = ["# Results", "",
           f"Generated by `{command}` from each run's own files (config.json, metrics.jsonl, "
           "summary tables); do not edit by hand: rerun the runs, then that command. Each run "
           "says the command that made it and the commit, date, machine and load it ran "
           "with; figures are to 3 decimals.", ""]
  groups: dict[str, list[Run]] = {}
  for run in runs:
    groups.setdefault(run.config or "(no --config)", []).append(run)
  for config, members in groups.items():
    lines += [f"## `{config}`", ""]
    for run in members:
      lines += [run_section(run)]
  if not_run:
    lines += ["## Not run", ""]
    lines += [f"- `{workdir}`: not run (no such folder)" for workdir in not_run]
    lines += [""]
  return "\n".join(lines).rstrip("\n") + "\n"


def collect(workdirs: Sequence[str]) -> tuple[list[Run], list[str]]:
  """The finished runs among `workdirs` and the workdirs that do not exist (not run)."""
  runs, not_run = [], []
  for workdir in workdirs:
    if not pathlib.Path(workdir).exists():
      not_run.append(str(workdir))
    else:
      runs.append(load_run(workdir))
  return runs, not_run


def write_results(workdirs: Sequence[str], out: str | os.PathLike, command: str
                  ) -> tuple[list[Run], list[str]]:
  """Reads the runs in `workdirs` and writes RESULTS.md to `out` atomically (`render`, with
  `command` as the one that generated it); returns the runs and the workdirs not run."""
  runs, not_run = collect(workdirs)
  io.write_text_atomic(out, render(runs, command, not_run))
  return runs, not_run
