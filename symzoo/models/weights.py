"""Weights resolution for the zoo's ``weights=`` argument, and weight manifests.

``weights`` is one of:

* ``None``: random initialisation;
* ``"pretrained"``: the model saved in ``saved_models/<name>/`` (see
  `saved_models_dir`; installed with the package as ``symzoo/_pretrained/``):
  its ``manifest.json`` lists every file with its sha256; the file that is
  read, ``model.keras``, is checked before it is loaded;
* a path to a ``.keras`` or ``.weights.h5`` file: the weights are loaded into
  the architecture built from the constructor's hyperparameters.

A pretrained directory is produced by ``symzoo reproduce NAME --write-repo``
(``model.keras`` + ``manifest.json``, one copy of the weights) or ``symzoo
export``, which save ``model.keras`` (and any other files) there and then call
`write_manifest`. ``symzoo export NAME --pretrained --out DIR`` writes a
plain-TensorFlow SavedModel of a pretrained model on demand.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Optional

MANIFEST = "manifest.json"
#: The installed copy of the repository's ``saved_models/`` (setup.py's package_dir).
INSTALLED_DIR = "_pretrained"
MODEL_FILE = "model.keras"
ENV_VAR = "SYMZOO_SAVED_MODELS"
MANIFEST_FORMAT = 1
_RESERVED = ("name", "format", "files")
_SUFFIXES = (".keras", ".weights.h5")


class ChecksumError(ValueError):
    """A file of a pretrained model does not match its manifest's sha256."""


@dataclasses.dataclass(frozen=True)
class WeightsSource:
    """The validated ``weights`` argument.

    ``kind`` is ``"none"``, ``"pretrained"`` (``path`` is the model's
    directory, ``manifest`` its verified manifest) or ``"path"`` (``path`` is
    the ``.keras`` / ``.weights.h5`` file).
    """

    kind: str
    path: Optional[pathlib.Path] = None
    manifest: Optional[dict] = dataclasses.field(default=None, compare=False, hash=False)


