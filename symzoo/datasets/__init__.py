"""Synthetic and MNIST-based data sets with known symmetries.

Every generator returns a `Splits` (train/val/test tuples of numpy arrays)
and is deterministic given ``seed``:

* `set_sum`: sum of a set of numbers (permutation invariance);
* `blob1d`, `blob2d`: blob classification (cyclic translation invariance);
* `padded_mnist`: MNIST digits at random positions (translation invariance);
* `graph_degree`: node degrees of random graphs (permutation equivariance);
* `torus_mnist`: 14×14 MNIST digits rolled cyclically on a torus, optionally
  with a fixed shuffle of the pixels (cyclic translation invariance).

>>> from symzoo import datasets
>>> data = datasets.load("set_sum", seed=0, sizes=(100, 10, 10))
>>> ds = data.as_tf_dataset("train", batch_size=32)

Only numpy is imported here; TensorFlow is imported when a ``tf.data``
dataset is requested. TFDS builders live in a separate module that is not
imported by default: ``from symzoo.datasets import tfds_builders``.
"""

from symzoo import _validation
from symzoo.datasets.blobs import blob1d, blob2d
from symzoo.datasets.graphs import graph_degree
from symzoo.datasets.mnist import MNIST_FILES, load_mnist, padded_mnist
from symzoo.datasets.set_sum import set_sum
from symzoo.datasets.splits import Splits, to_tf_dataset
from symzoo.datasets.torus import torus_mnist

_GENERATORS = {
    "set_sum": set_sum,
    "blob1d": blob1d,
    "blob2d": blob2d,
    "padded_mnist": padded_mnist,
    "graph_degree": graph_degree,
    "torus_mnist": torus_mnist,
}
NAMES = tuple(_GENERATORS)


def load(name, **kwargs):
    """Generates the data set ``name`` (one of `NAMES`) with keyword arguments
    passed to its generator, e.g. ``load("blob1d", seed=1, noise=0.0)``."""
    _validation.one_of("name", name, NAMES)
    return _GENERATORS[name](**kwargs)


__all__ = [
    "NAMES",
    "MNIST_FILES",
    "Splits",
    "blob1d",
    "blob2d",
    "graph_degree",
    "load",
    "load_mnist",
    "padded_mnist",
    "set_sum",
    "to_tf_dataset",
    "torus_mnist",
]
