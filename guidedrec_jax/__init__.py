"""guidedrec_jax: which pre-trained model should I fine-tune? Model selection as recommendation.

The JAX half (scores, recommender, history) never imports torch; the torch half (zoo, data,
finetune) never imports JAX. They meet in files (see ARCHITECTURE.md).
"""

__version__ = "0.1.0"
