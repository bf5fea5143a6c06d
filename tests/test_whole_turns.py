"""Whole caller turns: mid-sentence pauses, cut starts, short answers, quiet callers, true silence.

Everything runs on the real models (Silero + voicing, Whisper base, the dialogue, pyopenjtalk).
Caller speech is the bundled TTS over a μ-law telephone line (``conftest.line_audio``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from rapidfuzz import fuzz

from conftest import line_audio
from escalation.staff import OfficeHoursStaffLine
from escalation.tickets import InMemoryTicketQueue
from ivr.audio.codec import frames
from ivr.dialogue import prompts
from ivr.dialogue.session import MAX_SILENCES, CallSession
from ivr.dialogue.turns import Action, CallerTurn
from ivr.language.readings import reading
from ivr.language.turn_end import TurnEnding, turn_ending
from ivr.language.yes_no import yes_no
from ivr.speech.asr import AsrResult
from ivr.speech.asr_pool import AsrPool
from ivr.speech.endpoint import Endpointer, Utterance
from ivr.speech.services import SpeechServices
from ivr.speech.vad import SileroVad
from ivr.speech.voice_call import VoiceCall
from simulator import audio as sim_audio
from simulator.audio import RecordingTransport, settle_on_line
from simulator.runtime import Simulator

JST = ZoneInfo("Asia/Tokyo")
CLOSED = datetime(2026, 11, 27, 20, 0, tzinfo=JST)  # Friday evening: staff requests become tickets
GREETING_MS = 20_000  # the caller listens to a greeting this long before speaking
TAIL = np.zeros(8 * 2500, np.int16)  # past the end-of-turn silence and the longest hold


def silence(ms: int) -> np.ndarray:
    return np.zeros(8 * ms, np.int16)


def voiced(pcm: np.ndarray) -> np.ndarray:
    """The clip without pyopenjtalk's own silence at either end (~0.2–0.35 s each), so a pause
    written into a test is the pause the caller makes."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 330)
    return pcm[loud[0] : loud[-1] + 1]


def onset_ms(pcm: np.ndarray) -> int:
    """Where the voice really starts: the first sample above -40 dBFS."""
    return int(np.flatnonzero(np.abs(pcm.astype(np.int32)) > 330)[0]) * 1000 // 8000


def utterances(speech: SpeechServices, pcm: np.ndarray, greeting_ms: int = 0) -> list[Utterance]:
    """Run the endpointer as a phone call does: the greeting's silence while the bot speaks, then the caller."""
    ep = Endpointer(speech.endpoint, SileroVad())
    for f in frames(silence(greeting_ms)):
        ep.push(f, bot_speaking=True)
    ep.bot_finished()
    out = [e for f in frames(np.concatenate([pcm, TAIL])) for e in ep.push(f) if isinstance(e, Utterance)]
    return [Utterance(u.pcm, u.start_ms - greeting_ms, u.end_ms - greeting_ms, u.truncated,
                      u.speech_end_ms - greeting_ms) for u in out]


# --- the language says where a sentence can end --------------------------------------------------

@pytest.mark.parametrize("text", ["冷蔵庫を買い替えたんですけど、", "引っ越しをするんですが", "ペットボトルって",
                                  "冷蔵庫は", "捨てたいので", "えーと", "粗大ごみを捨てたいんやけど", "冷蔵庫とか"])
def test_a_clause_left_open_continues(text):
    assert turn_ending(text) is TurnEnding.continues


@pytest.mark.parametrize("text", ["ペットボトルは何ごみですか。", "教えてください", "出したらいいの",
                                  "燃えないごみですよね", "古いのはどうしたらいいですか", "大宮町です", "お願いします"])
def test_a_finished_sentence_is_complete(text):
    assert turn_ending(text) is TurnEnding.complete


@pytest.mark.parametrize("text", ["冷蔵庫", "はい", "大宮町", ""])
def test_a_bare_word_is_open(text):
    assert turn_ending(text) is TurnEnding.open


