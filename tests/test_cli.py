"""Tests of the symzoo command line (symzoo.cli.main and python -m symzoo)."""

import argparse
import json
import os
import subprocess
import sys
import types

import pytest

from symzoo import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A quick set_sum run through the CLI: (exit code, stdout, stderr, out dir)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    capture = pytest.MonkeyPatch()
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", stdout)
    capture.setattr(sys, "stderr", stderr)
    try:
        code = cli.main(
            ["train", "set_sum", "--quick", "--out", str(out), "--verbose", "0",
             "--set", "sharpness=50.0", "--learning-rate", "0.02"]
        )
    finally:
        capture.undo()
    return code, stdout.getvalue(), stderr.getvalue(), out


def test_list(capsys):
    from symzoo import models

    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in models.list():
        assert name in out
    assert "test_l1=0.032" in out  # set_sum's report figure
    assert cli.main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(models.list())
    assert {"dataset", "report_metric", "report_value", "description"} <= set(rows[0])


def test_train_quick(trained):
    code, out, err, run = trained
    assert code == 0, err
    assert "Test metrics (set_sum):" in out
    assert "l1" in out and "mse" in out
    results = json.loads((run / "results.json").read_text())
    assert results["model_kwargs"] == {"sharpness": 50.0}
    assert results["learning_rate"] == 0.02
    assert results["quick"] is True
    for key, value in results["metrics"].items():
        assert f"{key}" in out and f"{value:.6g}" in out
    assert (run / "model.keras").is_file()
    assert "Traceback" not in err


def test_evaluate_and_export(trained, tmp_path, capsys):
    import keras

    _, _, _, run = trained
    results = json.loads((run / "results.json").read_text())
    assert cli.main(["evaluate", "set_sum", "--model", str(run), "--quick", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics == pytest.approx(results["metrics"], rel=1e-5)

    if keras.backend.backend() != "tensorflow":
        pytest.skip("export needs the TensorFlow backend")
    code = cli.main(
        ["export", "set_sum", "--model", str(run / "model.keras"), "--out", str(tmp_path / "e")]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "saved_model:" in captured.out and "manifest:" in captured.out
    assert (tmp_path / "e" / "saved_model" / "saved_model.pb").is_file()
    assert (tmp_path / "e" / "manifest.json").is_file()
    # the exported SavedModel evaluates like the model
    assert cli.main(
        ["evaluate", "set_sum", "--model", str(tmp_path / "e" / "saved_model"), "--quick",
         "--json"]
    ) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(results["metrics"], rel=1e-4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "no_such_model"], "unknown model 'no_such_model'"),
        (["train", "set_sum", "--epochs", "0"], "--epochs"),
        (["train", "set_sum", "--batch-size", "-4"], "--batch-size"),
        (["train", "set_sum", "--set", "lam"], "KEY=VALUE"),
        (["train", "set_sum", "--quick", "--set", "no_such_hp=1"], "no_such_hp"),
        (["evaluate", "set_sum", "--model", "/no/such/model.keras"], "does not exist"),
        (["evaluate", "no_such_model", "--model", "x.keras"], "unknown model"),
        (["no_such_command"], "invalid choice"),
    ],
)
def test_bad_input_exits_2(argv, message, capsys, tmp_path):
    if "--quick" in argv:
        argv = argv + ["--out", str(tmp_path / "run"), "--verbose", "0"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_corrupted_model_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"garbage")
    assert cli.main(["evaluate", "set_sum", "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "zip" in err
    assert len(err.strip().splitlines()) == 1


def test_parse_assignment():
    assert cli.parse_assignment("lam=1e-3") == ("lam", 1e-3)
    assert cli.parse_assignment("offsets=(8,4)") == ("offsets", (8, 4))
    assert cli.parse_assignment("activation=relu") == ("activation", "relu")
    assert cli.parse_assignment("reduction=None") == ("reduction", None)
    assert cli.parse_assignment(" l1 = 0 ") == ("l1", 0)
    for bad in ("lam", "=3", "1x=2"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.parse_assignment(bad)


def test_delegated_subcommands(monkeypatch, capsys):
    # A module that is not there: a clear error, exit code 2.
    monkeypatch.setitem(cli.DELEGATED, "tune", ("symzoo._no_such_module", "tune"))
    assert cli.main(["tune", "--trials", "3"]) == 2
    assert "not available" in capsys.readouterr().err

    # A module that is there: its add_arguments/run are used.
    calls = []
    fake = types.ModuleType("symzoo._fake_inspect")
    fake.add_arguments = lambda parser: parser.add_argument("--level", type=int, default=1)
    fake.run = lambda args: calls.append(args.level) or 0
    monkeypatch.setitem(sys.modules, "symzoo._fake_inspect", fake)
    monkeypatch.setitem(cli.DELEGATED, "inspect", ("symzoo._fake_inspect", "inspect"))
    assert cli.main(["inspect", "--level", "4"]) == 0
    assert calls == [4]

    # A module without the interface.
    monkeypatch.setitem(sys.modules, "symzoo._fake_bad", types.ModuleType("symzoo._fake_bad"))
    monkeypatch.setitem(cli.DELEGATED, "reproduce", ("symzoo._fake_bad", "reproduce"))
    assert cli.main(["reproduce"]) == 2
    assert "add_arguments" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("list", "train", "evaluate", "export", "reproduce", "tune", "inspect"):
        assert command in out


def test_log_noise_filter():
    assert cli._is_log_noise("I0000 00:00:17.1  123 port.cc:153] oneDNN custom ops", 2)
    assert cli._is_log_noise("W0000 00:00:17.1  123 x.cc:1] something", 2)
    assert not cli._is_log_noise("E0000 00:00:17.1  123 x.cc:1] real error", 2)
    assert not cli._is_log_noise("Traceback (most recent call last):", 3)
    assert not cli._is_log_noise("I0000 00:00:17.1  123 port.cc:153] info", 0)


def test_python_m_symzoo_list():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "symzoo", "list"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "mnist_translation" in proc.stdout and "set_sum" in proc.stdout
    assert "I0000" not in proc.stderr  # TensorFlow's start-up log lines are filtered
    bad = subprocess.run(
        [sys.executable, "-m", "symzoo", "train", "no_such_model"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("symzoo: error: unknown model")
