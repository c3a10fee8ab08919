"""The model zoo (torch half): registry and meta features, pre-trained weights, features.

`registry` says which models exist and where their weights come from, `weights` loads them
(including offline ImageNet copies remapped into timm), `extract` writes the feature cache that
the JAX half scores. Never imports JAX.
"""

from guidedrec_jax.zoo.extract import extract_features, feature_cache_path
from guidedrec_jax.zoo.registry import (MICRO_ZOO, ModelMeta, ModelSpec, create_model, get_spec,
                                        input_spec, list_models, model_columns, model_meta,
                                        register_model, unregister_model)
from guidedrec_jax.zoo.weights import WeightsMismatchError, state_dict_sha256

__all__ = [
    "MICRO_ZOO", "ModelMeta", "ModelSpec", "WeightsMismatchError", "create_model",
    "extract_features", "feature_cache_path", "get_spec", "input_spec", "list_models",
    "model_columns", "model_meta", "register_model", "state_dict_sha256", "unregister_model",
]