# --- the endpointer hears the whole turn, however long the caller listened first --------------------

@pytest.mark.parametrize("greeting_ms", [0, GREETING_MS])
def test_a_short_hai_opens_a_turn_fresh_or_after_the_greeting(speech, greeting_ms):
    hai = np.concatenate([silence(500), line_audio("はい")])
    found = utterances(speech, hai, greeting_ms)
    assert len(found) == 1, found


def test_the_first_mora_survives_a_long_greeting(speech):
    clip = np.concatenate([silence(500), line_audio("ペットボトルって何ごみですか")])
    fresh, after = utterances(speech, clip), utterances(speech, clip, GREETING_MS)
    assert len(after) == 1 and after[0].start_ms <= onset_ms(clip) - 100  # pre-roll before the first sound
    assert (after[0].start_ms, after[0].end_ms) == (fresh[0].start_ms, fresh[0].end_ms)  # one mechanism


def test_a_turn_started_right_after_the_greeting_is_whole(speech):
    clip = np.concatenate([silence(100), line_audio("おおがたごみの申し込み")])
    found = utterances(speech, clip, GREETING_MS)
    assert len(found) == 1 and found[0].start_ms <= max(0, onset_ms(clip) - 100)


@pytest.mark.parametrize("gain_db", [-10, -20])
def test_a_quiet_caller_is_heard(speech, gain_db):
    clip = np.concatenate([silence(500), line_audio("燃えないごみの日はいつですか")])
    quiet = (clip * 10 ** (gain_db / 20)).astype(np.int16)
    found = utterances(speech, quiet, GREETING_MS)
    assert len(found) == 1 and found[0].start_ms <= onset_ms(clip) - 100


# --- a call as audio -------------------------------------------------------------------------------

@pytest.fixture
def sim(brain):
    return Simulator.from_brain(brain, "2016-06-01T10:00")  # a Wednesday, office hours


async def _call(sim, speech, clips: list[np.ndarray], pace: bool = False) -> VoiceCall:
    """Unpaced: as `ivr sim --audio` (the line silent while each prompt plays). Paced: real time,
    each prompt heard when its last frame has gone out."""
    transport = RecordingTransport(line=not pace)
    call = VoiceCall(sim.session("09012345678"), speech, transport, pace=pace)
    transport.call = call
    await call.start()
    await settle_on_line(call, transport)
    for clip in clips:
        for frame in frames(np.concatenate([silence(300), clip, TAIL])):
            await call.audio(frame)
            if pace:
                await asyncio.sleep(0.02)
        await settle_on_line(call, transport)
    await call.close()
    return call


def _answers(call: VoiceCall) -> list:
    return [r for r in call.records if r.kind == "speech" and not r.superseded]


def test_a_question_split_by_a_pause_is_answered_once_and_right(sim, speech):
    first, rest = line_audio("冷蔵庫を買い替えたんですけど"), line_audio("古いのはどうしたらいいですか")
    split = np.concatenate([first, silence(850), rest])
    call = asyncio.run(_call(sim, speech, [split]))
    answers = _answers(call)
    assert len(answers) == 1, [(r.transcript, r.reply.intent) for r in call.records]
    assert answers[0].parts == 2 and answers[0].reply.intent == "kaden_four", answers[0]
    assert "刃物" not in answers[0].reply.text and "家電リサイクル法" in answers[0].reply.text


def test_speech_resumed_while_the_reply_starts_is_joined_and_answered_once(sim, speech):
    """In real time: 「ペットボトル」 alone is answered (a bare word is no clause left open), the
    caller goes on 1.2 s later, before hearing much of the reply: it stops, the dialogue forgets
    the first half, and one answer follows."""
    split = np.concatenate([voiced(line_audio("ペットボトル")), silence(1200), voiced(line_audio("何ごみですか"))])
    call = asyncio.run(_call(sim, speech, [split], pace=True))
    answers = _answers(call)
    assert len(answers) == 1 and answers[0].parts == 2, [(r.transcript, r.parts, r.superseded) for r in call.records]
    assert answers[0].reply.intent in ("cans_bottles_how", "item_category"), answers[0]


