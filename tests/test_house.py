"""Structure of the package: typed errors, import direction, one registration list."""

import subprocess
import sys

import pytest

from symzoo import errors


def _modules_after_import(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("symzoo.symmetry.report", "symzoo.cli"),
        ("symzoo.tuning.cli", "symzoo.cli"),
        ("symzoo.reproduce", "symzoo.cli"),
        ("symzoo.tuning.summary", "symzoo.tuning.search"),
    ],
)
def test_import_direction(module, forbidden):
    loaded = _modules_after_import(module)
    assert module in loaded
    assert forbidden not in loaded


def test_unknown_hyperparameter_is_typed():
    from symzoo import models

    with pytest.raises(errors.HyperparameterError, match="lamda") as info:
        models.set_sum(lamda=1.0)
    # Both: Python's unexpected-keyword convention and a bad argument value.
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_missing_pretrained_weights_are_typed(tmp_path):
    from symzoo.models import weights

    err = weights._missing_manifest(tmp_path / "set_sum", "set_sum")
    assert isinstance(err, errors.MissingWeightsError)
    assert isinstance(err, FileNotFoundError)
    assert "symzoo reproduce set_sum" in str(err)


def test_cli_reports_unknown_hyperparameter(capsys):
    from symzoo import cli

    status = cli.main(["train", "set_sum", "--quick", "--epochs", "1", "--set", "lamda=1",
                       "--out", "/nonexistent/never-written"])
    assert status == 2
    assert "lamda" in capsys.readouterr().err


_REGISTERED = """
import json, sys, keras
{setup}
objs = keras.saving.get_custom_objects()
print(json.dumps({{k: [v.__module__, isinstance(v, type) and issubclass(v, keras.layers.Layer)
                      and not issubclass(v, keras.Model)]
                  for k, v in objs.items() if k.startswith("symzoo>")}}))
"""

_IMPORT_EVERYTHING = """
import importlib, pkgutil, symzoo
for info in pkgutil.walk_packages(symzoo.__path__, "symzoo."):
    if info.name.split(".")[-1] not in ("__main__", "tfds_builders"):
        importlib.import_module(info.name)
"""


def _registered(setup):
    import json

    code = _REGISTERED.format(setup=setup)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_one_registration_list_registers_everything():
    everything = _registered(_IMPORT_EVERYTHING)
    by_list = _registered("from symzoo import layers; layers.register_all()")
    assert len(everything) >= 15
    assert by_list == everything
    # Every registered layer lives under symzoo/layers/.
    misplaced = {
        name: module
        for name, (module, is_layer) in everything.items()
        if is_layer and not module.startswith("symzoo.layers")
    }
    assert misplaced == {}


def test_symmetry_dispatch_reads_the_layer_attribute():
    """A layer class unknown to symzoo, with a registered ``symmetry_kind``, is
    handled like the built-in one: groups, projection and extraction read the
    attribute, not the class name."""
    import keras
    import numpy as np

    from symzoo.layers import SetLinearSum
    from symzoo.symmetry import extraction, groups

    class RenamedSetLayer(SetLinearSum):  # same maths, another class name
        pass

    layer = RenamedSetLayer()
    inputs = keras.Input(shape=(6,))
    model = keras.Model(inputs, layer(inputs))
    assert groups.layer_kind(layer) == "set"
    assert isinstance(groups.for_layer(layer), groups.SetPermutation)
    compact, info = extraction.extract(model)
    x = np.random.default_rng(0).random((5, 6)).astype("float32")
    projected, _ = extraction.project_model(model)
    np.testing.assert_allclose(
        compact.predict(x, verbose=0), projected.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert info["layers"][layer.name]["kind"] == "set"
    # A layer without the attribute is not a symzoo layer.
    assert groups.layer_kind(keras.layers.Dense(3)) is None
    with pytest.raises(ValueError, match="symmetry_kind"):
        groups.for_layer(keras.layers.Dense(3))
