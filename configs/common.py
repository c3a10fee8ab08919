"""Helpers shared by the configs: parsing of `--config=path.py:key=value,...` arguments."""

from __future__ import annotations

import ml_collections


def parse_arg(arg: str | None, lazy: bool = False, **spec) -> ml_collections.ConfigDict:
  """Parses a config argument string such as `smoke` or `smoke,n_models=4`.

  Each `spec` entry gives a default; its type decides how the value is parsed. A bare name
  (no `=`) sets a boolean entry to True. Unknown names raise `ValueError` unless `lazy`.

  Example:
    arg = parse_arg("smoke,seed=3", smoke=False, seed=0)  # -> smoke=True, seed=3
  """
  result = ml_collections.ConfigDict(dict(spec))
  for part in filter(None, (arg or "").split(",")):
    name, eq, raw = part.partition("=")
    name = name.strip()
    if name not in spec:
      if lazy:
        continue
      raise ValueError(f"unknown config argument {name!r}; known: {sorted(spec)}")
    default = spec[name]
    if not eq:
      if not isinstance(default, bool):
        raise ValueError(f"config argument {name!r} needs a value ({name}=...)")
      result[name] = True
    elif isinstance(default, bool):
      if raw.lower() not in ("true", "false", "1", "0"):
        raise ValueError(f"config argument {name!r} expects true/false, got {raw!r}")
      result[name] = raw.lower() in ("true", "1")
    else:
      result[name] = type(default)(raw)
  return result