def _noisy_line(*stretches: tuple[np.ndarray, float]) -> np.ndarray:
    """Clips at their gain (dB) over a steady hiss at -44 dBFS, as a 20 dB line carries them."""
    rng = np.random.default_rng(7)
    parts = [pcm.astype(float) * 10 ** (gain_db / 20) for pcm, gain_db in stretches]
    line = np.concatenate(parts)
    return np.clip(line + rng.standard_normal(len(line)) * 32767 * 10 ** (-44 / 20), -32768, 32767).astype(np.int16)


def test_talk_behind_the_caller_after_a_question_does_not_take_back_its_answer(sim, speech):
    """On a noisy line, people talking behind the caller ~20 dB under their voice (speech to the
    detector, never standing out from the line) 1.2 s after a question: not the caller going on.
    The answer stands; the question is not joined with the babble and answered again."""
    babble = line_audio("駅前に新しいパン屋さんができたそうです")
    line = _noisy_line((silence(3000), 0), (line_audio("ペットボトルは何ごみですか"), 0), (silence(1200), 0),
                       (babble, -20), (silence(3000), 0))
    call = asyncio.run(_call(sim, speech, [line], pace=True))
    records = [r for r in call.records if r.kind == "speech"]
    assert records and "ペットボトル" in records[0].transcript, [(r.transcript, r.parts) for r in records]
    assert not records[0].superseded and all(r.parts == 1 for r in records), [
        (r.transcript, r.parts, r.superseded) for r in records]
    assert records[0].reply.intent in ("cans_bottles_how", "item_category"), records[0]


def test_hai_after_a_question_is_a_turn_and_answers_it(sim, speech):
    call = asyncio.run(_call(sim, speech, [line_audio("乾電池は何ごみですか"), line_audio("はい")]))
    answers = _answers(call)
    assert len(answers) == 2, [(r.transcript, r.dropped) for r in call.records]
    assert fuzz.partial_ratio("ハイ", reading(answers[1].transcript)) >= 80
    assert answers[1].reply.text == prompts.GO_AHEAD  # はい to 「ほかに、ご質問はありますか」


def test_iie_after_a_question_is_heard_as_no_and_ends_the_call(sim, speech):
    """Alone, Whisper base reads this いいえ 「よいよ」; after the question's own audio (the lead-in,
    taken from the synthesiser's cache by the call) it reads いえ, a no."""
    call = asyncio.run(_call(sim, speech, [line_audio("乾電池は何ごみですか"), line_audio("いいえ")]))
    answers = _answers(call)
    assert len(answers) == 2 and not answers[1].dropped, answers
    assert yes_no(answers[1].transcript) is False, answers[1].transcript
    assert answers[1].reply.action is Action.end  # いいえ to 「ほかに、ご質問はありますか」: goodbye


