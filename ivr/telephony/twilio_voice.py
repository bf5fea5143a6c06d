"""Twilio's webhooks: answer a call, run gather mode, and say what follows a media stream.

Two ways to run a call (IVR_TWILIO_MODE):

- ``stream``: ``<Connect action="/twilio/after-stream"><Stream>`` to our websocket; our ASR, TTS,
  barge-in and pacing (``twilio_stream``). When the stream ends Twilio asks the action URL, which
  answers with staff (``<Dial>``/``<Enqueue>`` of the target the routing policy chose for the
  hand-off's reason) or ``<Hangup/>``, as the call decided.
- ``gather``: Twilio's own ASR (``<Gather input="speech dtmf">``) with hints from the knowledge
  base, our dialogue and our voice (``<Play>`` of clips this server synthesises), ``<Say>`` when
  synthesis fails. A fallback for sites whose network cannot carry a media websocket. A gather
  call is in no socket between webhooks; ``twilio_gather_calls`` keeps it (in progress until an
  ending TwiML or the status callback) for the drain on SIGTERM and ``ivr_active_calls``. While the
  server drains, a call's next webhook is answered with the hand-over a failure gets: the apology,
  then staff, or a ticket when no one is in.

Every webhook is checked against Twilio's signature first (``twilio_auth``). TwiML is built with
the official library's ``VoiceResponse``, never by string.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from twilio.twiml import TwiML
from twilio.twiml.voice_response import Gather, VoiceResponse

from escalation.policy import Target
from ivr.dialogue.turns import Action, BotTurn, CallerTurn
from ivr.server.shutdown import HANDOVER_REASON
from ivr.telephony.audio_store import AudioStore, ulaw_wav
from ivr.telephony.twilio_auth import STREAM_TOKEN_PARAM, StreamTokens, public_base, signed_form, stream_url
from ivr.telephony.twilio_gather_calls import GatherSessions, live_window_s
from ivr.telephony.twilio_stream import MediaStream, StreamOutcomes, StreamStats

if TYPE_CHECKING:
    from ivr.dialogue.session import CallSession
    from ivr.knowledge.base import KnowledgeBase
    from ivr.server.runtime import Runtime

log = logging.getLogger(__name__)

PREFIX = "/twilio"
MEDIA_PATH = f"{PREFIX}/media"
GATHER_PATH = f"{PREFIX}/gather"
AFTER_STREAM_PATH = f"{PREFIX}/after-stream"
AUDIO_PATH = f"{PREFIX}/audio"
LANGUAGE = "ja-JP"
CALLER_NUMBER_CHARS = frozenset("+0123456789")  # E.164; "anonymous", "client:…" and junk give no number
HINTS_MAX = 500  # Twilio's limit on hint entries (error 13330)
HINT_MAX_CHARS = 100  # Twilio's limit per entry
HINTS_MAX_CHARS = 6000  # whole attribute: keeps every gather response small; categories and towns fit first
SYNTH_TIMEOUT_S = 8.0  # Twilio waits 15 s for TwiML; past this a reply is spoken by <Say> instead
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
GATHER = "twilio_gather"  # the transport named in gather-mode call records


def caller_number(form: Any) -> str:
    """The caller's number from a webhook's From, as digits and +: it goes back out in TwiML (a
    control character there made the document unparseable, found by fuzzing) and into tickets."""
    number = str(form.get("From", ""))[:32]
    return "".join(ch for ch in number if ch in CALLER_NUMBER_CHARS)


def speech_hints(kb: KnowledgeBase) -> str:
    """Words Twilio's recogniser should expect, most useful first: category names, then town
    names (proper nouns a general recogniser gets wrong), then item names, up to Twilio's limits."""
    phrases = [c.name for c in kb.categories] + [a.town for a in kb.areas] + [i.name for i in kb.items]
    hints: list[str] = []
    seen: set[str] = set()
    size = 0
    for phrase in phrases:
        phrase = phrase.replace(",", " ").replace("、", " ").strip()[:HINT_MAX_CHARS]
        if not phrase or phrase in seen:
            continue
        if len(hints) >= HINTS_MAX or size + len(phrase) + 1 > HINTS_MAX_CHARS:
            break
        seen.add(phrase)
        hints.append(phrase)
        size += len(phrase) + 1
    return ",".join(hints)


