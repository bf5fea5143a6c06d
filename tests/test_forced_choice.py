"""Scoring the caller's audio against the answers the dialogue expects (ivr/speech/forced_choice.py),
with the real bundled Whisper: a town answer Whisper wrote as other words is matched to the town
it sounds like, through the shared ASR pool as a call uses it."""

import numpy as np
import pytest

from ivr.speech.forced_choice import ForcedChooser
from tests.conftest import line_audio

TOWNS = ["後藤町です。", "五条町です。", "池田町です。", "宝来町です。"]


@pytest.fixture(scope="module")
def chooser(speech) -> ForcedChooser:
    return ForcedChooser(speech.asr.transcriber.model)


def test_the_town_said_outscores_towns_that_sound_near_it(chooser):
    pcm = line_audio("五条町です")
    assert chooser.choose(pcm, TOWNS) == "五条町です。"
    assert chooser.choose(line_audio("三条町です"), ["安堵町です。", "三条町です。", "井上町です。"]) == "三条町です。"


def test_scores_are_log_probabilities_of_each_text(chooser):
    scores = chooser.scores(line_audio("五条町です"), TOWNS)
    assert len(scores) == len(TOWNS) and all(np.isfinite(s) and s <= 0 for s in scores)
    assert chooser.choose(line_audio("五条町です"), []) == ""


async def test_the_pool_scores_the_choices_the_dialogue_gives_for_the_text_it_heard(speech):
    pcm = line_audio("五条町です")
    asked: list[str] = []

    def choices(text: str) -> list[str]:
        asked.append(text)
        return TOWNS

    result = await speech.asr.transcribe(pcm, choices=choices)
    assert asked == [result.text] and result.chosen == "五条町です。"
    assert (await speech.asr.transcribe(pcm, choices=lambda text: [])).chosen == ""
    assert (await speech.asr.transcribe(pcm)).chosen == ""


async def test_a_failing_choice_loses_only_the_choice_never_the_transcript(speech):
    def broken(text: str) -> list[str]:
        raise RuntimeError("no towns today")

    result = await speech.asr.transcribe(line_audio("五条町です"), choices=broken)
    assert result.text and result.chosen == ""


def test_the_item_said_outscores_items_that_sound_near_it(chooser):
    """The items nearest in sound to 「リテンサです」 (自転車です at 20 dB, dev), as the dialogue gives them."""
    items = ["仏具です。", "自転車です。", "石です。", "辞書です。", "プリンターです。"]
    assert chooser.choose(line_audio("自転車です"), items) == "自転車です。"
    near_futon = ["布団です。", "麺類です。", "トタンです。", "トングです。"]
    assert chooser.choose(line_audio("布団です"), near_futon) == "布団です。"


def test_a_no_outscores_the_ways_to_say_yes_and_a_yes_the_ways_to_say_no(chooser):
    """A reply to a read-back Whisper could not write (「リンス」 for いいえ) is scored against the
    ways callers say yes and no (``ivr.language.yes_no.HEARD_FORMS``); only a no is taken from it."""
    from ivr.language.yes_no import HEARD_FORMS

    forms = list(HEARD_FORMS)
    for said in ("いいえ", "違います"):
        assert HEARD_FORMS[chooser.choose(line_audio(said), forms)] is False, said
    for said in ("はい", "そうです"):
        assert HEARD_FORMS[chooser.choose(line_audio(said), forms)] is True, said
