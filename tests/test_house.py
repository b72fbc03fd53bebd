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
