"""Twilio webhooks: signatures, the TwiML we answer with, gather mode with our own voice.

Requests are signed with the official ``RequestValidator`` exactly as Twilio signs them, TwiML
is parsed as XML, and the audio we serve is checked with soundfile and heard by Whisper.
Streamed calls (the media websocket) are in ``test_twilio_stream.py``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from rapidfuzz import fuzz
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from ivr.language.readings import reading
from ivr.server.app import create_app
from ivr.telephony.twilio_auth import StreamTokens
from ivr.telephony.twilio_media import ProtocolError, Reframer, parse_message, prompt_of_mark
from ivr.telephony.twilio_voice import speech_hints

TOKEN = "test-auth-token"
PUBLIC = "https://ivr.example.test"
STAFF = "+81742340000"


def params(call_sid: str = "CA" + "1" * 32, **extra: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": "+819012345678",
            "To": "+81742000000", "CallStatus": "in-progress", **extra}


def post(client: TestClient, path: str, data: dict[str, str], token: str = TOKEN,
         base: str = PUBLIC) -> ET.Element:
    signature = RequestValidator(token).compute_signature(base + path, data)
    r = client.post(path, data=data, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    return ET.fromstring(r.text)


def variant(server_runtime, **settings):
    return dataclasses.replace(server_runtime, settings=server_runtime.settings.model_copy(update=settings),
                               calls={})


@pytest.fixture(scope="module")
def stream_client(server_runtime):
    with TestClient(create_app(variant(server_runtime, staff_number=STAFF))) as client:
        yield client


@pytest.fixture(scope="module")
def gather_runtime(server_runtime):
    return variant(server_runtime, twilio_mode="gather", staff_number=STAFF)


@pytest.fixture(scope="module")
def gather_client(gather_runtime):
    with TestClient(create_app(gather_runtime)) as client:
        yield client


# --- signatures --------------------------------------------------------------------------


def test_incoming_call_streams_to_our_websocket(stream_client):
    response = post(stream_client, "/twilio/voice", params())
    connect = response.find("Connect")
    assert connect is not None and connect.get("action") == "/twilio/after-stream"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://ivr.example.test/twilio/media"
    parameters = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
    assert len(parameters["token"]) >= 20 and parameters["from"] == "+819012345678"
    second = post(stream_client, "/twilio/voice", params("CA" + "2" * 32))
    assert second.find("./Connect/Stream/Parameter").get("value") != parameters["token"]


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}])
def test_unsigned_or_badly_signed_webhooks_are_refused(stream_client, headers):
    for path in ("/twilio/voice", "/twilio/gather", "/twilio/after-stream", "/twilio/status"):
        assert stream_client.post(path, data=params(), headers=headers).status_code == 403


def test_signature_must_cover_the_parameters_and_url(stream_client):
    data = params()
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/voice", data)
    tampered = data | {"From": "+815000000000"}
    assert stream_client.post("/twilio/voice", data=tampered, headers={"X-Twilio-Signature": signature}).status_code \
        == 403
    other = RequestValidator(TOKEN).compute_signature("https://evil.example/twilio/voice", data)
    assert stream_client.post("/twilio/voice", data=data, headers={"X-Twilio-Signature": other}).status_code == 403
    wrong_key = RequestValidator("another-token").compute_signature(PUBLIC + "/twilio/voice", data)
    assert stream_client.post("/twilio/voice", data=data, headers={"X-Twilio-Signature": wrong_key}).status_code \
        == 403


def test_without_an_auth_token_everything_is_refused(server_runtime, caplog):
    with TestClient(create_app(variant(server_runtime, twilio_auth_token=""))) as client:
        data = params()
        signature = RequestValidator("").compute_signature(PUBLIC + "/twilio/voice", data)
        r = client.post("/twilio/voice", data=data, headers={"X-Twilio-Signature": signature})
        assert r.status_code == 403
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/twilio/media"):
            pass
        assert closed.value.code == 1008
    assert "IVR_TWILIO_AUTH_TOKEN is not set" in caplog.text


def test_without_a_public_url_the_request_url_is_signed(server_runtime):
    with TestClient(create_app(variant(server_runtime, public_url=""))) as client:
        response = post(client, "/twilio/voice", params(), base="http://testserver")
        assert response.find("./Connect/Stream").get("url") == "wss://testserver/twilio/media"
        assert client.post("/twilio/voice", data=params(), headers={
            "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/voice", params()),
        }).status_code == 403


def test_media_websocket_needs_the_handshake_signature_then_a_token(stream_client):
    start = {"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {}}}
    for url in ("wss://ivr.example.test/twilio/media", "https://ivr.example.test/twilio/media"):
        signature = RequestValidator(TOKEN).compute_signature(url, {})
        with stream_client.websocket_connect("/twilio/media", headers={"X-Twilio-Signature": signature}) as ws:
            ws.send_text(json.dumps(start))  # signed, but no one-time token
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1008
    with pytest.raises(WebSocketDisconnect) as refused, stream_client.websocket_connect("/twilio/media"):
        pass
    assert refused.value.code == 1008


def test_after_stream_without_a_decision_goes_to_staff(stream_client, server_runtime):
    assert post(stream_client, "/twilio/after-stream", params("CA" + "9" * 32)).find("Dial").text == STAFF
    with TestClient(create_app(variant(server_runtime))) as client:  # no staff number: the queue
        enqueue = post(client, "/twilio/after-stream", params()).find("Enqueue")
        assert enqueue is not None and enqueue.text == server_runtime.settings.staff_queue


# --- gather mode -------------------------------------------------------------------------


def fetch_clip(client: TestClient, play: ET.Element) -> bytes:
    url = urlsplit(play.text)
    assert url.netloc == "ivr.example.test" and url.path.startswith("/twilio/audio/") and url.path.endswith(".wav")
    r = client.get(url.path)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    info = sf.info(io.BytesIO(r.content))
    assert (info.samplerate, info.channels, info.format, info.subtype) == (8000, 1, "WAV", "ULAW")
    return r.content


def assert_gathers(response: ET.Element) -> ET.Element:
    gather = response.find("Gather")
    assert gather is not None
    assert gather.get("input") == "speech dtmf" and gather.get("language") == "ja-JP"
    assert gather.get("action") == "/twilio/gather" and gather.get("speechTimeout") == "auto"
    assert response.find("Redirect").text == "/twilio/gather"  # no input: a silence turn
    return gather


def test_gather_mode_greets_with_hints_and_our_voice(gather_client, gather_runtime):
    response = post(gather_client, "/twilio/voice", params("CA" + "3" * 32))
    gather = assert_gathers(response)
    hints = gather.get("hints").split(",")
    kb = gather_runtime.brain.kb
    assert hints[0] == kb.categories[0].name and kb.areas[0].town in hints
    assert len(hints) <= 500 and all(0 < len(h) <= 100 for h in hints)
    fetch_clip(gather_client, gather.find("Play"))
    assert gather_client.get("/twilio/audio/not-a-clip.wav").status_code == 404


def test_gather_mode_answers_transfers_and_ends(gather_client, gather_runtime):
    sid = "CA" + "4" * 32
    post(gather_client, "/twilio/voice", params(sid))
    response = post(gather_client, "/twilio/gather", params(sid, SpeechResult="冷蔵庫を捨てたい", Confidence="0.9"))
    play = assert_gathers(response).find("Play")
    wav = fetch_clip(gather_client, play)
    pcm, _ = sf.read(io.BytesIO(wav), dtype="int16")
    heard = gather_runtime.speech.asr.submit(pcm[:10 * 8000]).result(timeout=60).text
    assert fuzz.partial_ratio(reading("家電リサイクル法の対象です"), reading(heard)) >= 70, heard

    silence = post(gather_client, "/twilio/gather", params(sid))  # the <Redirect> after a timeout
    assert_gathers(silence)

    transfer = post(gather_client, "/twilio/gather", params(sid, Digits="0"))
    assert transfer.find("Play") is not None and transfer.find("Dial").text == STAFF
    assert transfer.find("Gather") is None

    goodbye_sid = "CA" + "5" * 32
    post(gather_client, "/twilio/voice", params(goodbye_sid))
    end = post(gather_client, "/twilio/gather", params(goodbye_sid, SpeechResult="ありがとう、さようなら"))
    assert end.find("Hangup") is not None and end.find("Gather") is None


def test_status_callback_ends_a_gather_call(gather_client, caplog):
    sid = "CA" + "6" * 32
    post(gather_client, "/twilio/voice", params(sid))
    post(gather_client, "/twilio/gather", params(sid, Digits="9"))
    assert "fresh session" not in caplog.text
    data = params(sid, CallStatus="completed")
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/status", data)
    assert gather_client.post("/twilio/status", data=data, headers={"X-Twilio-Signature": signature}).status_code \
        == 204
    post(gather_client, "/twilio/gather", params(sid, Digits="9"))  # its session is gone: a fresh one
    assert "fresh session" in caplog.text


def test_speech_hints_stay_within_twilios_limits(brain):
    hints = speech_hints(brain.kb).split(",")
    assert 0 < len(hints) <= 500 and len(set(hints)) == len(hints)
    assert len(",".join(hints)) <= 6000 and all(len(h) <= 100 for h in hints)


# --- the protocol as data ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["{", "[]", '{"event": "nope"}', '{"event": "media", "media": {"payload": "@@"}}',
                                  '{"event": "media"}', '{"event": "dtmf", "dtmf": {"digit": "12"}}',
                                  '{"event": "start", "start": {"callSid": "CA1"}}', b"binary"])
def test_bad_messages_raise_protocol_errors(text):
    with pytest.raises(ProtocolError):
        parse_message(text)


def test_reframer_makes_20ms_frames_from_any_payload_size():
    reframer = Reframer()
    frames = [f for size in (7, 333, 1, 159, 500) for f in reframer.push(bytes([0xFF]) * size)]
    assert len(frames) == 1000 // 160 and all(len(f) == 160 for f in frames)
    assert prompt_of_mark("prompt-12") == 12 and prompt_of_mark("other") is None


def test_stream_tokens_are_one_time_and_expire():
    now = [0.0]
    tokens = StreamTokens(ttl_s=60, clock=lambda: now[0])
    token = tokens.issue("CA1")
    assert not tokens.consume("CA2", token)
    assert tokens.consume("CA1", token) and not tokens.consume("CA1", token)
    late = tokens.issue("CA3")
    now[0] = 61
    assert not tokens.consume("CA3", late)


# --- per-reason targets (routing.yaml) ----------------------------------------------------------

OOGATA_NUMBER = "+815012345678"
ROUTING_YAML = """targets:
  oogata: {label: 大型ごみ受付, topics: [oversize_booking, oversize_fee], twilio_number: "+815012345678",
           asterisk_context: gomi-desks, asterisk_exten: oogata, basis: nara-4524}
  animal: {label: 動物の死がい担当, topics: [dead_animal], twilio_queue: gomi-animal, basis: inferred}
  general: {label: ごみ案内の職員, topics: [operator, callback], basis: inferred}
