import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
MNIST_DIR = pathlib.Path(
    os.environ.get("SYMZOO_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist")
)


@pytest.fixture
def mnist_dir():
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST IDX files not found at {MNIST_DIR}")
    return str(MNIST_DIR)


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)
    yield
