"""Real calls leave records: a Runtime session, the Twilio gather webhooks (signed with the real
``twilio`` library), an audio call through ``VoiceCall``; and ``GET /metrics`` counts them."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from analytics.metrics import CallMetrics
from analytics.records import ABANDONED, ANSWERED, TICKET, TRANSFERRED
from ivr.audio.codec import frames, ulaw_decode, ulaw_encode
from ivr.dialogue.turns import CallerTurn
from ivr.server.app import create_app
from ivr.speech.voice_call import VoiceCall
from simulator.audio import RecordingTransport

TOKEN = "test-auth-token"
PUBLIC = "https://ivr.example.test"


def recording(server_runtime, call_log, **settings):
    """The shared test runtime with its own call log, metrics and settings."""
    return dataclasses.replace(server_runtime, settings=server_runtime.settings.model_copy(update=settings),
                               calls={}, call_log=call_log, metrics=CallMetrics(), saving=set())


def wait_for(get, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while (found := get()) is None:
        assert time.monotonic() < deadline, "no record"
        time.sleep(0.05)
    return found


def test_a_runtime_session_is_recorded_when_it_ends(server_runtime, call_log):
    runtime = recording(server_runtime, call_log)

    async def run():
        session = runtime.session("S1", caller_number="0742340000")
        await session.start()
        answer = await session.handle(CallerTurn.speech("ペットボトルは何ごみですか"))
        await session.handle(CallerTurn.speech("ふにゃらかぽん"))
        await session.handle(CallerTurn.hangup())
        assert runtime.record_call(session, "test") is not None
        assert runtime.record_call(session, "test") is None  # once per call
        await runtime.drain_records()
        return answer

    answer = asyncio.run(run())
    record = call_log.get("S1")
    assert record.outcome == ANSWERED and record.transport == "test" and record.caller_masked == "0742-**-0000"
    assert [t.kind for t in record.turns] == ["speech", "speech", "hangup"]
    first, second = record.turns[0], record.turns[1]
    assert first.intent == answer.intent == "cans_bottles_how" and first.item == "ペットボトル" and first.understood
    assert first.reply_ms > 0 and first.asr_ms is None and first.text == "ペットボトルは何ごみですか"
    assert not second.understood
    assert [f.text for f in call_log.failed_utterances(record.started_at)] == ["ふにゃらかぽん"]
    assert runtime.metrics.outcomes.labels(ANSWERED)._value.get() == 1


def test_a_ticket_call_keeps_no_number_or_name(server_runtime, call_log):
    evening = datetime(2016, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # after hours: a callback ticket
    runtime = dataclasses.replace(recording(server_runtime, call_log), clock=lambda: evening)

    async def run():
        session = runtime.session("S3", caller_number="+819012345678")
        await session.start()
        said = ("ソファを一つ出したいです", "はい", "佐藤花子です", "電話は09087654321です")
        for turn in (CallerTurn.dtmf("3"), *map(CallerTurn.speech, said), CallerTurn.hangup()):
            await session.handle(turn)
        runtime.record_call(session, "test")
        await runtime.drain_records()

    asyncio.run(run())
    record = call_log.get("S3")
    assert record.outcome == TICKET and record.reason == "oogata" and record.ticket_number
    said = [t.text for t in record.turns]
    assert said[:4] == ["", "ソファを一つ出したいです", "［電話番号の確認］", "［お名前］"]
    assert said[4] == "電話は090-****-4321です"  # a number said anywhere else is masked
    assert not any("佐藤" in t or "12345678" in t for t in said)


def test_a_failed_save_never_breaks_the_call(server_runtime, caplog):
    class Broken:
        def save(self, record):
            raise OSError("disk full")

    runtime = recording(server_runtime, Broken())

    async def run():
        session = runtime.session("S2")
        await session.handle(CallerTurn.hangup())
        runtime.record_call(session, "test")
        await runtime.drain_records()

    asyncio.run(run())
    assert "its record was not saved" in caplog.text
    assert runtime.metrics.errors.labels("record_save")._value.get() == 1


def post(client: TestClient, path: str, data: dict[str, str]) -> str:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, data)
    r = client.post(path, data=data, headers={"X-Twilio-Signature": signature})
    assert r.status_code in (200, 204), r.text
    return r.text


def params(sid: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+819012345678", "To": "+81742000000",
            "CallStatus": "in-progress", **extra}


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_gather_calls_are_recorded_and_counted_in_metrics(server_runtime, call_log):
    runtime = recording(server_runtime, call_log, twilio_mode="gather", staff_number="+81742340000",
                        metrics_token="s3cret")
    answered, transferred, abandoned = "CA" + "a" * 32, "CA" + "b" * 32, "CA" + "c" * 32
    with TestClient(create_app(runtime)) as client:
        post(client, "/twilio/voice", params(answered))
        post(client, "/twilio/gather", params(answered, SpeechResult="ペットボトルは何ごみですか"))
        assert "<Hangup" in post(client, "/twilio/gather", params(answered, SpeechResult="ありがとう、さようなら"))
        post(client, "/twilio/voice", params(transferred))
        assert "<Dial" in post(client, "/twilio/gather", params(transferred, Digits="0"))
        post(client, "/twilio/voice", params(abandoned))
        post(client, "/twilio/status", params(abandoned, CallStatus="completed"))  # hung up during the greeting
        records = {sid: wait_for(lambda s=sid: call_log.get(s)) for sid in (answered, transferred, abandoned)}
        text = client.get("/metrics").text  # TestClient is a loopback client
        assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
        assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9",
                                               "Authorization": "Bearer wrong"}).status_code == 403
        assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9",
                                               "Authorization": "Bearer s3cret"}).status_code == 200
    assert records[answered].outcome == ANSWERED and records[answered].items == ["ペットボトル"]
    assert records[transferred].outcome == TRANSFERRED and records[transferred].reason == "operator"
    assert records[abandoned].outcome == ABANDONED and [t.kind for t in records[abandoned].turns] == ["hangup"]
    assert all(r.transport == "twilio_gather" and r.caller_masked == "090-****-5678" for r in records.values())
    assert metric(text, "ivr_calls_total", transport="twilio_gather") == 3
    assert metric(text, "ivr_call_outcomes_total", outcome=ANSWERED) == 1
    assert metric(text, "ivr_call_outcomes_total", outcome=TICKET) == 0
    assert metric(text, "ivr_call_duration_seconds_count") == 3
    assert metric(text, "ivr_reply_latency_seconds_count") >= 3
    assert metric(text, "ivr_active_calls") == 0 and metric(text, "ivr_asr_queue_depth") == 0
    assert metric(text, "ivr_errors_total", kind="record_save") == 0


def test_an_audio_call_records_asr_times(server_runtime, call_log, speech):
    runtime = recording(server_runtime, call_log)
    silence = np.zeros(8000 * 2, np.int16)

    async def run():
        transport = RecordingTransport()
        call = VoiceCall(runtime.session("AUDIO1"), speech, transport, pace=False)
        transport.call = call
        runtime.calls["AUDIO1"] = call
        await call.start()
        await call.settled(60.0)
        pcm = ulaw_decode(ulaw_encode(speech.tts.synthesize("ペットボトルは何ごみですか")))
        for frame in frames(np.concatenate([silence[:2400], pcm, silence])):
            await call.audio(frame)
        await call.settled(60.0)
        await runtime.end_call("AUDIO1", call)  # the carrier's socket closed: the caller hung up
        await runtime.drain_records()

    asyncio.run(run())
    record = call_log.get("AUDIO1")
    assert record.transport == "sim_audio" and record.outcome == ANSWERED
    spoken = [t for t in record.turns if t.kind == "speech"]
    assert spoken and spoken[0].asr_ms > 0 and spoken[0].item == "ペットボトル"
    assert record.turns[-1].kind == "hangup" and "AUDIO1" not in runtime.calls


def test_a_gather_call_dropped_idle_is_recorded_at_its_last_turn(server_runtime, call_log):
    from ivr.telephony.twilio_voice import GATHER, GatherSessions, TwilioState, twilio_router

    runtime = recording(server_runtime, call_log)
    state = TwilioState(sessions=GatherSessions(idle_s=0.2))  # no status callback configured on the number
    twilio_router(runtime, state)

    async def run():
        session = runtime.session("G1")
        await session.start()
        await session.handle(CallerTurn.speech("フライパンは何ごみですか"))
        state.sessions.put("G1", session)
        await asyncio.sleep(0.5)
        assert state.sessions.get("another call") is None and "G1" not in state.sessions
        await runtime.drain_records()

    asyncio.run(run())
    record = call_log.get("G1")
    assert record.transport == GATHER and record.outcome == ANSWERED and record.duration_s < 0.4
