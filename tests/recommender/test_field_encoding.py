"""Feature encoding: field sets, training-only statistics, unknown categories, crosses."""

import numpy as np
import pandas as pd
import pytest

from guidedrec_jax.recommender import field_encoding


def _frame(models=("m1", "m2", "m3", "m4"), dataset="a", params=(1.0, 10.0, 100.0, 1000.0),
           families=("resnet", "resnet", "vit", "vit")):
  n = len(models)
  return pd.DataFrame({
      "dataset": [dataset] * n, "model": list(models), "top1": np.linspace(50, 80, n),
      "num_train": [1000] * n, "num_classes": [10] * n, "family": list(families),
      "input_size": [224] * n, "params_m": list(params), "gmacs": [1.0] * n,
      "pretrain_domain": ["in1k"] * n, "ms_logme": np.arange(n, dtype=float)})


def test_resolve_fields_field_sets():
  columns = _frame().columns
  names = [f.name for f in field_encoding.resolve_fields("d,m", columns)]
  assert names == ["dataset_id", "num_train", "num_classes", "model_id", "family",
                   "pretrain_domain", "input_size", "params", "gmacs"]  # no difficulty column
  with_score = field_encoding.resolve_fields("d,m,S_logme", columns)
  assert with_score[-1].name == "S_logme" and with_score[-1].group == "S"
  assert [f.name for f in field_encoding.resolve_fields("S", columns)] == ["S_logme"]
  with pytest.raises(ValueError, match="S_nce.*ms_nce"):
    field_encoding.resolve_fields("d,S_nce", columns)
  with pytest.raises(ValueError, match="'x'"):
    field_encoding.resolve_fields("d,x", columns)
  with pytest.raises(ValueError, match="source_data"):
    field_encoding.resolve_fields("source_data", columns)


def test_numeric_statistics_come_from_training_rows_only():
  encoder = field_encoding.FeatureEncoder(field_encoding.resolve_fields("params", _frame().columns))
  encoder.fit(_frame())
  logs = np.log([1.0, 10.0, 100.0, 1000.0])
  test = _frame(models=("m9",), params=(1e4,), families=("vit",))
  value = encoder.transform(test).values[0, 0]
  assert value == pytest.approx((np.log(1e4) - logs.mean()) / logs.std(), rel=1e-5)


def test_unknown_categories_share_an_id_valued_zero():
  encoder = field_encoding.FeatureEncoder(field_encoding.resolve_fields("model_id,family", _frame().columns))
  encoder.fit(_frame())
  pairs = encoder.transform(_frame(models=("m1", "new1", "new2"), params=(1, 1, 1),
                                   families=("resnet", "mlp", "vit")))
  model_ids = encoder.feature_ids("model_id")
  assert pairs.feature_ids[1, 0] == pairs.feature_ids[2, 0] == model_ids[-1]
  np.testing.assert_array_equal(pairs.values[:, 0], [1.0, 0.0, 0.0])
  np.testing.assert_array_equal(pairs.values[:, 1], [1.0, 0.0, 1.0])
  assert encoder.feature_names()[model_ids[-1]] == "model_id=<unknown>"
  assert len(encoder.feature_names()) == pairs.num_features == 4 + 1 + 2 + 1


def test_constant_and_missing_numeric_values_encode_as_zero():
  encoder = field_encoding.FeatureEncoder(field_encoding.resolve_fields("num_classes,params",
                                                            _frame().columns))
  encoder.fit(_frame())
  test = _frame(models=("x", "y"), params=(np.nan, -1.0), families=("vit", "vit"))
  test["num_classes"] = 200  # constant (10) in training: nothing was learned about it
  np.testing.assert_array_equal(encoder.transform(test).values, np.zeros((2, 2)))


