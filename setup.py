"""guidedrec_jax: model selection as recommendation (Li et al., CVPR 2023) in JAX + PyTorch."""

import setuptools

CORE = [
    "jax>=0.10", "jaxlib>=0.10", "optax>=0.2.8", "flax>=0.12.8", "ml-collections>=1.1",
    "absl-py>=2.1", "numpy>=2.0", "scipy>=1.13", "pandas>=2.2", "matplotlib>=3.9", "tqdm>=4.66",
    "scikit-learn>=1.5",  # the recommender's trees (recommender/trees.py)
]
# The PyTorch half. torch/torchvision are pinned as a pair: pip's cap on this kind of machine
# allows torch<=2.14.1, and only this pair has a working torchvision build here.
TORCH = ["torch==2.14.1", "torchvision==0.29.1", "timm>=1.0.15"]
DATA = ["tensorflow-datasets>=4.9.6"]
RAY = ["ray>=2.40"]
TEST = ["pytest>=8"]

setuptools.setup(
    name="guidedrec_jax",
    version="0.1.0",
    description="Which pre-trained model should I fine-tune? Model selection as recommendation.",
    packages=setuptools.find_packages(include=["guidedrec_jax", "guidedrec_jax.*", "configs"]),
    package_data={"guidedrec_jax.cost": ["throughput.csv"]},
    python_requires=">=3.11",
    install_requires=CORE,
    extras_require={
        "torch": TORCH,
        "data": DATA,
        "ray": RAY,
        "test": TEST,
        "all": TORCH + DATA + RAY,
        "dev": TORCH + DATA + RAY + TEST,
    },
)
