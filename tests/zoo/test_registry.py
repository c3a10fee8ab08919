"""Zoo registry: lookups, registration of our own checkpoints, seeded inits, measured size."""

import subprocess
import sys

import pytest
import safetensors.torch
import timm
import torch

from guidedrec_jax.zoo import registry, weights

torch.set_num_threads(1)


@pytest.fixture
def registered():
  """Registers specs for one test and removes them afterwards."""
  names = []

  def register(spec):
    names.append(spec.name)
    return registry.register_model(spec)

  yield register
  for name in names:
    registry.unregister_model(name)


def test_micro_zoo_is_registered_with_timm_normalisation():
  assert set(registry.MICRO_ZOO) <= set(registry.list_models())
  assert len(registry.MICRO_ZOO) >= 8
  assert registry.list_models("in1k") == ["mobilenetv2_100", "tf_efficientnet_lite0",
                                          "tf_efficientnet_lite1", "tf_efficientnet_lite2"]
  lite2 = registry.get_spec("tf_efficientnet_lite2")
  assert (lite2.input_size, lite2.mean, lite2.std) == (260, (0.5,) * 3, (0.5,) * 3)
  assert registry.get_spec("mobilenetv2_100").mean == timm.data.IMAGENET_DEFAULT_MEAN
  assert {registry.get_spec(n).family for n in registry.MICRO_ZOO} >= {
      "mobilenet", "efficientnet", "resnet", "convnext", "regnet", "vit", "mobilevit"}


def test_unknown_names_list_close_matches():
  with pytest.raises(ValueError, match=r"model_name 'mobilenetv2_10' .*'mobilenetv2_100'"):
    registry.get_spec("mobilenetv2_10")
  with pytest.raises(ValueError, match=r"model_name 'convnext_ato'.*convnext_atto"):
    registry.create_model("convnext_ato")
  with pytest.raises(ValueError, match=r"spec.architecture 'resnet10x'.*resnet10t"):
    registry.register_model(registry.ModelSpec("x", "resnet10x", "resnet", "random"))


def test_bad_specs_are_rejected(tmp_path):
  spec = registry.ModelSpec("bad/name", "resnet10t", "resnet", "random")
  with pytest.raises(ValueError, match="spec.name"):
    registry.register_model(spec)
  with pytest.raises(ValueError, match="already registered"):
    registry.register_model(registry.ModelSpec("resnet10t", "resnet10t", "resnet", "random"))
  with pytest.raises(ValueError, match="does not exist"):
    registry.register_model(registry.ModelSpec("r", "resnet10t", "resnet", "cifar10",
                                               weights=str(tmp_path / "nothing.pth")))
  with pytest.raises(ValueError, match="contradicts"):
    registry.register_model(registry.ModelSpec("r", "resnet10t", "resnet", "cifar10"))
  with pytest.raises(ValueError, match="timm_kwargs"):
    registry.register_model(registry.ModelSpec("r", "resnet10t", "resnet", "random",
                                               timm_kwargs={"num_classes": 3}))
  with pytest.raises(ValueError, match="num_classes"):
    registry.create_model("resnet10t", num_classes=-1)
  assert "r" not in registry.list_models()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_locally_pretrained_checkpoint_round_trips(tmp_path, registered, suffix):
  trained = timm.create_model("resnet10t", num_classes=5)
  path = tmp_path / f"resnet10t_src{suffix}"
  if suffix == ".pth":
    torch.save(trained.state_dict(), path)
  else:
    safetensors.torch.save_file({k: v.contiguous() for k, v in trained.state_dict().items()}, path)
  register = registered(registry.ModelSpec("resnet10t.src-test", "resnet10t", "resnet", "test_task",
                                           weights=str(path), input_size=32, num_source_classes=5))
  assert register.mean == timm.data.IMAGENET_DEFAULT_MEAN
  loaded = registry.create_model("resnet10t.src-test")
  assert weights.state_dict_sha256(loaded) == weights.state_dict_sha256(trained)
  finetune = registry.create_model("resnet10t.src-test", num_classes=3)
  assert finetune.get_classifier().out_features == 3
  torch.testing.assert_close(finetune.conv1[0].weight, trained.conv1[0].weight)
  scratch = registry.create_model("resnet10t.src-test", pretrained=False)
  assert not torch.equal(scratch.conv1[0].weight, trained.conv1[0].weight)


def test_random_init_is_seeded():
  first, again = registry.create_model("convnext_atto"), registry.create_model("convnext_atto")
  other = registry.create_model("convnext_atto", seed=1)
  assert weights.state_dict_sha256(first) == weights.state_dict_sha256(again)
  assert weights.state_dict_sha256(first) != weights.state_dict_sha256(other)
  assert first.num_classes == 0 and not first.training


def test_pretrained_model_keeps_imagenet_head_unless_replaced():
  model = registry.create_model("mobilenetv2_100")
  assert model.num_classes == 1000
  head = registry.create_model("mobilenetv2_100", num_classes=7)
  assert head.num_classes == 7
  torch.testing.assert_close(head.conv_stem.weight, model.conv_stem.weight)


def test_gmacs_match_published_and_hand_counts():
  # MobileNetV2 1.0 at 224: 300M multiply-adds (Sandler et al. 2018, table 4).
  assert registry.model_meta("mobilenetv2_100").gmacs == pytest.approx(0.300, rel=0.01)
  # ViT-Tiny, 32 px, 8-px patches: 16 patches + class token, width 192, 12 blocks, MLP x4.
  tokens, width = 17, 192
  per_block = tokens * (3 * width * width + width * width + 2 * width * 4 * width)
  per_block += 2 * tokens * tokens * width  # q @ k^T and attn @ v: counted only if unfused
  patch_embed = 16 * (8 * 8 * 3) * width
  assert registry.model_meta("vit_tiny_patch8_32").gmacs * 1e9 == pytest.approx(
      12 * per_block + patch_embed, rel=1e-6)
  meta = registry.model_meta("resnet10t")
  assert meta.input_size == 32 and 0 < meta.params_m < 10


def test_model_columns_follow_history_schema():
  columns = registry.model_columns("tf_efficientnet_lite0")
  assert set(columns) == {"family", "input_size", "params_m", "gmacs", "pretrain_domain"}
  assert columns["pretrain_domain"] == "in1k" and columns["input_size"] == 224
  # Conv/linear MACs of Lite0 at 224 as PyTorch reimplementations count them: 0.385 G with the
  # 1.3 M-MAC head (TF's table says 407 M "MAdds", counting elementwise ops too).
  assert columns["gmacs"] == pytest.approx(0.385, rel=0.01)


def test_the_torch_half_never_imports_jax():
  # ARCHITECTURE.md: zoo/, data/, finetune/ and the torch children's modules import no JAX.
  modules = ("guidedrec_jax.zoo", "guidedrec_jax.zoo.extract", "guidedrec_jax.data",
             "guidedrec_jax.data.registry", "guidedrec_jax.finetune",
             "guidedrec_jax.finetune.bench", "guidedrec_jax.benchmark.torch_stages",
             "guidedrec_jax.benchmark.torch_common", "guidedrec_jax.benchmark.user_torch",
             "guidedrec_jax.benchmark.layout")
  code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
          "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jax'))")
  done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                        text=True)
  assert done.stdout.strip() == "[]"