def test_cross_field_gives_each_category_its_own_slope():
  encoder = field_encoding.FeatureEncoder((field_encoding.FIELDS["family_x_params"],))
  pairs = encoder.fit_transform(_frame())
  ids = encoder.feature_ids("family_x_params")
  np.testing.assert_array_equal(pairs.feature_ids[:, 0], ids[[0, 0, 1, 1]])
  logs = np.log([1.0, 10.0, 100.0, 1000.0])
  np.testing.assert_allclose(pairs.values[:, 0], (logs - logs.mean()) / logs.std(), rtol=1e-5)


def test_groups_and_targets():
  frame = pd.concat([_frame(dataset="b"), _frame(dataset="a")], ignore_index=True)
  pairs = field_encoding.FeatureEncoder(field_encoding.resolve_fields("d,m", frame.columns)).fit_transform(
      frame)
  np.testing.assert_array_equal(pairs.groups, [1] * 4 + [0] * 4)
  np.testing.assert_allclose(pairs.targets, frame["top1"])
  assert pairs.feature_ids.dtype == np.int32 and pairs.values.dtype == np.float32


def test_misuse_raises():
  encoder = field_encoding.FeatureEncoder(field_encoding.resolve_fields("d", _frame().columns))
  with pytest.raises(ValueError, match="before fit"):
    encoder.transform(_frame())
  with pytest.raises(ValueError, match="frame"):
    encoder.fit(_frame().iloc[:0])
  with pytest.raises(ValueError, match="fields"):
    field_encoding.FeatureEncoder(())
  encoder.fit(_frame())
  with pytest.raises(ValueError, match=r"\['num_train'\]"):
    encoder.transform(_frame().drop(columns=["num_train"]))
  no_target = encoder.transform(_frame().drop(columns=["top1"]))
  np.testing.assert_array_equal(no_target.targets, np.zeros(4))


def test_state_round_trip_encodes_identically_through_json():
  import json
  train = pd.concat([_frame(), _frame(dataset="b", params=(2.0, 20.0, 200.0, 2000.0))])
  train.loc[train.index[:2], "num_classes"] = 10  # constant column: std = inf, kept as None
  spec = "d,m,S_logme,family_x_params,params_bin"
  encoder = field_encoding.FeatureEncoder(field_encoding.resolve_fields(spec, train.columns)).fit(train)
  state = json.loads(json.dumps(encoder.get_state(), allow_nan=False))
  restored = field_encoding.FeatureEncoder.from_state(state)
  new = _frame(models=("m1", "m9"), dataset="c", params=(3.0, 7.0), families=("vit", "mlp"))
  for frame in (train, new):
    a, b = encoder.transform(frame), restored.transform(frame)
    np.testing.assert_array_equal(a.feature_ids, b.feature_ids)
    np.testing.assert_array_equal(a.values, b.values)
  assert restored.feature_names() == encoder.feature_names()
  with pytest.raises(ValueError, match="version"):
    field_encoding.FeatureEncoder.from_state({**state, "state_version": -1})
  with pytest.raises(ValueError, match="inconsistent"):
    field_encoding.FeatureEncoder.from_state({**state, "offsets": state["offsets"][:-1]})
  with pytest.raises(ValueError, match="before fit"):
    field_encoding.FeatureEncoder(encoder.fields).get_state()


def test_dataset_descriptors_as_main_effects_survive_the_state():
  import json
  train = pd.concat([_frame(), _frame(dataset="b")])
  fields = field_encoding.with_dataset_interactions(
      field_encoding.resolve_fields("d,m", train.columns), "id_only")
  encoder = field_encoding.FeatureEncoder(fields).fit(train)
  weights = dict(zip([f.name for f in fields], encoder.interaction_weights()))
  assert weights["num_train"] == weights["num_classes"] == 0.0
  assert weights["dataset_id"] == weights["model_id"] == weights["params"] == 1.0
  restored = field_encoding.FeatureEncoder.from_state(json.loads(json.dumps(encoder.get_state())))
  np.testing.assert_array_equal(restored.interaction_weights(), encoder.interaction_weights())
  assert all(f.interact for f in field_encoding.with_dataset_interactions(
      field_encoding.resolve_fields("d,m", train.columns), "all"))
  with pytest.raises(ValueError, match="d_interactions"):
    field_encoding.with_dataset_interactions(fields, "none")


