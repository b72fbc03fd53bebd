"""TensorFlow Datasets builders wrapping the numpy generators.

Not imported by ``symzoo.datasets`` (TFDS is slow to import); use::

    from symzoo.datasets import tfds_builders
    builder = tfds_builders.SetSum(config="small", data_dir="/tmp/tfds")
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train", as_supervised=True)

Importing this module registers the builders with TFDS under the names
``set_sum``, ``blob1d``, ``blob2d``, ``padded_mnist`` and ``graph_degree``
(so e.g. ``tfds.load("set_sum/small")`` works after the import).
Each builder has two configs: ``"default"`` (the report's sizes) and
``"small"`` (a few hundred examples, for quick checks). A custom config is
``tfds_builders.SymzooConfig(name=..., kwargs={...})`` with any keyword
arguments of the generator (including ``seed``).

`PaddedMnist` needs the MNIST IDX files in the manual download directory
(``<data_dir>/downloads/manual`` unless
``download_config=tfds.download.DownloadConfig(manual_dir=...)`` is given).
"""

import dataclasses
import inspect

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import utils as _tfds_utils

from symzoo.datasets import blobs, graphs, mnist
from symzoo.datasets.set_sum import set_sum as _set_sum

_VERSION = tfds.core.Version("1.0.0")
_RELEASE_NOTES = {"1.0.0": "Initial release."}


@dataclasses.dataclass
class SymzooConfig(tfds.core.BuilderConfig):
    """A builder config: keyword arguments for the numpy generator."""

    kwargs: dict = dataclasses.field(default_factory=dict)


class _SymzooBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Common plumbing: generate the `Splits` once, yield its examples."""

    VERSION = _VERSION
    RELEASE_NOTES = _RELEASE_NOTES
    _generator = None  # staticmethod returning a Splits
    _defaults = {}  # generator defaults the feature shapes depend on
    _num_classes = None  # None for regression targets

    @_tfds_utils.classproperty
    @classmethod
    def code_path(cls):
        # The file defining the builder (where TFDS looks for a checksums
        # file; there is none). TFDS's own lookup goes through the package
        # `importlib_resources`, which its requirements do not always pull in.
        return epath.Path(inspect.getfile(cls))

    def _kwargs(self):
        return {**self._defaults, **self.builder_config.kwargs}

    def _x_shape(self, kw):
        raise NotImplementedError

    def _y_feature(self, kw):
        if self._num_classes is not None:
            return tfds.features.ClassLabel(num_classes=self._num_classes)
        raise NotImplementedError

    def _info(self):
        kw = self._kwargs()
        return tfds.core.DatasetInfo(
            builder=self,
            description=inspect.cleandoc(type(self)._generator.__doc__ or "").split("Args:")[0].strip(),
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=self._x_shape(kw), dtype=np.float32),
                    "y": self._y_feature(kw),
                }
            ),
            supervised_keys=("x", "y"),
        )

    def _make_splits(self, dl_manager):
        return type(self)._generator(**self.builder_config.kwargs)

    def _split_generators(self, dl_manager):
        data = self._make_splits(dl_manager)
        return {
            split: self._generate_examples(*data[split])
            for split in ("train", "val", "test")
        }

    def _generate_examples(self, x, y):
        for i in range(len(x)):
            yield i, {"x": x[i], "y": y[i]}


def _configs(small):
    return [
        SymzooConfig(name="default", description="The report's split sizes."),
        SymzooConfig(name="small", description="A small version for quick checks.", kwargs=small),
    ]


class SetSum(_SymzooBuilder):
    """Set-sum regression (`symzoo.datasets.set_sum`)."""

    name = "set_sum"
    _generator = staticmethod(_set_sum)
    _defaults = {"set_size": 10}
    BUILDER_CONFIGS = _configs({"sizes": (200, 50, 50)})

    def _x_shape(self, kw):
        return (kw["set_size"],)

    def _y_feature(self, kw):
        return tfds.features.Tensor(shape=(1,), dtype=np.float32)


class Blob1D(_SymzooBuilder):
    """1-D blob classification (`symzoo.datasets.blob1d`)."""

    name = "blob1d"
    _generator = staticmethod(blobs.blob1d)
    _defaults = {"length": 10}
    _num_classes = blobs.BLOB1D_CLASSES
    BUILDER_CONFIGS = _configs({"sizes": (500, 100, 100)})

    def _x_shape(self, kw):
        return (kw["length"],)


class Blob2D(_SymzooBuilder):
    """2-D blob classification (`symzoo.datasets.blob2d`)."""

    name = "blob2d"
    _generator = staticmethod(blobs.blob2d)
    _defaults = {"size": 10}
    _num_classes = blobs.BLOB2D_CLASSES
    BUILDER_CONFIGS = _configs({"sizes": (300, 60, 60)})

    def _x_shape(self, kw):
        return (kw["size"], kw["size"])


class GraphDegree(_SymzooBuilder):
    """Node-degree regression on random graphs (`symzoo.datasets.graph_degree`)."""

    name = "graph_degree"
    _generator = staticmethod(graphs.graph_degree)
    _defaults = {"num_nodes": 10}
    BUILDER_CONFIGS = _configs({"num_graphs": 100})

    def _x_shape(self, kw):
        return (kw["num_nodes"], kw["num_nodes"])

    def _y_feature(self, kw):
        return tfds.features.Tensor(shape=(kw["num_nodes"],), dtype=np.float32)


class PaddedMnist(_SymzooBuilder):
    """Padded MNIST (`symzoo.datasets.padded_mnist`), from manually placed IDX files."""

    name = "padded_mnist"
    _generator = staticmethod(mnist.padded_mnist)
    _defaults = {"canvas": 56}
    _num_classes = 10
    BUILDER_CONFIGS = _configs({"sizes": (500, 100, 100)})
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Place the four MNIST IDX files "
        + ", ".join(f"`{f}`" for f in mnist.MNIST_FILES)
        + " (each plain or gzipped with a `.gz` suffix) in the manual directory "
        "(`<data_dir>/downloads/manual/` by default, or the `manual_dir` of "
        "`tfds.download.DownloadConfig`)."
    )

    def _x_shape(self, kw):
        return (kw["canvas"], kw["canvas"])

    def _make_splits(self, dl_manager):
        return mnist.padded_mnist(
            data_dir=str(dl_manager.manual_dir), **self.builder_config.kwargs
        )
