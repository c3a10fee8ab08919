"""Tests of one fine-tuning job (`guidedrec_jax.finetune.train`)."""

import math

import numpy as np
import pytest
import torch

from guidedrec_jax.finetune import HyperParams, InputSpec, finetune, split_train_val
from guidedrec_jax.finetune.train import preprocess
from tests.finetune import fixtures

SPEC = InputSpec(16)


def _splits(name="rgb4"):
  return split_train_val(fixtures.datasets()[name], num_train=120, num_val=40, seed=0)


def _run(seed, hparams=HyperParams(lr=0.05, epochs=3, batch_size=16), name="rgb4", **kwargs):
  train, val = _splits(name)
  torch.manual_seed(seed)
  model = fixtures.tiny_cnn("cnn_wide", train.num_classes, False)
  return finetune(model, train, val, hparams, SPEC, seed=seed, device="cpu", **kwargs)


def test_learns_and_reports_best_epoch():
  result = _run(0, HyperParams(lr=0.1, epochs=6, batch_size=16, weight_decay=1e-4))
  assert result.top1 >= 80.0, result  # chance is 25 %
  assert len(result.val_top1_per_epoch) == 6
  assert result.top1 == max(result.val_top1_per_epoch)
  assert result.val_top1_per_epoch[result.best_epoch - 1] == result.top1
  assert math.isfinite(result.final_train_loss) and result.final_train_loss < math.log(4)
  assert result.device == "cpu" and result.wall_s > 0 and not result.diverged


def test_deterministic_given_seed():
  first, again, other = _run(3), _run(3), _run(4)
  assert first.val_top1_per_epoch == again.val_top1_per_epoch
  assert first.final_train_loss == again.final_train_loss
  assert other.final_train_loss != first.final_train_loss


def test_augmentation_and_adamw_are_deterministic_too():
  hparams = HyperParams(lr=3e-3, epochs=2, batch_size=16, optimizer="adamw", augment=True)
  first, again = _run(1, hparams), _run(1, hparams)
  assert first.final_train_loss == again.final_train_loss
  assert first.final_train_loss != _run(1, HyperParams(lr=3e-3, epochs=2, batch_size=16,
                                                       optimizer="adamw")).final_train_loss


def test_preprocess_resizes_and_expands_grey():
  grey = fixtures.datasets()["grey3"]
  x = preprocess(grey, 16, torch.device("cpu"))
  assert x.shape == (len(grey), 3, 16, 16) and x.dtype == torch.uint8
  assert torch.equal(x[:, 0], x[:, 2])
  first4 = grey.replace(images=grey.images[:4], labels=grey.labels[:4])
  same = preprocess(first4, 20, torch.device("cpu"))
  assert np.array_equal(same[:, 1].numpy(), grey.images[:4, :, :, 0])  # no resize: exact


def test_greyscale_dataset_trains():
  assert _run(0, HyperParams(lr=0.1, epochs=4, batch_size=16), name="grey3").top1 > 60.0


def test_divergence_stops_training():
  result = _run(0, HyperParams(lr=1e6, epochs=3, batch_size=16))
  assert result.diverged and len(result.val_top1_per_epoch) < 3
  assert math.isnan(result.final_train_loss) and 0.0 <= result.top1 <= 100.0


def test_saves_best_weights(tmp_path):
  path = tmp_path / "w" / "cnn.pt"
  _run(0, HyperParams(lr=0.05, epochs=2, batch_size=16), save_path=path)
  state = torch.load(path)
  model = fixtures.tiny_cnn("cnn_wide", 4, False)
  model.load_state_dict(state)
  assert not list(path.parent.glob(".*.tmp"))


def test_timm_model_at_32px():
  import timm  # a dependency: a missing one fails
  train, val = _splits()
  model = timm.create_model("test_resnet", pretrained=False, num_classes=train.num_classes)
  result = finetune(model, train, val, HyperParams(lr=0.01, epochs=1, batch_size=32),
                    InputSpec(32), seed=0, device="cpu")
  assert 0.0 <= result.top1 <= 100.0 and result.best_epoch == 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0), "lr"), (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(lr=0.1, weight_decay=-1.0), "weight_decay"), (dict(lr=0.1, epochs=0), "epochs"),
    (dict(lr=0.1, batch_size=1), "batch_size"), (dict(lr=0.1, optimizer="rmsprop"), "optimizer"),
])
def test_bad_hyper_parameters(kwargs, match):
  with pytest.raises(ValueError, match=match):
    HyperParams(**kwargs)


def test_bad_inputs():
  train, val = _splits()
  model = fixtures.tiny_cnn("cnn_narrow", 4, False)
  hparams = HyperParams(lr=0.1)
  with pytest.raises(ValueError, match="classes"):
    finetune(model, train, val.replace(class_names=("a", "b")), hparams, SPEC, 0, "cpu")
  with pytest.raises(ValueError, match="uint8"):
    finetune(model, train.replace(images=train.images.astype(np.float32)), val,
             hparams, SPEC, 0, "cpu")
  with pytest.raises(ValueError, match="images"):
    finetune(model, train, val.replace(images=val.images[:3]), hparams, SPEC, 0, "cpu")
  with pytest.raises(ValueError, match="input_size"):
    InputSpec(4)
