"""The one entry point of every binary in `scripts/`: user errors as one line, quiet logs.

`cli.run(main)` replaces `absl.app.run(main)`:

* a user error — a bad flag or config value (absl's flag parsing), or the library's
  `ValueError` / `FileNotFoundError` / `io.CacheError` with its message (missing run, bad
  dataset or history, filters that leave nothing) — prints `error: <message>` on one line on
  stderr and exits with `USAGE_EXIT` (2), without a traceback; any other exception keeps its
  traceback. Given `--verbosity` >= 1 (debug), user errors keep their traceback too;
* absl's INFO logging (e.g. JAX's "Unable to initialize backend 'tpu'" probe) is off unless
  `--verbosity` is given: absl would raise the default to INFO after parsing the flags.
"""

from __future__ import annotations

import pathlib
import sys
import traceback
from typing import Any, Callable, NoReturn

from absl import app, flags, logging
from ml_collections.config_flags import config_flags

from guidedrec_jax import io

USAGE_EXIT = 2
# What the library raises for a user's mistake (io.CacheError is a ValueError).
USER_ERRORS = (ValueError, FileNotFoundError, io.CacheError)
TRACEBACK = "Traceback (most recent call last):"


def fail(message: str) -> NoReturn:
  """Prints `error: <message>` (whitespace folded: one line) on stderr; exits `USAGE_EXIT`."""
  sys.stderr.flush()
  sys.stderr.write("error: " + " ".join(str(message).split()) + "\n")
  sys.exit(USAGE_EXIT)


def _flag_message(error: Exception) -> str:
  """A flag error's message; a config file's traceback (ml_collections puts it in the
  message) shortened to the exception it ends with."""
  message = str(error)
  if TRACEBACK in message:
    head, trace = message.split(TRACEBACK, 1)
    message = head + ([line for line in trace.splitlines() if line.strip()] or [""])[-1]
  return message


def _override_error(error: BaseException) -> bool:
  """True if `error` came from resolving a `--<config>.<field>` override (ml_collections'
  `config_path`), not from running a config file's own code (a bug: keep its traceback)."""
  return any(pathlib.PurePath(frame.filename).parts[-2:] == ("config_flags", "config_path.py")
             for frame in traceback.extract_tb(error.__traceback__))


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing with a bad flag, config file or config override as a user error."""
  try:
    args = flags.FLAGS(argv)
  except flags.Error as e:
    fail(_flag_message(e))
  except (AttributeError, KeyError) as e:
    if not _override_error(e):
      raise
    overrides = [a.split("=", 1)[0] for a in argv[1:]
                 if a.startswith("--") and "." in a.split("=", 1)[0]]
    # The outermost KeyError holds ml_collections' "did you mean" suggestion.
    while not isinstance(e, KeyError) and (e.__cause__ or e.__context__):
      e = e.__cause__ or e.__context__
    fail(f"bad config override ({', '.join(overrides)}): no such field "
         f"{e.args[0] if e.args else e}")
  # ml_collections defers a config file that fails to load until its first use.
  for name in flags.FLAGS:
    value = flags.FLAGS[name].value
    if isinstance(value, config_flags._ErrorConfig):  # pylint: disable=protected-access
      fail(f"flag --{name}={flags.FLAGS[name].serialize().split('=', 1)[-1]}: {value._error}")
  return args


def wrap(main: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
  """`main` with quiet logging by default and user errors turned into `fail`."""
  def wrapped(argv: list[str]) -> Any:
    verbosity = flags.FLAGS["verbosity"]
    if not verbosity.present:  # absl set INFO after parsing; keep WARNING unless asked
      logging.set_verbosity(logging.WARNING)
    try:
      return main(argv)
    except USER_ERRORS as e:
      if verbosity.present and verbosity.value >= 1:
        raise
      fail(str(e) or type(e).__name__)
  return wrapped


def run(main: Callable[[list[str]], Any]) -> None:
  """`absl.app.run(main)` with one-line user errors and WARNING logging (module docstring)."""
  app.run(wrap(main), flags_parser=_parse_flags)
