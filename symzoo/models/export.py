"""Export and loading of zoo models: ``model.keras``, a plain-TensorFlow SavedModel, manifests.

>>> from symzoo.models import export
>>> export.export(model, "/tmp/set_sum_export", name="set_sum")   # model.keras + SavedModel
>>> export.export_pretrained("set_sum", "/tmp/set_sum_tf")        # the shipped weights
>>> model = export.load_model("/tmp/set_sum_export")              # .keras file or directory

(`symzoo.training.export` and `symzoo.training.load_model` are the same functions.)

Determinism: the same weights give the same bytes. ``model.keras`` is written
by Keras and then normalised (zip entries in a fixed order with a fixed
timestamp, no ``date_saved`` in ``metadata.json``); the SavedModel's function
names (which carry a process-wide counter) are renamed in order of creation,
and its ``fingerprint.pb`` is recomputed with a uuid derived from the
content. Exporting twice, in one process or in two, writes identical files, so
re-running ``symzoo reproduce`` changes nothing in git when the weights did
not change.

The pretrained models ship as ``model.keras`` + ``manifest.json`` only (one
copy of the weights); ``symzoo export NAME --pretrained --out DIR`` (or
`export_pretrained`) writes the SavedModel on demand.

The SavedModel's ``serve`` endpoint holds the weights as constants:
`keras.Model.export` writes functions that capture variables owned by the
loaded object, and ``tf.saved_model.load(p).serve(x)`` then fails ("Called a
function referencing variables which have been deleted") because the
temporary loaded object is garbage-collected before ``serve`` runs. Freezing
the weights into the graph makes that one-liner and
``keras.layers.TFSMLayer(p, call_endpoint="serve")`` work. For image models
(`symzoo.models.registry.ModelSpec.input_range`) ``serve`` checks that the
inputs lie in the range, like the Keras model does (`symzoo._validation.image_range`).
"""

import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import zipfile

from symzoo.errors import BackendError  # re-exported: symzoo.models.export.BackendError

MODEL_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
#: Timestamp of every member of a normalised ``.keras`` archive (the zip epoch).
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def require_tensorflow_backend(what):
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise BackendError(
            f"{what} needs the TensorFlow backend (KERAS_BACKEND=tensorflow); "
            f"the active Keras backend is {backend!r}. Set KERAS_BACKEND=tensorflow "
            "before importing keras."
        )


# --------------------------------------------------------------------------
# deterministic writers
# --------------------------------------------------------------------------


def _without_optimizer(model):
    """A copy of `model` with its weights and no optimizer state (3x smaller with Adam)."""
    if getattr(model, "optimizer", None) is None:
        return model
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def normalize_keras_archive(path):
    """Rewrites the ``.keras`` zip at `path` so that equal models give equal bytes.

    Members are written in Keras' order with a fixed timestamp and their own
    compression; ``metadata.json`` loses ``date_saved`` (Keras does not read
    it). The weights file inside is HDF5 written without timestamps, so it is
    already deterministic.
    """
    path = pathlib.Path(path)
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in members:
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta.pop("date_saved", None)
                data = json.dumps(meta, sort_keys=True).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            fixed.compress_type = info.compress_type
            fixed.external_attr = 0o644 << 16
            archive.writestr(fixed, data)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return path


def save_keras(model, path):
    """``model.save(path)`` without optimizer state, normalised (`normalize_keras_archive`)."""
    path = pathlib.Path(path)
    _without_optimizer(model).save(path)
    return normalize_keras_archive(path)


_UID_SUFFIX = re.compile(r"^(.*)_(\d+)$")


def _canonical_function_names(saved_model):
    """Old → new names of the library functions: the trailing counter of each
    name (``__inference_<lambda>_87``) replaced by its rank among the functions
    (creation order), so that the names do not depend on what ran before."""
    names = [f.signature.name for f in saved_model.meta_graphs[0].graph_def.library.function]
    keyed = []
    for name in names:
        match = _UID_SUFFIX.match(name)
        keyed.append((int(match.group(2)) if match else -1, name, match))
    mapping = {}
    for rank, (_, name, match) in enumerate(sorted(keyed)):
        if match:
            mapping[name] = f"{match.group(1)}_{rank}"
    return mapping


def _is_repeated(field):
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6 has no `label`
    if repeated is not None:
        return repeated() if callable(repeated) else bool(repeated)
    return field.label == field.LABEL_REPEATED