class _Unreadable:
    """A recogniser that hears speech but can read none of it (as Whisper on a bad line)."""

    def transcribe(self, pcm: np.ndarray, *, question: str | None = None, lead_in: object = None) -> AsrResult:
        return AsrResult("", "ご視聴ありがとうございました", "hallucination:video_outro", True, False, False,
                         0.9, -1.5, len(pcm) // 8, 1)


def test_speech_that_cannot_be_read_is_not_understood_never_no_input(sim, speech):
    pool = AsrPool(_Unreadable(), workers=1)  # type: ignore[arg-type]
    deaf = SpeechServices(asr=pool, tts=speech.tts, endpoint=speech.endpoint, join=speech.join)
    try:
        call = asyncio.run(_call(sim, deaf, [line_audio("冷蔵庫を捨てたいです")] * 4))
    finally:
        pool.close()
    replies = [r.reply for r in call.records[1:]]
    assert len(replies) == 4 and all(r.intent == "not_understood" for r in replies), replies
    assert prompts.NOT_UNDERSTOOD_MENU in replies[0].text  # speech not read: a bad line, the keys at once
    assert prompts.NOT_UNDERSTOOD_MENU_AGAIN in replies[1].text  # …again, in other words
    assert prompts.OFFER_STAFF in replies[2].text  # three times: staff are offered
    assert all(r.action is not Action.end for r in replies)  # never hung up on a caller who talks


def test_a_caller_who_asked_for_staff_then_goes_silent_gets_a_ticket_not_a_hangup(brain):
    tickets = InMemoryTicketQueue()
    session = CallSession(brain, tickets, OfficeHoursStaffLine(brain.kb.municipality.business_hours),
                          lambda: CLOSED, caller_number="09012345678")

    async def run():
        await session.start()
        await session.handle(CallerTurn.speech("職員と話したいです"))
        return [await session.handle(CallerTurn.silence()) for _ in range(MAX_SILENCES)]

    last = asyncio.run(run())[-1]
    assert last.action is Action.end and any(e.kind == "ticket" for e in last.events), last
    assert len(asyncio.run(tickets.list_open())) == 1


def test_true_silence_still_ends_the_call_politely(brain):
    session = CallSession(brain, InMemoryTicketQueue(), OfficeHoursStaffLine(brain.kb.municipality.business_hours),
                          lambda: CLOSED)

    async def run():
        await session.start()
        return [await session.handle(CallerTurn.silence()) for _ in range(MAX_SILENCES)]

    replies = asyncio.run(run())
    assert [r.action for r in replies] == [Action.clarify] * (MAX_SILENCES - 1) + [Action.end]


class _Hung:
    def transcribe(self, pcm: np.ndarray, *, question: str | None = None, lead_in: object = None) -> AsrResult:
        import time

        time.sleep(5)  # longer than the simulator's patience in this test
        raise RuntimeError("hung")


def test_sim_audio_reports_a_turn_that_hangs_instead_of_crashing(sim, speech, monkeypatch, tmp_path):
    from ivr.audio.codec import write_wav

    monkeypatch.setattr(sim_audio, "TURN_TIMEOUT_S", 1.0)
    pool = AsrPool(_Hung(), workers=1)  # type: ignore[arg-type]
    hung = SpeechServices(asr=pool, tts=speech.tts, endpoint=speech.endpoint, join=speech.join)
    wav = tmp_path / "q.wav"
    write_wav(wav, np.concatenate([silence(300), line_audio("乾電池は何ごみですか")]))
    try:
        records, transport = asyncio.run(sim_audio.run_audio_call(sim, hung, [wav]))
    finally:
        pool.close(wait=False)
    assert transport.errors and "q.wav" in transport.errors[0]
    assert records[0].reply.intent == "greeting"


def test_a_misheard_short_answer_to_a_yes_no_question_is_asked_again_with_the_keys(brain):
    session = CallSession(brain, InMemoryTicketQueue(), OfficeHoursStaffLine(brain.kb.municipality.business_hours),
                          lambda: CLOSED, caller_number="09012345678")

    async def run():
        await session.start()
        await session.handle(CallerTurn.speech("乾電池は何ごみですか"))  # answered: 「ほかに、ご質問はありますか」
        assert session.yes_no_question() == "ほかに、ご質問はありますか。"
        again = await session.handle(CallerTurn.speech("おや。"))  # Whisper's reading of a lone いいえ
        then = await session.handle(CallerTurn.dtmf("2"))
        return again, then

    again, then = asyncio.run(run())
    assert again.text == prompts.UNCLEAR_YES_NO and "1" in again.text
    assert then.action is Action.end  # 2 = いいえ: nothing else, goodbye
