"""Offline ImageNet weights remapped into timm give the source format's outputs; misfits fail."""

import math

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision

from guidedrec_jax.zoo import weights
from tests import shared_data

torch.set_num_threads(1)

# EfficientNet-B0 stage strides (Tan & Le 2019, table 1); Lite keeps them.
EFFICIENTNET_STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


def _offline(architecture):
  path = weights.offline_weights_path(architecture)
  shared_data.require(path is not None, f"the offline weights package for {architecture}")
  return path


def _batch(size, seed=0, n=3):
  return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_mobilenetv2_remap_matches_torchvision_logits():
  path = _offline("mobilenetv2_100")
  reference = torchvision.models.mobilenet_v2()
  reference.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
  model = timm.create_model("mobilenetv2_100", num_classes=1000)
  weights.load_offline(model, "mobilenetv2_100")
  x = _batch(64)
  with torch.inference_mode():
    expected, actual = reference.eval()(x), model.eval()(x)
  assert expected.abs().max() > 1.0  # non-trivial logits, so the comparison means something
  torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def _reference_lite_logits(sd, x):
  """EfficientNet-Lite forward written from the paper + TF reference, on the source keys.

  TF "same" padding, BN eps 1e-3, ReLU6, no squeeze-excite; a stage starts where the output
  width changes; skip connections where stride is 1 and the shape is kept.
  """
  def bn(y, p):
    return F.batch_norm(y, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"],
                        sd[f"{p}.bias"], training=False, eps=1e-3)

  def conv_same(y, w, stride, groups=1):
    k, pads = w.shape[-1], []
    for size in reversed(y.shape[-2:]):
      total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
      pads += [total // 2, total - total // 2]
    return F.conv2d(F.pad(y, pads), w, stride=stride, groups=groups)

  y = F.relu6(bn(conv_same(x, sd["_conv_stem.weight"], 2), "_bn0"))
  num_blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("_blocks."))
  stage, width = -1, None
  for b in range(num_blocks):
    p = f"_blocks.{b}"
    out = sd[f"{p}._project_conv.weight"].shape[0]
    stage, stride = (stage + 1, None) if out != width else (stage, 1)
    stride = stride or EFFICIENTNET_STAGE_STRIDES[stage]
    width, block_in = out, y
    if f"{p}._expand_conv.weight" in sd:
      y = F.relu6(bn(F.conv2d(y, sd[f"{p}._expand_conv.weight"]), f"{p}._bn0"))
    y = conv_same(y, sd[f"{p}._depthwise_conv.weight"], stride, groups=y.shape[1])
    y = F.relu6(bn(y, f"{p}._bn1"))
    y = bn(F.conv2d(y, sd[f"{p}._project_conv.weight"]), f"{p}._bn2")
    if stride == 1 and y.shape == block_in.shape:
      y = y + block_in
  y = F.relu6(bn(F.conv2d(y, sd["_conv_head.weight"]), "_bn1"))
  return F.linear(y.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])


@pytest.mark.parametrize("architecture,size", [("tf_efficientnet_lite0", 64),
                                               ("tf_efficientnet_lite0", 49),
                                               ("tf_efficientnet_lite1", 64),
                                               ("tf_efficientnet_lite2", 64)])
def test_efficientnet_lite_remap_matches_independent_reference(architecture, size):
  source = weights.read_state_dict(_offline(architecture))
  model = timm.create_model(architecture, num_classes=1000)
  remapped = weights.remap_efficientnet_pytorch(source, model)
  # Every source tensor lands exactly once, on a parameter of the same shape, covering the model.
  assert len(remapped) == len(source) and set(remapped) == set(model.state_dict())
  pointers = sorted(v.data_ptr() for v in remapped.values())
  assert pointers == sorted(v.data_ptr() for v in source.values())
  weights.load_state_dict_checked(model, remapped, architecture)
  x = _batch(size)  # odd sizes exercise TF "same" padding's asymmetric split
  with torch.inference_mode():
    expected, actual = _reference_lite_logits(source, x), model.eval()(x)
  assert expected.abs().max() > 1.0
  torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def test_file_for_another_architecture_is_rejected_with_summary():
  model = timm.create_model("tf_efficientnet_lite0", num_classes=1000)
  with pytest.raises(weights.WeightsMismatchError, match=r"314 of 314 tensors have no place"):
    weights.load_offline(model, "tf_efficientnet_lite0", path=_offline("mobilenetv2_100"))
  wider = timm.create_model("tf_efficientnet_lite2", num_classes=1000)
  with pytest.raises(weights.WeightsMismatchError, match=r"shape mismatches .*file \("):
    weights.load_offline(wider, "tf_efficientnet_lite2", path=_offline("tf_efficientnet_lite1"))


def test_own_checkpoint_for_another_architecture_is_rejected(tmp_path):
  path = tmp_path / "resnet.pth"
  torch.save(timm.create_model("resnet10t", num_classes=0).state_dict(), path)
  model = timm.create_model("convnext_atto", num_classes=0)
  with pytest.raises(weights.WeightsMismatchError, match=r"\d+ missing .* \d+ unexpected"):
    weights.load_pretrained(model, "convnext_atto", str(path))


def test_hub_cache_is_preferred_and_read_without_network(tmp_path, monkeypatch):
  import huggingface_hub.constants
  repo = tmp_path / "models--timm--mobilenetv2_100.ra_in1k"
  (repo / "snapshots" / "r1").mkdir(parents=True)
  (repo / "refs").mkdir()
  (repo / "refs" / "main").write_text("r1")
  cached = timm.create_model("mobilenetv2_100", num_classes=1000)
  torch.save({"state_dict": cached.state_dict()}, repo / "snapshots" / "r1" / "pytorch_model.bin")
  monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
  model = timm.create_model("mobilenetv2_100", num_classes=1000)
  source = weights.load_pretrained(model, "mobilenetv2_100", "timm")
  assert source.startswith("hub-cache:")
  assert weights.state_dict_sha256(model) == weights.state_dict_sha256(cached)


def test_timm_weights_fall_back_to_offline_then_fail_without_download(monkeypatch):
  _offline("mobilenetv2_100")
  monkeypatch.setattr(weights, "hub_cached_file", lambda architecture: None)
  model = timm.create_model("mobilenetv2_100", num_classes=1000)
  assert weights.load_pretrained(model, "mobilenetv2_100", "timm").startswith("offline:")
  monkeypatch.setattr(weights, "offline_weights_path", lambda architecture: None)
  with pytest.raises(FileNotFoundError, match="allow_download"):
    weights.load_pretrained(model, "mobilenetv2_100", "timm")


def test_weights_field_is_checked(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    weights.check_weights_field(str(tmp_path / "missing.pth"))
  with pytest.raises(ValueError, match="weights must be"):
    weights.check_weights_field("imagenet")
  with pytest.raises(ValueError, match="no offline weights"):
    weights.load_offline(timm.create_model("resnet10t"), "resnet10t")


def test_state_dict_sha256_tracks_every_tensor():
  model = timm.create_model("lcnet_050", num_classes=0)
  before = weights.state_dict_sha256(model)
  assert before == weights.state_dict_sha256(model)
  with torch.no_grad():
    model.conv_stem.weight[0, 0, 0, 0] += 1e-6
  assert weights.state_dict_sha256(model) != before