def _rename_strings(message, mapping):
    """Replaces every string field (and string map key) of `message` found in `mapping`."""
    from google.protobuf.descriptor import FieldDescriptor

    for field, value in message.ListFields():
        is_map = (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and field.message_type.GetOptions().map_entry
        )
        if is_map:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            container = getattr(message, field.name)
            items = list(container.items())
            renamed = key_field.type == FieldDescriptor.TYPE_STRING and any(
                k in mapping for k, _ in items
            )
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                for _, v in items:
                    _rename_strings(v, mapping)
            if renamed:
                copies = []
                for k, v in items:
                    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                        copy = type(v)()
                        copy.CopyFrom(v)
                        copies.append((mapping.get(k, k), copy))
                    else:
                        copies.append((mapping.get(k, k), v))
                container.clear()
                for k, v in copies:
                    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                        container[k].CopyFrom(v)
                    else:
                        container[k] = v
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if _is_repeated(field):
                for item in value:
                    _rename_strings(item, mapping)
            else:
                _rename_strings(value, mapping)
        elif field.type == FieldDescriptor.TYPE_STRING:
            if _is_repeated(field):
                for i, item in enumerate(value):
                    if item in mapping:
                        value[i] = mapping[item]
            elif value in mapping:
                setattr(message, field.name, mapping[value])


def copy_message(message):
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def _canonicalize_saved_model(path):
    """Makes the SavedModel at `path` byte-deterministic (see the module docstring)."""
    from tensorflow.core.protobuf import fingerprint_pb2, saved_model_pb2
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    path = pathlib.Path(path)
    pb_path = path / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(pb_path.read_bytes())
    mapping = _canonical_function_names(saved_model)
    if mapping:
        _rename_strings(saved_model, mapping)
    # TF writes the library in an order that depends on the old names: sort by the new ones.
    library = saved_model.meta_graphs[0].graph_def.library
    functions = sorted((copy_message(f) for f in library.function), key=lambda f: f.signature.name)
    del library.function[:]
    library.function.extend(functions)
    data = saved_model.SerializeToString(deterministic=True)
    pb_path.write_bytes(data)
    fingerprint = fingerprint_pb2.FingerprintDef()
    fingerprint.ParseFromString(fingerprinting.CreateFingerprintDef(str(path)))
    # The uuid is random per save; derive it from the content instead.
    fingerprint.uuid = str(int(hashlib.sha256(data).hexdigest()[:30], 16))
    (path / "fingerprint.pb").write_bytes(fingerprint.SerializeToString(deterministic=True))


def _input_range(model):
    from symzoo.models import registry

    try:
        return registry.spec(model.name).input_range
    except ValueError:
        return None