@dataclass
class TwilioState:
    """What the Twilio routes keep between requests, in memory (one process serves the line)."""

    tokens: StreamTokens = field(default_factory=StreamTokens)
    outcomes: StreamOutcomes = field(default_factory=StreamOutcomes)
    sessions: GatherSessions = field(default_factory=GatherSessions)
    audio: AudioStore = field(default_factory=AudioStore)
    stats: StreamStats = field(default_factory=StreamStats)
    hints: str | None = None
    hints_kb: object = None  # the knowledge base ``hints`` came from: a console edit reloads it with new words


def twiml(response: TwiML) -> Response:
    return Response(content=str(response), media_type="application/xml")


def twilio_router(runtime: Runtime, state: TwilioState | None = None) -> APIRouter:
    """Routes for Twilio; ``state`` is made here unless a test wants to look into it."""
    state = state or TwilioState()
    router = APIRouter(tags=["twilio"])
    state.sessions.on_expire = lambda session: runtime.record_call(session, GATHER, idle=True)
    state.sessions.live_s = live_window_s(runtime.settings.no_input_timeout_ms)
    runtime.gather_calls = state.sessions.in_progress  # the drain waits for them; /metrics counts them

    def staff(response: VoiceResponse, data: dict[str, Any] | None = None) -> None:
        """To the desk the call's transfer event names (routing.yaml via the policy); a transfer
        without one (a broken stream, an error) goes to the deployment's staff line."""
        target = Target.from_data(data)
        number, queue = (target.twilio_number, target.twilio_queue) if target else ("", "")
        if not number and not queue:  # the desk has no line of its own: the deployment's staff line
            number, queue = runtime.settings.staff_number, runtime.settings.staff_queue
        if number:
            response.dial(number)
        else:
            response.enqueue(queue)

    async def clip(text: str) -> str | None:
        """Id of our TTS audio of ``text`` in the store; None when synthesis failed."""
        try:
            async with asyncio.timeout(SYNTH_TIMEOUT_S):  # all units at once: the clip plays only when whole
                pcm = await runtime.speech.tts.whole(text)
            if not pcm.size:
                raise ValueError("no audio")
            return state.audio.put(await asyncio.to_thread(ulaw_wav, pcm))
        except Exception as e:
            log.warning("synthesis failed (%r); Twilio will <Say> the reply instead", e)
            return None

    async def speak(parent: VoiceResponse | Gather, text: str) -> None:
        if not text:
            return
        clip_id = await clip(text)
        if clip_id is None:
            parent.say(text, language=LANGUAGE)
        else:
            parent.play(f"{public_base(runtime.settings)}{AUDIO_PATH}/{clip_id}.wav")

    def hints() -> str:
        if state.hints is None or state.hints_kb is not runtime.brain.kb:
            state.hints, state.hints_kb = speech_hints(runtime.brain.kb), runtime.brain.kb
        return state.hints

    async def gather_reply(call_sid: str, session: CallSession, reply: BotTurn) -> Response:
        response = VoiceResponse()
        if reply.action is Action.transfer:  # the call leaves the sessions once its last words are made:
            await speak(response, reply.text)  # a drain that saw it gone keeps serving for the clip's fetch
            staff(response, next((e.data for e in reply.events if e.kind == "transfer"), None))
            state.sessions.pop(call_sid)
            runtime.record_call(session, GATHER)
        elif reply.action is Action.end or session.state.ended:
            await speak(response, reply.text)
            response.hangup()
            state.sessions.pop(call_sid)
            runtime.record_call(session, GATHER)
        else:
            number = session.wants_number()  # a phone number: digits until #, not one menu key
            gather = response.gather(
                input="speech dtmf", action=GATHER_PATH, method="POST", language=LANGUAGE, hints=hints(),
                speech_timeout="auto", timeout=math.ceil(runtime.settings.no_input_timeout_ms / 1000),
                num_digits=None if number else 1, finish_on_key="#",
            )
            await speak(gather, reply.text)
            response.redirect(GATHER_PATH, method="POST")  # no input: Twilio falls through to here
        return twiml(response)

    @router.post(f"{PREFIX}/voice")
    async def voice(request: Request) -> Response:
        """A call rings: stream it to our websocket, or start a gather dialogue."""
        form = await signed_form(request, runtime.settings)
        call_sid = form.get("CallSid", "")
        if not call_sid:
            raise HTTPException(status_code=400, detail="CallSid missing")
        if runtime.full():  # IVR_MAX_CALLS reached: a person answers rather than a bot that would lag
            log.warning("call %s: %d calls up (IVR_MAX_CALLS) or stopping; straight to staff", call_sid,
                        len(runtime.calls))
            response = VoiceResponse()
            staff(response)
            return twiml(response)
        if runtime.settings.twilio_mode == "gather":
            session = runtime.session(call_sid, caller_number(form))
            state.sessions.put(call_sid, session)
            return await gather_reply(call_sid, session, await session.start())
        if runtime.settings.twilio_mode != "stream":
            log.error("unknown IVR_TWILIO_MODE %r; streaming", runtime.settings.twilio_mode)
        response = VoiceResponse()
        connect = response.connect(action=AFTER_STREAM_PATH, method="POST")
        stream = connect.stream(url=stream_url(request, runtime.settings, MEDIA_PATH))
        stream.parameter(name=STREAM_TOKEN_PARAM, value=state.tokens.issue(call_sid))
        stream.parameter(name="from", value=caller_number(form))
        return twiml(response)

    @router.post(GATHER_PATH)
    async def gathered(request: Request) -> Response:
        """What Twilio heard (SpeechResult) or the keys pressed (Digits); nothing on a timeout."""
        form = await signed_form(request, runtime.settings)
        call_sid = form.get("CallSid", "")
        if not call_sid:
            raise HTTPException(status_code=400, detail="CallSid missing")
        session = state.sessions.get(call_sid)
        if session is None:  # restarted or expired: the caller's words still deserve an answer
            log.warning("gather for unknown call %s: starting a fresh session", call_sid)
            session = runtime.session(call_sid, caller_number(form))
            state.sessions.put(call_sid, session)
        speech, digits = form.get("SpeechResult", "").strip(), form.get("Digits", "").strip()
        turn = CallerTurn.speech(speech) if speech else CallerTurn.dtmf(digits) if digits else CallerTurn.silence()
        reply = await session.handle(turn)  # the caller's words count (a ticket being taken keeps them)
        if runtime.draining and not session.state.ended:  # no later webhook may find the server gone
            log.info("call %s: handed on (the server is stopping)", call_sid)
            reply = await session.system_error(HANDOVER_REASON)  # as on a failure: apology, staff or a ticket
        return await gather_reply(call_sid, session, reply)

    @router.post(AFTER_STREAM_PATH)
    async def after_stream(request: Request) -> Response:
        """The media stream ended (<Connect action>): staff, or hang up if the bot said goodbye."""
        form = await signed_form(request, runtime.settings)
        call_sid = form.get("CallSid", "")
        outcome = state.outcomes.pop(call_sid)
        response = VoiceResponse()
        if outcome is not None and outcome.action == "hangup":
            response.hangup()
        else:
            if outcome is None:
                log.warning("call %s: stream ended without a decision; to staff", call_sid)
            staff(response, outcome.data if outcome is not None else None)
        return twiml(response)

    @router.post(f"{PREFIX}/status")
    async def call_status(request: Request) -> Response:
        """Status callback (set on the number): a finished call's state is dropped."""
        form = await signed_form(request, runtime.settings)
        call_sid = form.get("CallSid", "")
        if form.get("CallStatus", "") in FINAL_STATUSES:
            session = state.sessions.pop(call_sid)
            if session is not None and not session.state.ended:
                await session.handle(CallerTurn.hangup())  # keeps a ticket being taken
            if session is not None:
                runtime.record_call(session, GATHER)
            state.outcomes.pop(call_sid)
            state.tokens.forget(call_sid)
        return Response(status_code=204)

    @router.get(AUDIO_PATH + "/{clip_id}.wav")
    async def audio(clip_id: str) -> Response:
        """A reply clip for <Play>; the random id is the key (Twilio fetches it unauthenticated)."""
        wav = state.audio.get(clip_id)
        if wav is None:
            raise HTTPException(status_code=404)
        return Response(content=wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    @router.websocket(MEDIA_PATH)
    async def media(websocket: WebSocket) -> None:
        await MediaStream(websocket, runtime, state.tokens, state.outcomes, state.stats).run()

    return router
