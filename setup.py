"""symzoo: a Keras 3 model zoo for symmetry discovery with fully-connected layers."""

import pathlib
import re

from setuptools import Extension, find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "symzoo" / "__init__.py").read_text()
).group(1)

setup(
    name="symzoo",
    version=VERSION,
    description=(
        "Keras 3 model zoo for symmetry discovery: dense layers that learn "
        "invariance and equivariance through parameter-sharing penalties."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # The pretrained models (saved_models/<name>/model.keras + manifest.json) are installed
    # as package data under symzoo/_pretrained/, so weights="pretrained" works from any
    # directory after `pip install .` or from a wheel (symzoo.models.weights.saved_models_dir).
    packages=find_packages(include=["symzoo", "symzoo.*"]) + ["symzoo._pretrained"],
    package_dir={"symzoo._pretrained": "saved_models"},
    package_data={"symzoo._pretrained": ["*/manifest.json", "*/model.keras"]},
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.26",
        "scipy>=1.12",  # isotonic_regression (all-pairs prox), linear_sum_assignment
        "tensorflow>=2.16,<2.22",
        "keras>=3.10,<4",
        "keras-tuner>=1.4.7,<1.5",
        "tensorflow-datasets>=4.9,<5",
        "matplotlib>=3.8",
        "tensorboard>=2.16",
        "importlib_resources>=5",
    ],
    extras_require={
        # setuptools >= 70.1 builds wheels by itself: tests/test_install.py installs the
        # package with `pip install --no-build-isolation` (no index needed) in the test venv.
        "test": ["pytest>=8", "pytest-timeout>=2", "setuptools>=70.1"],
        "jax": ["jax>=0.4.30"],
        "torch": ["torch>=2.4"],
        "bayesian": ["scikit-learn>=1.3"],
    },
    # Two plain C extensions (no numpy headers), both optional: the all-pairs penalty's
    # radix sort (symzoo/regularizers/_radix.c; without it symzoo/regularizers/_sorting.py
    # uses numpy) and the host passes of the penalties' fast paths (symzoo/regularizers/
    # _penalty_kernels.c: OffsetSharing's stencil, L1Sparsity's signs and Σ|θ|,
    # SigmoidSparsity's σ(kθ) and Σσ; without it XLA programs do that work). Same results, slower.
    ext_modules=[
        Extension(
            "symzoo.regularizers._radix",
            ["symzoo/regularizers/_radix.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "symzoo.regularizers._penalty_kernels",
            ["symzoo/regularizers/_penalty_kernels.c"],
            # No FP traps are watched for, so the sigmoid's selects vectorise
            # (the same values).
            extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno"],
            optional=True,
        ),
    ],
    entry_points={"console_scripts": ["symzoo=symzoo.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