"""


def routed_runtime(runtime, folder, **settings):
    """``runtime`` on a copy of the knowledge base whose routing.yaml gives desks their own lines."""
    import shutil

    from ivr.dialogue.state import Brain

    shutil.copytree(runtime.brain.kb.root, folder)
    (folder / "routing.yaml").write_text(ROUTING_YAML, encoding="utf-8")
    kb = dataclasses.replace(runtime.brain.kb, root=folder)
    return dataclasses.replace(variant(runtime, **settings), brain=Brain(kb, runtime.brain.nlu))


@pytest.fixture(scope="module")
def routed_gather_client(server_runtime, tmp_path_factory):
    runtime = routed_runtime(server_runtime, tmp_path_factory.mktemp("kb") / "nara", twilio_mode="gather",
                             staff_number=STAFF)
    with TestClient(create_app(runtime)) as client:
        yield client


def test_gather_transfers_each_reason_to_its_desk(routed_gather_client):
    from twilio.twiml.voice_response import VoiceResponse

    oogata_sid, animal_sid, operator_sid = ("CA" + d * 32 for d in "678")
    for sid in (oogata_sid, animal_sid, operator_sid):
        post(routed_gather_client, "/twilio/voice", params(sid))
    oogata = post(routed_gather_client, "/twilio/gather", params(oogata_sid, Digits="3"))  # 大型ごみ, in hours
    expected = VoiceResponse()
    expected.dial(OOGATA_NUMBER)
    assert ET.tostring(oogata.find("Dial")) == ET.tostring(ET.fromstring(str(expected)).find("Dial"))
    assert oogata.find("Play") is not None and oogata.find("Enqueue") is None

    animal = post(routed_gather_client, "/twilio/gather", params(animal_sid, SpeechResult="道路で猫が死んでるんです"))
    assert animal.find("Enqueue").text == "gomi-animal" and animal.find("Dial") is None

    operator = post(routed_gather_client, "/twilio/gather", params(operator_sid, Digits="0"))  # general: settings
    assert operator.find("Dial").text == STAFF


def test_after_stream_dials_the_target_the_transfer_named(server_runtime):
    """Media Streams: the transfer's data (reason, target) is kept for the CallSid; the after-stream
    webhook answers with that desk's <Dial>/<Enqueue>."""
    from fastapi import FastAPI

    from escalation.policy import Target
    from ivr.telephony.twilio_stream import Outcome
    from ivr.telephony.twilio_voice import TwilioState, twilio_router

    state = TwilioState()
    app = FastAPI()
    app.include_router(twilio_router(variant(server_runtime, staff_number=STAFF), state))
    queue_target = Target("animal", "動物の死がい担当", "", "gomi-animal", "gomi-staff", "s")
    number_target = Target("oogata", "大型ごみ受付", OOGATA_NUMBER, "gomi-staff", "gomi-desks", "oogata")
    a_sid, b_sid, c_sid = ("CA" + d * 32 for d in "abc")
    state.outcomes.set(a_sid, Outcome("transfer", {"reason": "animal", "target": queue_target.to_data()}))
    state.outcomes.set(b_sid, Outcome("transfer", {"reason": "oogata", "target": number_target.to_data()}))
    state.outcomes.set(c_sid, Outcome("transfer", {"reason": "stream_error"}))  # no target: the settings' line
    with TestClient(app) as client:
        assert post(client, "/twilio/after-stream", params(a_sid)).find("Enqueue").text == "gomi-animal"
        assert post(client, "/twilio/after-stream", params(b_sid)).find("Dial").text == OOGATA_NUMBER
        assert post(client, "/twilio/after-stream", params(c_sid)).find("Dial").text == STAFF
