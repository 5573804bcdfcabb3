"""`tfgrpo library …` commands, including bad input that must change nothing."""

import json

from typer.testing import CliRunner

from tfgrpo_agents.cli import app
from tfgrpo_agents.experience import load_library

runner = CliRunner()


def write_ops(path, ops):
    path.write_text(json.dumps(ops))
    return path


def test_apply_creates_then_edits_a_library(tmp_path):
    lib = tmp_path / "lib.json"
    ops = write_ops(tmp_path / "ops.json", [{"op": "ADD", "text": "First."}, {"op": "ADD", "text": "Second."}])
    result = runner.invoke(app, ["library", "apply", str(lib), str(ops), "--model", "m1", "--domain", "web"])
    assert result.exit_code == 0, result.output
    assert "[G1] Second." in result.output
    loaded = load_library(lib)
    assert loaded.texts() == ["First.", "Second."] and loaded.meta.model_id == "m1"

    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text('{"op": "DELETE", "id": "G0"}\n\n{"op": "UPDATE", "id": "G1", "text": "Second, revised."}\n')
    assert runner.invoke(app, ["library", "apply", str(lib), str(jsonl)]).exit_code == 0
    assert load_library(lib).texts() == ["Second, revised."]

    diff = runner.invoke(app, ["library", "diff", str(lib), "1"])
    assert "- [G0] First." in diff.output and "=> Second, revised." in diff.output
    assert runner.invoke(app, ["library", "rollback", str(lib), "1"]).exit_code == 0
    assert load_library(lib).texts() == ["First.", "Second."]


def test_invalid_batch_changes_nothing(tmp_path):
    lib = tmp_path / "lib.json"
    runner.invoke(app, ["library", "apply", str(lib), str(write_ops(tmp_path / "a.json", [{"op": "ADD", "text": "Keep."}]))])
    before = lib.read_bytes()
    bad = write_ops(tmp_path / "bad.json", [{"op": "ADD", "text": "ok"}, {"op": "ADD", "text": "x " * 40}])
    result = runner.invoke(app, ["library", "apply", str(lib), str(bad)])
    assert result.exit_code == 2
    assert "40 words, over the cap of 32" in result.output and "unchanged" in result.output
    assert lib.read_bytes() == before


def test_malformed_ops_file_names_the_line(tmp_path):
    ops = tmp_path / "ops.jsonl"
    ops.write_text('{"op": "ADD", "text": "a"}\n{broken\n')
    result = runner.invoke(app, ["library", "apply", str(tmp_path / "lib.json"), str(ops)])
    assert result.exit_code == 2 and "ops.jsonl:2 is not valid JSON" in result.output
    assert not (tmp_path / "lib.json").exists()


def test_show_unknown_step_and_corrupt_file(tmp_path):
    lib = tmp_path / "lib.json"
    runner.invoke(app, ["library", "apply", str(lib), str(write_ops(tmp_path / "a.json", [{"op": "ADD", "text": "A."}]))])
    assert "no snapshot for step 5" in runner.invoke(app, ["library", "show", str(lib), "--step", "5"]).output
    shown = runner.invoke(app, ["library", "show", str(lib), "--step", "0"])
    assert shown.exit_code == 0 and "nothing is injected" in shown.output
    lib.write_text("{torn")
    result = runner.invoke(app, ["library", "show", str(lib)])
    assert result.exit_code == 2 and "is not valid JSON" in result.output


def test_export_import_through_sqlite_store(tmp_path):
    lib = tmp_path / "lib.json"
    runner.invoke(app, ["library", "apply", str(lib), str(write_ops(tmp_path / "a.json", [{"op": "ADD", "text": "A."}])),
                        "--domain", "web"])
    db = tmp_path / "store.sqlite"
    assert runner.invoke(app, ["library", "export", str(lib), "--sqlite", str(db)]).exit_code == 0
    out = tmp_path / "copy.json"
    assert runner.invoke(app, ["library", "import", str(out), "--sqlite", str(db), "--domain", "web"]).exit_code == 0
    assert load_library(out).texts() == ["A."]
