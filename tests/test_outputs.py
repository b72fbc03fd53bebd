"""Commands write under ./runs (or an explicit path), never into committed folders by default."""

import json
import pathlib

from symzoo import cli


def test_tune_cli_writes_its_summary_under_the_search_directory(tmp_path, monkeypatch, capsys):
    """`symzoo tune NAME --directory D` puts the summary in D, not in ./tuning/NAME."""
    monkeypatch.chdir(tmp_path)
    code = cli.main(["tune", "set_sum", "--max-trials", "1", "--epochs", "1", "--quick",
                     "--sizes", "96", "32", "32", "--verbose", "0", "--no-test",
                     "--directory", str(tmp_path / "x")])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = tmp_path / "x" / "set_sum_random" / "summary" / "summary.json"
    assert summary.is_file() and json.loads(summary.read_text())["model"] == "set_sum"
    assert f"wrote {summary}" in out
    assert not (tmp_path / "tuning").exists()
    # the default directory is ./runs/tuning
    code = cli.main(["tune", "set_sum", "--max-trials", "1", "--epochs", "1", "--quick",
                     "--sizes", "96", "32", "32", "--verbose", "0", "--no-test"])
    assert code == 0
    assert (tmp_path / "runs" / "tuning" / "set_sum_random" / "summary" / "summary.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "x"]


def test_train_default_output_is_under_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", "graph_degree", "--quick", "--epochs", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "runs" / "graph_degree" / "seed0" / "model.keras").is_file()
    assert "runs/graph_degree/seed0/model.keras" in out and "Results:" in out
    assert "\x1b[" not in out  # captured stdout is not a terminal: verbose 2, no ANSI codes
    assert "/step - loss: " in out  # and the one-line-per-epoch log (verbose 2) is there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert pathlib.Path("runs").is_dir()