def saved_models_dir():
    """The root of the pretrained models, the first of:

    1. ``$SYMZOO_SAVED_MODELS`` if set;
    2. ``symzoo/_pretrained/`` inside the installed package: ``pip install .``
       (or a wheel) installs the repository's ``saved_models/`` there (package
       data, see setup.py), so ``weights="pretrained"`` works from any
       directory after a non-editable install;
    3. the repository's ``saved_models/`` next to the ``symzoo`` package (a
       source checkout or an editable install).

    Only read from: nothing is ever written next to the installed package.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return pathlib.Path(env).expanduser()
    import symzoo

    package = pathlib.Path(symzoo.__file__).resolve().parent
    installed = package / INSTALLED_DIR
    if installed.is_dir():
        return installed
    return package.parent / "saved_models"


def pretrained_dir(name):
    """``saved_models_dir() / name``: where ``weights="pretrained"`` looks."""
    return saved_models_dir() / name


def sha256_file(path, chunk_size=1 << 20):
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _bad_weights(weights, detail=""):
    return ValueError(
        "Expected weights to be None, 'pretrained' or a path. "
        f"Received: weights={weights!r}{detail}"
    )


def resolve(weights, name):
    """Validates ``weights`` for the zoo model ``name``; returns a `WeightsSource`.

    Raises:
        ValueError: ``weights`` is not None, ``"pretrained"`` or a path to a
            ``.keras`` / ``.weights.h5`` file.
        FileNotFoundError: the path, or the pretrained manifest, or a file the
            manifest lists, does not exist.
        ChecksumError: a pretrained file does not match its sha256.
    """
    if weights is None:
        return WeightsSource("none")
    if not isinstance(weights, (str, os.PathLike)):
        raise _bad_weights(weights)
    text = os.fspath(weights)
    if not isinstance(text, str):  # a bytes path
        raise _bad_weights(weights)
    if text == "pretrained":
        directory = pretrained_dir(name)
        manifest = read_manifest(directory, name)
        if MODEL_FILE not in manifest["files"]:
            raise FileNotFoundError(
                f"The manifest {directory / MANIFEST} of {name!r} does not list "
                f"{MODEL_FILE!r}. Re-create the directory with `symzoo reproduce "
                f"{name}` or `symzoo export`."
            )
        # Hash only what is read: model.keras (not, e.g., an exported SavedModel).
        manifest = verify_manifest(directory, name=name, only=[MODEL_FILE])
        return WeightsSource("pretrained", directory, manifest)
    if not text.endswith(_SUFFIXES):
        raise _bad_weights(
            weights, " (a path must end in '.keras' or '.weights.h5')"
        )
    path = pathlib.Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected `weights` to be an existing .keras or .weights.h5 file. "
            f"Received: weights={weights!r}, and no file exists at {path}."
        )
    return WeightsSource("path", path)


def _json_default(value):
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "get_config"):  # e.g. a penalty passed as a hyperparameter
        import keras

        return keras.saving.serialize_keras_object(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: ``sharing`` of the zoo models whose symmetry is built into the architecture.
_BUILT_IN_SHARING = {
    "cnn1d": "convolution",
    "cnn2d": "convolution",
    "mnist_cnn": "convolution",
    "torus_mnist_cnn": "convolution",
    "deepsets": "deepsets",
    "gcn": "message_passing",
    "gin": "message_passing",
}


def _penalty_name(penalty):
    """snake_case name of a sharing penalty (object, serialized dict or class name)."""
    import re

    if isinstance(penalty, dict):
        penalty = penalty.get("class_name") or penalty.get("config", {}).get("name") or "penalty"
    elif not isinstance(penalty, str):
        penalty = type(penalty).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", penalty).lower()


def model_facts(name, hyperparameters=None):
    """The ``task`` and ``sharing`` manifest fields of the zoo model `name`.

    ``task`` is the model's data set (``spec(name).dataset``, e.g. ``"padded_mnist"``);
    ``sharing`` says what ties its weights: ``"none"``; ``"offset_diagonal"`` /
    ``"offset_complete"`` (`OffsetSharing` with λ > 0 and that ``sharing_form``; the
    diagonal form when a manifest predates ``sharing_form``); the snake_case class name of
    a ``sharing`` penalty (e.g. ``"pairwise_sharing"``; ``"all_pairs_prox"`` for one
    trained with exact proximal steps); or the architecture's own
    (``"convolution"``, ``"deepsets"``, ``"message_passing"``).

    Args:
        name: a zoo model name.
        hyperparameters: the model's hyperparameters (default: the spec's).
    Returns:
        ``{"task": ..., "sharing": ...}``, or ``{}`` when `name` is no zoo model.
    """
    from symzoo.models import registry

    try:
        spec = registry.spec(name)
    except ValueError:
        return {}
    hp = {**spec.hyperparameters, **dict(hyperparameters or {})}
    if name in _BUILT_IN_SHARING:
        sharing = _BUILT_IN_SHARING[name]
    elif "offsets" in hp:
        form = hp.get("sharing_form") or "diagonal"
        sharing = ("orbit_prox" if form == "orbit" else "offset_" + form) if hp.get("lam") else "none"
    elif "prox" in hp:  # torus_mnist_fc: the all-pairs penalty, prox or subgradient
        sharing = ("all_pairs_prox" if hp["prox"] else "pairwise_sharing") if hp.get("lam") else "none"
    elif hp.get("sharing") is not None:
        sharing = _penalty_name(hp["sharing"])
    else:
        sharing = "none"
    return {"task": spec.dataset, "sharing": sharing}


def add_model_facts(directory):
    """Re-writes ``directory/manifest.json`` with `model_facts` filled in.

    The model files are not touched (their sha256 are recomputed and must equal the
    manifest's: `verify_manifest` runs first). Fields the manifest already has are kept.
    Returns the new manifest.
    """
    manifest = verify_manifest(directory)
    extra = {k: v for k, v in manifest.items() if k not in _RESERVED}
    return write_manifest(directory, manifest["name"], extra)


def write_manifest(directory, name, extra=None):
    """Writes ``directory/manifest.json`` listing every file under ``directory``.

    Every file (recursively, except ``manifest.json`` itself) is listed by its
    POSIX path relative to ``directory`` with its sha256 and size in bytes.

    Args:
        directory: the model's directory (e.g. ``saved_models/<name>/``).
        name: the zoo name of the model saved there.
        extra: optional JSON-serialisable dict stored at the top level of the
            manifest, e.g. ``{"hyperparameters": ..., "metrics": ..., "seed": 0}``;
            ``weights="pretrained"`` builds with ``extra["hyperparameters"]``
            when new hyperparameters are given. Keys ``name``, ``format`` and
            ``files`` are reserved. For a zoo model `name`, ``task`` and
            ``sharing`` default to `model_facts` (from
            ``extra["hyperparameters"]``).

    Returns:
        The manifest as a dict.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Expected `directory` to be an existing directory. Received: "
            f"directory={str(directory)!r}"
        )
    if not isinstance(name, str) or not name:
        raise ValueError(f"Expected `name` to be a non-empty string. Received: name={name!r}")
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(
            f"Expected `extra` not to use the reserved keys {list(_RESERVED)}. "
            f"Received: extra with keys {clash}"
        )
    files = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if rel == MANIFEST or not path.is_file():
            continue
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    if not files:
        raise FileNotFoundError(
            f"Expected {directory} to hold the saved model files. Received: an empty "
            f"directory; save the model there (e.g. model.save('{directory / MODEL_FILE}')) first."
        )
    extra = {**model_facts(name, extra.get("hyperparameters")), **extra}
    manifest = {"name": name, "format": MANIFEST_FORMAT, **extra, "files": files}
    text = json.dumps(manifest, indent=2, sort_keys=True, default=_json_default)
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)
    return json.loads(text)