def export_saved_model(model, path, input_range=None):
    """Writes a frozen, deterministic SavedModel of `model` with a ``serve`` endpoint.

    Args:
        model: a built single-input Keras model (float32 inputs).
        path: the SavedModel directory (replaced if it exists).
        input_range: ``(low, high)``: ``serve`` raises InvalidArgumentError for
            inputs outside it; default the zoo spec's `input_range` of
            ``model.name`` (images: ``(0.0, 1.0)``), None for no check.

    Returns:
        str(path).
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    require_tensorflow_backend("Exporting a SavedModel")
    if input_range is None:
        input_range = _input_range(model)
    path = pathlib.Path(path)
    if path.exists():
        shutil.rmtree(path)
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="inputs")
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)

    def serve(x):
        if input_range is not None:
            from symzoo._validation import range_message

            low, high = (float(v) for v in input_range)
            message = range_message("inputs", low, high)
            checks = [
                tf.debugging.assert_greater_equal(x, tf.constant(low, x.dtype), message=message),
                tf.debugging.assert_less_equal(x, tf.constant(high, x.dtype), message=message),
            ]
            with tf.control_dependencies(checks):
                x = tf.identity(x)
        return frozen(x)[0]

    module = tf.Module()
    module.serve = tf.function(serve, input_signature=[spec])
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    _canonicalize_saved_model(path)
    return str(path)


def export(model, directory, name=None, extra=None, saved_model=True):
    """Writes `model` for reuse: ``model.keras``, a TF SavedModel and a manifest.

    Files written in `directory`:

    * ``model.keras``: the Keras model without optimizer state (`load_model`
      reads it back), normalised so that equal weights give equal bytes;
    * ``saved_model/`` (with `saved_model`): a deterministic TensorFlow
      SavedModel with a ``serve`` endpoint, which needs neither symzoo nor
      Keras' custom objects: ``tf.saved_model.load(p).serve(x)`` or
      ``keras.layers.TFSMLayer(p, call_endpoint="serve")``;
    * ``manifest.json`` (`symzoo.models.weights.write_manifest`): the sha256
      of every file and `extra`.

    Args:
        model: a built Keras model.
        directory: output directory (created if needed).
        name: zoo name recorded in the manifest; default ``model.name``.
        extra: dict of extra fields for the manifest.
        saved_model: whether to write ``saved_model/`` (False: ``model.keras``
            and the manifest only, as in ``saved_models/<name>/``; an earlier
            ``saved_model/`` there is removed).

    Returns:
        dict of the paths written (``"keras"``, ``"saved_model"``, ``"manifest"``).

    Raises:
        BackendError: `saved_model` and the Keras backend is not TensorFlow.
        ValueError: `model` is not a built Keras model.
    """
    import keras

    from symzoo.models import weights

    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected `model` to be a keras.Model. Received: model of type "
            f"{type(model).__name__}"
        )
    if not model.built:
        raise ValueError(
            "Expected `model` to be built (called on data or created with an Input). "
            f"Received: an unbuilt model {model.name!r}"
        )
    if not isinstance(saved_model, bool):
        raise ValueError(
            f"Expected `saved_model` to be True or False. Received: saved_model={saved_model!r}"
        )
    if saved_model:
        require_tensorflow_backend("Exporting a SavedModel")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    keras_path = directory / MODEL_FILE
    saved_path = directory / SAVED_MODEL_DIR
    save_keras(model, keras_path)
    written = {"keras": str(keras_path)}
    if saved_model:
        export_saved_model(model, saved_path)
        written["saved_model"] = str(saved_path)
    elif saved_path.exists():
        shutil.rmtree(saved_path)
    weights.write_manifest(directory, name or model.name, dict(extra or {}))
    written["manifest"] = str(directory / weights.MANIFEST)
    return written


def export_pretrained(name, directory):
    """Exports the pretrained zoo model `name` (``weights="pretrained"``) into `directory`.

    Writes ``model.keras``, ``saved_model/`` and a manifest holding the
    pretrained manifest's fields (row, seeds, test metric, ...) plus
    ``"source": "pretrained"``. Deterministic: the same weights give the same
    bytes.
    """
    from symzoo import models
    from symzoo.models import weights

    source = weights.resolve("pretrained", name)
    model = models.get(name)(weights="pretrained", compile=False)
    extra = {k: v for k, v in source.manifest.items() if k not in ("name", "format", "files")}
    extra["source"] = "pretrained"
    return export(model, directory, name=name, extra=extra)


def drop_saved_model_copies(root):
    """Removes ``saved_model/`` from every ``root/<name>/`` and re-writes its manifest.

    For committed pretrained folders: ``model.keras`` is the one copy of the weights and the
    SavedModel is exported on demand (`export_pretrained`). Each folder's manifest is
    verified first (every listed file must match its sha256), then re-written by
    `symzoo.models.weights.write_manifest` with the same fields; ``model.keras`` is not
    touched. ``python -c "from symzoo.models import export;
    export.drop_saved_model_copies('saved_models')"`` from the repository root.

    Returns:
        the names of the folders that changed.
    """
    from symzoo.models import weights

    changed = []
    for directory in sorted(pathlib.Path(root).iterdir()):
        if not (directory / weights.MANIFEST).is_file():
            continue
        manifest = weights.verify_manifest(directory)
        listed_copy = any(rel.startswith(f"{SAVED_MODEL_DIR}/") for rel in manifest["files"])
        if not ((directory / SAVED_MODEL_DIR).exists() or listed_copy):
            continue
        shutil.rmtree(directory / SAVED_MODEL_DIR, ignore_errors=True)
        extra = {k: v for k, v in manifest.items() if k not in ("name", "format", "files")}
        weights.write_manifest(directory, manifest["name"], extra)
        changed.append(directory.name)
    return changed


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------


def register_symzoo_objects():
    """Registers symzoo's serializable classes (`symzoo.layers.register_all`)."""
    from symzoo import layers

    layers.register_all()