def test_binned_field_cuts_at_training_quantiles():
  train = _frame(models=tuple(f"m{i}" for i in range(8)), params=tuple(range(1, 9)),
                 families=("resnet",) * 8)
  field = field_encoding.Field("p", "params_m", "binned", "m", bins=4)
  encoder = field_encoding.FeatureEncoder((field,)).fit(train)
  np.testing.assert_allclose(encoder.edges["p"], np.quantile(np.arange(1, 9), [.25, .5, .75]))
  assert encoder.categories["p"] == ["band000", "band001", "band002", "band003",
                                     field_encoding.UNKNOWN]
  pairs = encoder.transform(train)
  np.testing.assert_array_equal(pairs.feature_ids[:, 0], [0, 0, 1, 1, 2, 2, 3, 3])
  new = _frame(models=("a", "b", "c"), params=(-5.0, 100.0, np.nan), families=("x",) * 3)
  new_pairs = encoder.transform(new)
  np.testing.assert_array_equal(new_pairs.feature_ids[:, 0], [0, 3, 4])  # NaN: unknown
  np.testing.assert_array_equal(new_pairs.values[:, 0], [1, 1, 0])
  with pytest.raises(ValueError, match="bins >= 2"):
    field_encoding.FeatureEncoder((field_encoding.Field("p", "params_m", "binned", "m"),))


def test_shared_field_reads_the_target_among_the_sources():
  import json
  train = pd.concat([_frame(dataset="a"), _frame(dataset="b")]).assign(
      source_data=["a", "b", "c", "x"] * 2)
  fields = field_encoding.resolve_fields("dataset_id,source_data,target_as_source", train.columns)
  encoder = field_encoding.FeatureEncoder(fields).fit(train)
  assert encoder.categories["source_data"] == ["a", "b", "c", "x", field_encoding.UNKNOWN]
  new = _frame(models=("m1", "m2"), dataset="c", params=(1.0, 2.0),
               families=("resnet", "vit")).assign(source_data=["c", "a"])
  for enc in (encoder, field_encoding.FeatureEncoder.from_state(json.loads(json.dumps(
      encoder.get_state())))):
    pairs = enc.transform(new)
    np.testing.assert_array_equal(pairs.feature_ids[:, 2], pairs.feature_ids[0, 1])  # "c"
    assert pairs.values[0, 2] == 1.0
  np.testing.assert_array_equal(encoder.feature_ids("target_as_source"),
                                encoder.feature_ids("source_data"))
  assert len(encoder.feature_names()) == encoder.num_features
  unseen = encoder.transform(_frame(models=("m1",), dataset="zz", params=(1.0,),
                                    families=("vit",)).assign(source_data=["a"]))
  assert unseen.values[0, 2] == 0.0  # a target never seen as a source: unknown
  with pytest.raises(ValueError, match="shared_with"):
    field_encoding.FeatureEncoder((field_encoding.FIELDS["target_as_source"],))


def test_optional_tokens_are_skipped_where_columns_are_missing():
  columns = _frame().columns
  names = [f.name for f in field_encoding.resolve_fields("m,target_as_source?,source_data?", columns)]
  assert "target_as_source" not in names and "source_data" not in names
  with_source = list(columns) + ["source_data"]
  names = [f.name for f in field_encoding.resolve_fields("m,source_data?,target_as_source?",
                                                   with_source)]
  assert names[-2:] == ["source_data", "target_as_source"]
  names = [f.name for f in field_encoding.resolve_fields("m,target_as_source?", with_source)]
  assert "target_as_source" not in names  # its owner field is not in the set
  with pytest.raises(ValueError, match="source_data"):
    field_encoding.resolve_fields("m,source_data", columns)
