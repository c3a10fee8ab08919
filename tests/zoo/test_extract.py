"""Feature extraction: the pre-logits convention, source probabilities, and the cache contract."""

import json

import numpy as np
import pytest
import torch

import guidedrec_jax
from guidedrec_jax import io
from guidedrec_jax.data import images
from guidedrec_jax.data.base import ImageDataset
from guidedrec_jax.finetune import HyperParams, finetune
from guidedrec_jax.zoo import extract, registry

torch.set_num_threads(1)
PROBE = {"seed": 0, "max_per_class": 25}


def _with(data, **changes):
  """Returns `data` with fields replaced (NamedTuple `_replace` trips over `len()` = N)."""
  return ImageDataset(**{**data._asdict(), **changes})


def _dataset(n=6, size=20, channels=1, seed=0, name="tiny/gray"):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)
  labels = np.arange(n, dtype=np.int64) % 3
  return ImageDataset(name, "train", images, labels, ("a", "b", "c"))


@pytest.fixture
def forward_calls():
  """Counts module forward calls in this process while the test runs."""
  calls = []
  handle = torch.nn.modules.module.register_module_forward_hook(lambda *args: calls.append(1))
  yield calls
  handle.remove()


def test_cache_contract_and_pre_logits_convention(tmp_path):
  data = _dataset()
  path = extract.extract_features("lcnet_050", data, tmp_path, PROBE, batch_size=4)
  assert path == tmp_path / "features" / "tiny" / "gray" / "lcnet_050.npz"
  arrays, meta = io.load_arrays(path)
  assert set(arrays) == {"features", "labels"}  # random init: no source head
  assert arrays["features"].dtype == np.float32 and arrays["features"].shape == (6, meta["d"])
  np.testing.assert_array_equal(arrays["labels"], data.labels)
  assert {"model", "weights_sha256", "dataset", "split", "probe_seed", "n", "d"} <= set(meta)
  assert (meta["n"], meta["probe"], meta["code_version"]) == (6, PROBE, guidedrec_jax.__version__)
  model = registry.create_model("lcnet_050")
  x = images.model_input(data.images, registry.input_spec("lcnet_050"))
  with torch.inference_mode():
    direct = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
  np.testing.assert_allclose(arrays["features"], direct, atol=1e-5)


def test_pretrained_head_gives_source_probs(tmp_path):
  data = _dataset(n=4, size=32, channels=3)
  path = extract.extract_features("mobilenetv2_100", data, tmp_path, PROBE, input_size=32)
  arrays, meta = io.load_arrays(path)
  assert arrays["features"].shape == (4, 1280) and arrays["source_probs"].shape == (4, 1000)
  np.testing.assert_allclose(arrays["source_probs"].sum(axis=1), 1.0, atol=1e-5)
  model = registry.create_model("mobilenetv2_100")
  spec = registry.get_spec("mobilenetv2_100")
  with torch.inference_mode():
    logits = model(images.model_input(data.images, images.InputSpec(32, spec.mean, spec.std)))
  np.testing.assert_allclose(arrays["source_probs"], torch.softmax(logits, -1).numpy(), atol=1e-6)
  assert meta["input_size"] == 32 and meta["has_source_probs"]


def test_matching_cache_is_reused_without_running_the_model(tmp_path, forward_calls):
  data = _dataset()
  path = extract.extract_features("regnetx_002", data, tmp_path, PROBE)
  assert forward_calls, "the hook must see the first extraction"
  written = path.stat().st_mtime_ns
  forward_calls.clear()
  assert extract.extract_features("regnetx_002", data, tmp_path, PROBE) == path
  assert not forward_calls and path.stat().st_mtime_ns == written


@pytest.mark.parametrize("change", ["probe_seed", "split", "labels", "input_size", "truncate",
                                    "sidecar"])
