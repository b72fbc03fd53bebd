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


@pytest.fixture
def run_on_backend():
    """``run(script, backend)``: runs a Python script in a fresh interpreter with
    ``KERAS_BACKEND=backend`` (skipped when that backend is not installed) and
    asserts that it exits 0 and prints ``OK <backend>``."""
    import subprocess
    import sys

    def run(script, backend):
        pytest.importorskip(backend)
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO)}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, timeout=300, cwd=REPO)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"OK {backend}" in result.stdout

    return run
