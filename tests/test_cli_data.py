"""The real ``ivr data`` commands, run through Typer's runner."""

import json

from typer.testing import CliRunner

from conftest import FIXTURE_5374, NARA_DATA
from ivr.cli import app

runner = CliRunner()


def test_validate_and_stats():
    result = runner.invoke(app, ["data", "validate", str(NARA_DATA)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    result = runner.invoke(app, ["data", "stats", str(NARA_DATA), "--json"])
    figures = json.loads(result.output)
    assert figures["items"] >= 1000 and figures["areas"] == 370 and figures["faq_topics"] >= 40
    assert figures["source_area_rows"] == 372  # every row of Code for Nara's data was read


def test_validate_fails_with_file_and_line(tmp_path):
    import shutil

    shutil.copytree(NARA_DATA, tmp_path / "kb")
    items = tmp_path / "kb" / "items.csv"
    items.write_text(items.read_text(encoding="utf-8") + "壊れた行,カナ,,,ないカテゴリ,,,inferred\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "kb")])
    assert result.exit_code == 1
    assert "items.csv:" in result.output and "category" in result.output


def test_review_lists_inferred_entries():
    result = runner.invoke(app, ["data", "review", str(NARA_DATA)])
    assert result.exit_code == 0 and "inferred entries" in result.output


def test_schedule_command_answers_for_aoyama():
    result = runner.invoke(app, ["data", "schedule", "青山", "--date", "2016-06-27", "--data", str(NARA_DATA)])
    assert result.exit_code == 0, result.output
    assert "燃やせるごみ、再生資源" in result.output


def test_import_then_run_with_the_result(tmp_path):
    result = runner.invoke(app, ["data", "import-5374", str(FIXTURE_5374 / "kanazawa"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