def _load_keras_file(path):
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Expected a Keras model file (.keras, a zip archive written by "
            f"model.save) at {path}. Received: a file that is not a zip archive "
            "(corrupted or not a Keras model)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(
            f"Expected a Keras model file (.keras) at {path}. Received: a corrupted "
            f"zip archive ({err})."
        ) from None
    if bad is not None:
        raise ValueError(
            f"Expected a Keras model file (.keras) at {path}. Received: a corrupted "
            f"archive (member {bad!r} fails its CRC check)."
        )
    if "config.json" not in names:
        raise ValueError(
            f"Expected a Keras model file (.keras, with config.json inside) at {path}. "
            f"Received: a zip archive holding {sorted(names)[:5]}."
        )
    register_symzoo_objects()
    import keras

    try:
        model = keras.saving.load_model(path)
    except Exception as err:  # noqa: BLE001 - any failure means "not loadable"
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"Expected a symzoo Keras model at {path}. Received: a file that Keras "
            f"could not load ({type(err).__name__}: {message})."
        ) from err
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected a Keras model at {path}. Received: a saved "
            f"{type(model).__name__}."
        )
    return model


class SavedModelPredictor:
    """Inference wrapper of a SavedModel's ``serve`` endpoint (non-TF backends)."""

    def __init__(self, path, loaded):
        self.path = str(path)
        self._loaded = loaded
        self._serve = loaded.serve

    def __call__(self, x):
        import numpy as np

        return np.asarray(self._serve(np.asarray(x, dtype="float32")))

    def predict(self, x, batch_size=256, verbose=0):
        import numpy as np

        x = np.asarray(x, dtype="float32")
        parts = [self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), "float32")


def _load_saved_model(path):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"Expected a TensorFlow SavedModel (saved_model.pb and variables/) at "
            f"{path}. Received: a directory TensorFlow could not load "
            f"({type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''})."
        ) from err
    if not hasattr(loaded, "serve"):
        raise ValueError(
            f"Expected a SavedModel with a `serve` endpoint (written by "
            f"symzoo.training.export or model.export) at {path}. Received: a "
            "SavedModel without one."
        )
    import keras

    if keras.backend.backend() != "tensorflow":
        return SavedModelPredictor(path, loaded)
    spec = loaded.serve.concrete_functions[0].structured_input_signature[0][0]
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serve")
    inputs = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name)
    return keras.Model(inputs, layer(inputs), name="saved_model")


def load_model(path):
    """Loads a model written by `symzoo.training.train` or `export`.

    Args:
        path: a ``.keras`` file; a directory holding ``model.keras`` (a run
            directory or an export directory); or a SavedModel directory
            (``saved_model.pb``), or a directory holding ``saved_model/``
            without ``model.keras``. A SavedModel is returned as a Keras model
            wrapping `keras.layers.TFSMLayer` on the TensorFlow backend
            (inference only), and as a `SavedModelPredictor` otherwise. When
            the directory has a ``manifest.json``, the files that are read are
            checked against their sha256 first (and only those).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is not one of the above, or is corrupted
            (`symzoo.models.weights.ChecksumError` for a changed file).
    """
    from symzoo.models import weights

    path = pathlib.Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(
            f"Expected a model at {path} (a .keras file, a directory with "
            "model.keras, or a SavedModel directory). Received: a path that does not exist."
        )
    if not path.is_dir():
        return _load_keras_file(path)
    has_manifest = (path / weights.MANIFEST).is_file()
    if (path / MODEL_FILE).is_file():
        if has_manifest:
            weights.verify_manifest(path, only=[MODEL_FILE])
        return _load_keras_file(path / MODEL_FILE)
    for saved in (path, path / SAVED_MODEL_DIR):
        if (saved / "saved_model.pb").is_file():
            if has_manifest:
                prefix = "" if saved == path else f"{SAVED_MODEL_DIR}/"
                listed = weights.read_manifest(path)["files"]
                weights.verify_manifest(path, only=[r for r in listed if r.startswith(prefix)])
            return _load_saved_model(saved)
    raise ValueError(
        f"Expected {path} to hold model.keras or a TensorFlow SavedModel "
        "(saved_model.pb). Received: a directory with neither, holding "
        f"{sorted(p.name for p in path.iterdir())[:8]}."
    )


__all__ = [
    "BackendError",
    "SavedModelPredictor",
    "drop_saved_model_copies",
    "export",
    "export_pretrained",
    "export_saved_model",
    "load_model",
    "normalize_keras_archive",
    "save_keras",
]