def test_stale_or_damaged_cache_is_recomputed(tmp_path, forward_calls, change):
  data = _dataset()
  path = extract.extract_features("resnet10t", data, tmp_path, PROBE)
  good = io.load_arrays(path)[0]["features"]
  forward_calls.clear()
  probe, size = dict(PROBE), None
  if change == "probe_seed":
    probe["seed"] = 1
  elif change == "split":
    data = _with(data, split="val")
  elif change == "labels":
    data = _with(data, labels=data.labels[::-1].copy())
  elif change == "input_size":
    size = 24
  elif change == "truncate":
    path.write_bytes(path.read_bytes()[:100])
  else:
    meta = json.loads(io.sidecar_path(path).read_text())
    io.sidecar_path(path).write_text(json.dumps(dict(meta, weights_sha256="0" * 64)))
  extract.extract_features("resnet10t", data, tmp_path, probe, input_size=size)
  assert forward_calls, f"{change}: a stale cache was reused"
  arrays, meta = io.load_arrays(path)
  assert meta["split"] == data.split and meta["probe_seed"] == probe["seed"]
  if change in ("truncate", "sidecar"):
    np.testing.assert_array_equal(arrays["features"], good)  # deterministic recomputation


def test_features_do_not_depend_on_batch_size(tmp_path):
  data = _dataset(n=5, channels=3)
  one = extract.extract_features("vit_tiny_patch8_32", data, tmp_path / "a", PROBE, batch_size=2)
  two = extract.extract_features("vit_tiny_patch8_32", data, tmp_path / "b", PROBE, batch_size=64)
  a, b = io.load_arrays(one)[0]["features"], io.load_arrays(two)[0]["features"]
  assert a.shape == (5, 192)
  np.testing.assert_allclose(a, b, atol=1e-5)


def test_preprocess_resizes_repeats_gray_and_normalises():
  spec = images.InputSpec(16, (0.5, 0.25, 0.0), (0.5, 0.5, 1.0))
  gray = np.full((2, 10, 14, 1), 128, dtype=np.uint8)
  x = images.model_input(gray, spec)
  assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
  expected = [(128 / 255 - m) / s for m, s in zip(spec.mean, spec.std)]
  torch.testing.assert_close(x.mean((0, 2, 3)), torch.tensor(expected), atol=1e-5, rtol=0)
  with pytest.raises(ValueError, match="images must be uint8"):
    images.model_input(gray.astype(np.float32), spec)


def test_probe_feature_is_the_backbone_on_the_tensor_fine_tuning_feeds_it(tmp_path):
  """One image pipeline: what extraction scores is what fine-tuning trains on."""
  name = "lcnet_050"
  probe = _dataset(n=6, size=20, channels=1)  # grey, not the model's 32 px: resized
  features = io.load_arrays(extract.extract_features(name, probe, tmp_path, PROBE))[0]["features"]
  fed = {True: [], False: []}  # training mode -> input batches the loop fed the model
  model = registry.create_model(name, num_classes=probe.num_classes)
  model.register_forward_pre_hook(lambda module, args: fed[module.training].append(args[0]))
  hparams = HyperParams(lr=1e-3, epochs=1, batch_size=len(probe))
  finetune(model, probe, probe, hparams, registry.input_spec(name), seed=0, device="cpu")
  (val_input,), (train_input,) = fed[False], fed[True]
  # The fine-tuning loop's tensors are the pipeline's, rows in its own order when training.
  expected = images.model_input(probe.images, registry.input_spec(name))
  torch.testing.assert_close(val_input, expected, atol=0, rtol=0)
  assert sorted(map(tuple, train_input.flatten(1).tolist())) == sorted(
      map(tuple, expected.flatten(1).tolist()))
  backbone = registry.create_model(name)  # the zoo model extraction ran, no new head
  with torch.inference_mode():
    direct = backbone.forward_head(backbone.forward_features(val_input), pre_logits=True)
  np.testing.assert_allclose(features, direct.numpy(), rtol=0, atol=1e-6)


