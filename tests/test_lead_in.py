"""The lead-in: a short answer decoded after the bot's own question (ivr/speech/lead_in.py)."""

from __future__ import annotations

import numpy as np
import pyopenjtalk
import pytest

from ivr.audio.codec import resample, to_int16, ulaw_decode, ulaw_encode
from ivr.dialogue import prompts
from ivr.language.yes_no import yes_no
from ivr.speech import lead_in as lead
from ivr.speech.asr import Decoded, Transcriber, to_whisper_audio
from ivr.speech.lead_in import LeadIn, lead_in_for
from ivr.speech.tts import Synthesizer


def _caller(text: str, speed: float, half_tone: float) -> np.ndarray:
    """A caller's short answer on the line: pyopenjtalk at another speed and pitch, μ-law, 8 kHz."""
    wav, sr = pyopenjtalk.tts(text, speed=speed, half_tone=half_tone)
    x = resample((wav / np.abs(wav).max() * 0.5).astype(np.float32), sr, 8000)
    return ulaw_decode(ulaw_encode(to_int16(x * 32767)))


def test_the_answer_is_what_follows_the_forced_prefix():
    li = LeadIn("ほかに、ご質問はありますか。", np.ones(800, np.int16))
    assert li.answer(" ほかに、ご質問はありますか。 いいえ。") == "いいえ。"
    assert li.answer("ほかに、ご質問はありますか。") == ""  # nothing after it: an empty turn, filtered later
    assert li.answer("他にご質問はありますか?いいえ") is None  # prefix not kept: decode the turn alone
    audio = li.before(np.full(1600, 7, np.int16))
    assert len(audio) == 800 + lead.GAP_MS * 8 + 1600 and audio[-1] == 7 and not audio[800:1600].any()


def test_only_short_turns_are_answers():
    assert lead.fits(np.zeros(8 * 800, np.int16))
    assert not lead.fits(np.zeros(8 * (lead.MAX_TURN_MS + 20), np.int16))
    assert not lead.fits(np.zeros(0, np.int16))


def test_the_lead_in_is_the_audio_the_caller_just_heard_never_a_new_synthesis():
    tts = Synthesizer(1.0)
    assert lead_in_for(prompts.ANYTHING_ELSE, tts) is None  # not played yet: nothing to look up
    tts.synthesize("乾電池は有害ごみです。" + prompts.ANYTHING_ELSE)  # the reply as played
    rendered = tts.rendered
    li = lead_in_for(prompts.ANYTHING_ELSE, tts)
    assert li is not None and li.text == prompts.ANYTHING_ELSE and tts.rendered == rendered
    assert np.array_equal(li.pcm, tts.cached(prompts.ANYTHING_ELSE))
    assert lead_in_for(None, tts) is None


# Short answers Whisper base misreads alone (いいえ → よいよ / みな / みんな, うん → '' / いっ), in
# pyopenjtalk voices at other speeds and pitches than the bot's own.
ANSWERS = [("いいえ", 1.0, 0.0, False), ("いいえ", 0.8, 0.0, False), ("いいえ", 0.9, -2.0, False),
           ("うん", 1.0, 0.0, True), ("うん", 0.8, 0.0, True), ("はい", 1.15, 2.0, True)]


@pytest.fixture(scope="module")
def transcriber(speech):
    return speech.asr.transcriber


@pytest.fixture(scope="module")
def asked(transcriber):
    tts = Synthesizer(1.0)
    tts.synthesize(prompts.ANYTHING_ELSE)
    return lead_in_for(prompts.ANYTHING_ELSE, tts)


def test_short_answers_are_read_right_after_the_question(transcriber, asked):
    q = prompts.ANYTHING_ELSE
    with_lead = [yes_no(transcriber.transcribe(_caller(t, s, p), question=q, lead_in=asked).text) == yes
                 for t, s, p, yes in ANSWERS]
    alone = [yes_no(transcriber.transcribe(_caller(t, s, p), question=q).text) == yes for t, s, p, yes in ANSWERS]
    assert all(with_lead), list(zip(ANSWERS, with_lead, strict=True))
    assert sum(alone) < len(ANSWERS)  # the question as a prompt alone was not enough (2 of 6 here)


def test_a_long_turn_after_the_question_is_decoded_as_before(transcriber, asked):
    pcm = _caller("冷蔵庫は何ごみですか、それと古いテレビも", 1.0, 0.0)
    assert not lead.fits(pcm)
    with_lead = transcriber.transcribe(pcm, question=prompts.ANYTHING_ELSE, lead_in=asked)
    alone = transcriber.transcribe(pcm, question=prompts.ANYTHING_ELSE)
    assert with_lead.text == alone.text and "冷蔵庫" in with_lead.text


# --- slot answers: a town or a category, heard after the question that asked for it ---------------

def test_a_town_or_category_question_is_a_lead_in_an_item_or_chome_question_is_not():
    from ivr.dialogue.state import AskSlot, CallState

    state = CallState()
    state.last_text = prompts.ASK_AREA.format(example="青垣町")
    for slot, expected in (("area", True), ("category", True), ("item", False), ("chome", False)):
        state.pending = AskSlot("collection_day", slot)
        assert (lead.slot_question(state) == state.last_text) is expected, slot
    state.pending = None
    assert lead.slot_question(state) is None