def _missing_manifest(directory, name):
    name = name or directory.name
    from symzoo.errors import MissingWeightsError

    return MissingWeightsError(
        f"No pretrained weights for {name!r}: {directory / MANIFEST} does not exist. "
        f"Produce them with `symzoo reproduce {name}` (trains the model and saves it in "
        f"./runs/reproduce/saved_models/{name}/; `--write-repo` from the repository root "
        f"writes saved_models/{name}/) or save a trained model with `symzoo export` into "
        f"{directory}; or set {ENV_VAR} to a directory that holds {name}/{MANIFEST}."
    )


def read_manifest(directory, name=None):
    """Reads ``directory/manifest.json`` without checking the files."""
    directory = pathlib.Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise _missing_manifest(directory, name)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"The manifest {path} is not valid JSON: {e}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()
    ):
        raise ValueError(
            f"The manifest {path} is malformed: expected a 'files' mapping of "
            "relative paths to {'sha256': ...}. Re-create it with `write_manifest`."
        )
    return manifest


def verify_manifest(directory, name=None, only=None):
    """Checks the files listed in ``directory/manifest.json``; returns the manifest.

    Args:
        directory: the model's directory.
        name: optional zoo name; when given, the manifest's ``name`` must match.
        only: optional list of relative paths: check these (each must be
            listed) instead of every listed file, so a loader hashes only the
            files it reads.

    Raises:
        FileNotFoundError: no manifest, or a listed file is missing.
        ChecksumError: a listed file's sha256 differs from the manifest's.
        ValueError: the manifest is malformed, names another model, or lists a
            path outside ``directory``.
    """
    directory = pathlib.Path(directory)
    manifest = read_manifest(directory, name)
    if name is not None and manifest.get("name") != name:
        raise ValueError(
            f"The manifest {directory / MANIFEST} is for model "
            f"{manifest.get('name')!r}, not {name!r}."
        )
    root = directory.resolve()
    listed = manifest["files"]
    if only is not None:
        missing = [rel for rel in only if rel not in listed]
        if missing:
            raise FileNotFoundError(
                f"The manifest {directory / MANIFEST} does not list {missing}. Re-create "
                "the directory with `symzoo reproduce` or `symzoo export`."
            )
        listed = {rel: listed[rel] for rel in only}
    for rel, entry in sorted(listed.items()):
        path = (directory / rel).resolve()
        if root != path and root not in path.parents:
            raise ValueError(
                f"The manifest {directory / MANIFEST} lists {rel!r}, which is outside "
                f"{directory}."
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"{directory / rel} is listed in {directory / MANIFEST} but does not "
                "exist. Re-create the directory with `symzoo reproduce` or `symzoo export`."
            )
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise ChecksumError(
                f"Checksum mismatch for {directory / rel}: expected sha256 "
                f"{entry['sha256']}, got {actual}. The file is corrupted or changed "
                f"after {MANIFEST} was written; re-create it with `symzoo reproduce` "
                "or `symzoo export`."
            )
    return manifest