def test_bad_requests_fail_before_any_model_runs(tmp_path, forward_calls):
  data = _dataset()
  with pytest.raises(ValueError, match="model_name 'lcnet_05'.*lcnet_050"):
    extract.extract_features("lcnet_05", data, tmp_path, PROBE)
  with pytest.raises(ValueError, match="probe_meta"):
    extract.extract_features("lcnet_050", data, tmp_path, {"probe_seed": 0})
  with pytest.raises(ValueError, match="plain JSON"):
    extract.extract_features("lcnet_050", data, tmp_path, {"seed": 0, "when": object()})
  with pytest.raises(ValueError, match="dataset.name"):
    extract.extract_features("lcnet_050", _with(data, name="../escape"), tmp_path, PROBE)
  with pytest.raises(ValueError, match="batch_size"):
    extract.extract_features("lcnet_050", data, tmp_path, PROBE, batch_size=0)
  with pytest.raises(ValueError, match="dataset.labels"):
    extract.extract_features("lcnet_050", _with(data, labels=data.labels.astype(np.int32)),
                             tmp_path, PROBE)
  with pytest.raises(ValueError, match="precision"):
    extract.extract_features("lcnet_050", data, tmp_path, PROBE, precision="fp16")
  with pytest.raises(ValueError, match="channels_last"):
    extract.extract_features("lcnet_050", data, tmp_path, PROBE, channels_last="yes")
  with pytest.raises(ValueError, match="device"):
    extract.extract_features("lcnet_050", data, tmp_path, PROBE, device="gpu7")
  assert not forward_calls and not (tmp_path / "features").exists()


class _LazyImages:
  """A lazy image source: only `len()` and integer-array indexing, like a TFDS data source."""

  def __init__(self, images):
    self.images = images

  def __len__(self):
    return len(self.images)

  def __getitem__(self, rows):
    assert isinstance(rows, np.ndarray) and rows.dtype.kind == "i"
    return self.images[rows]


def test_lazy_image_source_gives_the_same_features(tmp_path):
  data = _dataset(n=5, channels=3)
  eager = extract.extract_features("lcnet_050", data, tmp_path / "a", PROBE, batch_size=2)
  lazy = _with(data, images=_LazyImages(data.images))
  lazy_path = extract.extract_features("lcnet_050", lazy, tmp_path / "b", PROBE, batch_size=2)
  np.testing.assert_array_equal(io.load_arrays(eager)[0]["features"],
                                io.load_arrays(lazy_path)[0]["features"])


def test_probe_set_description_is_the_probe_meta(tmp_path):
  from guidedrec_jax.data import probe
  subset, description = probe.probe_set(_dataset(n=12), seed=3, max_per_class=2)
  path = extract.extract_features("lcnet_050", subset, tmp_path, description)
  _, meta = io.load_arrays(path)
  assert meta["probe_seed"] == 3 and meta["probe"] == description and meta["n"] == 6


def test_precision_is_recorded_matched_and_features_stay_float32(tmp_path, forward_calls):
  data = _dataset(n=6, size=32, channels=3)
  path = extract.extract_features("mobilenetv2_100", data, tmp_path, PROBE, input_size=32)
  fp32, meta = io.load_arrays(path)
  assert (meta["precision"], meta["device"], meta["channels_last"]) == ("fp32", "cpu", False)
  forward_calls.clear()
  # A bf16 request never reuses the fp32 cache (and vice versa): the precision is matched.
  extract.extract_features("mobilenetv2_100", data, tmp_path, PROBE, input_size=32,
                           precision="bf16")
  assert forward_calls, "an fp32 cache served a bf16 request"
  bf16, meta = io.load_arrays(path)
  assert meta["precision"] == "bf16"
  for name in ("features", "source_probs"):
    assert bf16[name].dtype == np.float32 and bf16[name].shape == fp32[name].shape
    assert not np.array_equal(bf16[name], fp32[name])  # autocast did run in bf16
  # bf16 keeps ~3 significant digits: close to the fp32 features, not equal.
  scale = np.abs(fp32["features"]).max()
  np.testing.assert_allclose(bf16["features"], fp32["features"], rtol=0, atol=0.05 * scale)
  np.testing.assert_allclose(bf16["source_probs"].sum(axis=1), 1.0, atol=1e-5)


def test_channels_last_fp32_features_match(tmp_path):
  data = _dataset(n=5, channels=3)
  plain = extract.extract_features("resnet10t", data, tmp_path / "a", PROBE)
  nhwc = extract.extract_features("resnet10t", data, tmp_path / "b", PROBE, channels_last=True)
  a, (b, meta) = io.load_arrays(plain)[0]["features"], io.load_arrays(nhwc)
  assert meta["channels_last"] and meta["precision"] == "fp32"
  np.testing.assert_allclose(a, b["features"], rtol=1e-4, atol=1e-5)
