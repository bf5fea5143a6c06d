"""``ivr say``, ``ivr transcribe`` and ``ivr sim --audio`` through the real CLI and real models."""

import json

import soundfile as sf
from rapidfuzz import fuzz
from typer.testing import CliRunner

from ivr.cli import app
from ivr.language.readings import reading

runner = CliRunner()


def test_say_transcribe_and_an_audio_call(tmp_path):
    question = tmp_path / "question.wav"
    said = runner.invoke(app, ["say", "乾電池は何ごみですか", "-o", str(question)])
    assert said.exit_code == 0, said.output
    assert sf.info(str(question)).samplerate == 8000

    heard = runner.invoke(app, ["transcribe", str(question), "--json"])
    assert heard.exit_code == 0, heard.output
    text = json.loads(heard.output.strip().splitlines()[-1])["text"]
    assert fuzz.ratio(reading("乾電池は何ごみですか"), reading(text)) >= 80, text

    bot = tmp_path / "bot"
    call = runner.invoke(app, ["sim", "--now", "2016-06-01T10:00", "--json", "--save-audio", str(bot),
                               "--audio", str(question)])
    assert call.exit_code == 0, call.output
    turns = [json.loads(line) for line in call.output.strip().splitlines() if line.startswith("{")]
    answer = next(t for t in turns if t.get("transcript"))
    assert answer["intent"] in ("item_category", "dry_cells") and "有害" in answer["reply"], answer
    assert sorted(p.name for p in bot.iterdir())[:2] == ["bot-01.wav", "bot-02.wav"]  # greeting, answer


def test_transcribe_after_a_yes_no_question_keeps_a_short_hai(tmp_path):
    hai = tmp_path / "hai.wav"
    assert runner.invoke(app, ["say", "はい", "-o", str(hai)]).exit_code == 0
    heard = runner.invoke(app, ["transcribe", str(hai), "--json", "--after", "職員におつなぎしましょうか。"])
    assert heard.exit_code == 0, heard.output
    result = json.loads(heard.output.strip().splitlines()[-1])
    assert reading(result["text"]) == "ハイ" and result["dropped"] is None, result