def _shape(shape):
    return tuple(None if d is None else int(d) for d in shape)


def load_pretrained(name, source, input_shape, output_shape):
    """Loads ``model.keras`` of a resolved pretrained `WeightsSource`.

    Checks that it is a `SymzooModel` named ``name`` with the zoo entry's
    input and output shapes (without the batch axis).

    Returns:
        ``(model, manifest)``; the model is not compiled.
    """
    import keras

    from symzoo import layers
    from symzoo.models.symzoo_model import SymzooModel

    layers.register_all()

    path = source.path / MODEL_FILE
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # keras raises many types for a bad archive
        raise ValueError(f"Could not load the pretrained {name!r} from {path}: {e}") from e
    problems = []
    if not isinstance(model, SymzooModel):
        problems.append(f"it is a {type(model).__name__}, not a SymzooModel")
    if getattr(model, "name", None) != name:
        problems.append(f"it is named {getattr(model, 'name', None)!r}, not {name!r}")
    try:
        got_in = _shape(model.input_shape[1:])
        got_out = _shape(model.output_shape[1:])
    except (AttributeError, ValueError, TypeError):
        got_in = got_out = None
    if got_in != tuple(input_shape):
        problems.append(f"its input shape is {got_in}, expected {tuple(input_shape)}")
    if got_out != tuple(output_shape):
        problems.append(f"its output shape is {got_out}, expected {tuple(output_shape)}")
    if problems:
        raise ValueError(
            f"{path} is not a pretrained {name!r} zoo model: " + "; ".join(problems) + "."
        )
    return model, source.manifest


def transfer_weights(source_model, target_model, name):
    """Copies all weights of ``source_model`` into ``target_model`` (same shapes)."""
    src = [tuple(w.shape) for w in source_model.weights]
    dst = [tuple(w.shape) for w in target_model.weights]
    if src != dst:
        raise ValueError(
            f"The weights do not fit the {name!r} architecture built from these "
            f"hyperparameters: expected weight shapes {dst}, received {src}."
        )
    target_model.set_weights(source_model.get_weights())


def load_weights_file(model, path, name):
    """Loads a ``.keras`` or ``.weights.h5`` file's weights into ``model``.

    A ``.keras`` file's model is loaded and its weights are copied (shapes
    checked); a ``.weights.h5`` file goes through ``model.load_weights``.
    """
    path = pathlib.Path(path)
    if path.name.endswith(".keras"):
        import keras

        from symzoo import layers

        layers.register_all()
        try:
            loaded = keras.models.load_model(path, compile=False)
        except Exception as e:
            raise ValueError(f"Could not load weights={str(path)!r}: {e}") from e
        transfer_weights(loaded, model, name)
        return model
    try:
        model.load_weights(path)
    except Exception as e:
        raise ValueError(
            f"Could not load weights={str(path)!r} into the {name!r} architecture: {e}"
        ) from e
    return model


__all__ = [
    "ChecksumError",
    "ENV_VAR",
    "MANIFEST",
    "MODEL_FILE",
    "WeightsSource",
    "add_model_facts",
    "load_pretrained",
    "load_weights_file",
    "model_facts",
    "pretrained_dir",
    "read_manifest",
    "resolve",
    "saved_models_dir",
    "sha256_file",
    "transfer_weights",
    "verify_manifest",
    "write_manifest",
]
