"""``ivr sim --json``, ``ivr sim --script`` and ``ivr ask`` through the real CLI."""

import json
from pathlib import Path

from typer.testing import CliRunner

from ivr.cli import app

runner = CliRunner()
SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def test_sim_json_reads_lines_and_prints_one_object_per_turn():
    lines = "明日何ごみの日？\n青山です\n/dtmf 0\n"
    result = runner.invoke(app, ["sim", "--json", "--now", "2016-06-26T10:00"], input=lines)
    assert result.exit_code == 0, result.output
    turns = [json.loads(line) for line in result.output.splitlines()]
    assert len(turns) == 4  # greeting + three caller turns
    assert turns[1]["action"] == "clarify" and "町名" in turns[1]["reply"]
    assert "燃やせるごみと再生資源" in turns[2]["reply"] and turns[2]["slots"]["area"] == "青山１〜９丁目"
    assert turns[3]["action"] == "ticket" and "折り返し" in turns[3]["reply"]  # 0 on a Sunday: callback


def test_sim_json_reports_a_bad_command_and_goes_on():
    result = runner.invoke(app, ["sim", "--json"], input="/dtmf x\n/hangup\n")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert "error" in rows[1] and rows[2]["action"] == "end"


def test_ask_prints_the_documented_fields():
    result = runner.invoke(app, ["ask", "あの、冷蔵庫を捨てたいんやけど", "--json", "--now", "2026-11-27T10:00"])
    out = json.loads(result.output)
    assert {"text", "intent", "confidence", "slots", "action", "reply"} <= out.keys()
    assert out["slots"]["item"] == "冷蔵庫" and out["action"] == "answer"


def test_ask_reads_stdin_lines():
    result = runner.invoke(app, ["ask", "--json"], input="乾電池\n住民票を取りたい\n")
    a, b = (json.loads(line) for line in result.output.splitlines())
    assert a["slots"]["item"] == "乾電池" and b["intent"] == "out_of_scope"


def test_script_passes_and_fails_with_a_diff(tmp_path):
    ok = runner.invoke(app, ["sim", "--script", str(SCENARIOS / "dtmf.yaml")])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yaml"
    text = "name: わざと失敗\nturns:\n  - say: 乾電池\n    expect: {contains: 存在しない言葉}\n"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["sim", "--script", str(bad)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "存在しない言葉" in result.output