def test_an_example_the_answer_repeats_is_an_echo_to_check():
    li = LeadIn("たとえば、青垣町、のようにお話しください。", np.ones(8, np.int16))
    assert li.echo("青垣です。") == "青垣町"  # 青野町 at 10 dB, written as the example
    assert li.echo("青垣町です") == "青垣町"
    assert li.echo("青野町です") is None and li.echo("青山です") is None
    category = LeadIn("たとえば、燃やせるごみ、のようにお話しください。", np.ones(8, np.int16))
    assert category.echo("燃やせないごみです") is None and category.echo("燃やせるごみです") == "燃やせるごみ"
    assert LeadIn("青山の、何丁目ですか。", np.ones(8, np.int16)).echo("四丁目です") is None
    assert LeadIn("かんでんち、ですね？", np.ones(8, np.int16)).echo("いいえ") is None  # a read-back in kana


SLOT_ANSWERS = [  # read wrong alone (合わなちょう, 青の長, あなた; 参るごみ, 前のごみ; まえないごみ)
    (prompts.ASK_AREA.format(example="青垣町"), "青野町です", 1.0, 0.0, "青野町"),
    (prompts.ASK_AREA.format(example="青垣町"), "青野町です", 0.9, -2.0, "青野町"),
    (prompts.ASK_AREA.format(example="青垣町"), "青野町です", 1.15, 2.0, "青野町"),
    (prompts.ASK_CATEGORY, "燃えるごみです", 1.0, 0.0, "燃やせるごみ"),
    (prompts.ASK_CATEGORY, "燃えるごみです", 1.15, 2.0, "燃やせるごみ"),
    (prompts.ASK_CATEGORY, "燃えないごみです", 1.0, 0.0, "燃やせないごみ"),
]


def test_a_town_or_category_is_read_right_after_the_question_that_asked_for_it(transcriber, brain):
    from datetime import date

    tts = Synthesizer(1.0)

    def named(text: str) -> str:
        p = brain.nlu.parse(text, date(2026, 12, 1))
        return p.area_town or (p.category.name if p.category else "")

    after, alone = [], []
    for question, said, speed, pitch, meant in SLOT_ANSWERS:
        tts.synthesize(question)
        pcm = _caller(said, speed, pitch)
        after.append(named(transcriber.transcribe(pcm, lead_in=lead_in_for(question, tts)).text) == meant)
        alone.append(named(transcriber.transcribe(pcm).text) == meant)
    assert all(after), list(zip(SLOT_ANSWERS, after, strict=True))
    assert sum(alone) < len(SLOT_ANSWERS) // 2  # 0 of 6 on this machine


def test_a_turn_the_lead_in_leaves_unwritten_is_decoded_alone_not_dropped(transcriber, brain):
    """After a read-back, a caller who names another item instead of answering (乾電池 after
    「れいぞうこ、ですね？」) can come out of the lead-in decode as 「。」 alone. That turn was
    thrown away as silence; decoded alone it reads as the item (完全地, understood as 乾電池)."""
    from datetime import date

    question = "れいぞうこ、ですね？"
    tts = Synthesizer(1.0)
    tts.synthesize(question)
    li = lead_in_for(question, tts)
    pcm = _caller("乾電池", 1.0, 0.0)
    both = transcriber._decode(to_whisper_audio(li.before(pcm)), None, prefix=li.text)
    assert li.answer("".join(both.texts)).strip("。") == ""  # the case under test: nothing after the question
    heard = transcriber.transcribe(pcm, question=question, lead_in=li)
    assert heard.text and heard.dropped is None
    assert yes_no(heard.text, confirming=True) is None
    assert brain.nlu.parse(heard.text, date(2026, 12, 1)).intent == "dry_cells"


def test_a_bare_iidesu_to_a_confirmation_is_settled_by_the_turn_alone_only_towards_no():
    """After 「〜でよろしいですか」 Whisper base wrote two dev voices' quick いいえ 「いいです。」 at
    0.9 and, decoded alone, 「いいね」「みな」: the alone decode is taken when it is a no, never when
    it is a yes (alone a いいえ also reads いいよ), and never after an offer, where いいです is a no."""
    confirm = LeadIn("燃やせるごみの出し方についてのご質問でよろしいですか。", np.zeros(8, np.int16))
    asked: list[str] = []

    def alone(text: str):  # noqa: ANN202
        return lambda: asked.append(text) or text

    assert confirm.settle("いいです。", alone("いいね!")) == "いいね!"
    assert confirm.settle("いいです。", alone("いいよ")) == "いいです。"  # a yes is not taken from the doubt
    assert LeadIn("れいぞうこ、ですね？", confirm.pcm).settle("いいです", alone("みな。")) == "みな。"
    asked.clear()
    assert confirm.settle("はい。", alone("いいね!")) == "はい。" and not asked  # no doubt: no second decode
    offer = LeadIn(prompts.ANYTHING_ELSE, confirm.pcm)
    assert offer.settle("いいです。", alone("いいね!")) == "いいです。" and not asked


class _QuickNo(Transcriber):
    """Whisper as it read the quick いいえ: 「いいです。」 after the question, 「いいね!」 alone."""

    def __init__(self, real: Transcriber) -> None:
        self.__dict__.update(real.__dict__)

    def _decode(self, audio, prompt, prefix=None, hotwords=None):  # noqa: ANN001, ANN202
        if prefix:
            return Decoded((prefix + "いいです。",), (0.05,), (-0.1,))
        return Decoded(("いいね!",) if prompt is None else ("いいです。",), (0.05,), (-0.2,))


def test_the_recogniser_hands_on_the_no_the_turn_alone_heard(transcriber):
    question = "燃やせるごみの出し方についてのご質問でよろしいですか。"
    tts = Synthesizer(1.0)
    tts.synthesize(question)
    heard = _QuickNo(transcriber).transcribe(_caller("いいえ", 1.4, 0.0), question=question,
                                            lead_in=lead_in_for(question, tts))
    assert heard.text == "いいね!" and yes_no(heard.text, confirming=True) is False
