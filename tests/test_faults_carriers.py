"""Fail-safe, continued: faults outside one call's own stages — the TTS worker process killed
mid-reply, and Asterisk's manager interface failing while a caller is being transferred.

As in test_faults.py, calls are real (models, worker process, AudioSocket over TCP, AMI spoken by a
small peer that behaves as Asterisk does); the fault is real (SIGKILL of the worker's pid, an AMI
that never answers or is gone), and each case checks that the caller hears no more than
``FAULT_BUDGET_S`` of silence and that another call on the same server goes on answering.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest
from test_ami import SECRET, USER, AmiPeer, until
from test_audiosocket import AudioSocketPeer, answered
from test_faults import FAULT_BUDGET_S, open_call, runtime_for

from ivr.speech import tts as tts_module
from ivr.telephony.ami import AmiBridge
from ivr.telephony.audiosocket_server import AudioSocketServer

pytestmark = pytest.mark.filterwarnings("ignore:notifyAll:DeprecationWarning")  # inside asterisk-ami
NEW_WORKER_S = 60.0  # a fresh worker imports pyopenjtalk and loads its voice (seconds on a busy machine)


async def test_the_tts_worker_killed_mid_reply_costs_no_silence_and_a_new_one_starts(server_runtime):
    runtime = runtime_for(server_runtime, None, staff_in=True)
    tts = runtime.speech.tts
    call, transport = await open_call(runtime, "worker-killed")
    other, other_transport = await open_call(runtime, "worker-other")
    (old,) = tts_module.synthesis_worker_pids()
    tts._recent.clear()  # the answer is not in memory from earlier tests: its sentences need the worker
    sent: list[float] = []
    killed: list[float] = []
    send = transport.send_audio

    async def send_and_kill(frame: np.ndarray) -> None:
        if not killed:  # the answer's first frame: its next sentence is being made in the worker
            os.kill(old, signal.SIGKILL)
            killed.append(time.monotonic())
        sent.append(time.monotonic())
        await send(frame)

    transport.send_audio = send_and_kill  # type: ignore[method-assign]
    await call.typed("冷蔵庫を捨てたいんですけど")  # a long answer: many sentences, synthesised one by one
    await until(lambda: bool(killed), 60.0)
    await other.typed("乾電池は何ごみですか")  # the other caller asks while the worker is gone
    await asyncio.gather(call.settled(60), other.settled(60))

    answer = call.records[-1]
    assert "家電リサイクル" in answer.reply.text and answer.reply.action.value == "answer", answer
    assert not [a for a in transport.actions if a["kind"] in ("transfer", "hangup")], transport.actions
    after = [t for t in sent if t >= killed[0]]
    gaps = np.diff([killed[0], *after])
    assert after and gaps.max() < FAULT_BUDGET_S, f"{gaps.max():.2f} s without audio after the kill"
    whole = tts.synthesize(answer.reply.text)  # every sentence of it reached the caller, none dropped
    assert len(transport.prompt_audio(answer.prompt)) >= len(whole)

    reply = other.records[-1]
    assert reply.reply.intent in ("item_category", "dry_cells", "hazardous_how"), reply
    assert len(other_transport.prompt_audio(reply.prompt)) > 8000
    assert not [a for a in other_transport.actions if a["kind"] in ("transfer", "hangup")]

    async with asyncio.timeout(NEW_WORKER_S):  # a new worker took over, and is used again once ready
        while not (tts_module._worker_ready.is_set() and tts_module.synthesis_worker_pids()):
            await asyncio.sleep(0.1)
    (new,) = tts_module.synthesis_worker_pids()
    assert new != old
    rendered = tts.rendered
    pcm = await tts._render_elsewhere("ワーカーが入れ替わりました")
    assert len(pcm) > 4000 and tts.rendered == rendered + 1
    await call.close()
    await other.close()


class FailingAmi(AmiPeer):
    """Asterisk's manager port that takes a Redirect and never answers it (a wedged Asterisk)."""

    def __init__(self) -> None:
        super().__init__()
        self.redirected_at: float | None = None

    def _answer(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> list[dict[str, str]]:
        if action.get("Action", "").lower() == "redirect":
            self.redirected_at = time.monotonic()
            return []
        return super()._answer(writer, action)


@pytest.mark.parametrize("failure", ["wedged", "gone"])
async def test_ami_failing_during_a_transfer_still_reaches_staff_at_once(server_runtime, failure):
    """The Redirect gets no answer, or the AMI link is gone: the hang-up frame goes out anyway, so the
    dialplan's next step (staff) takes the caller within the budget; the other call is untouched."""
    runtime = runtime_for(server_runtime, None, staff_in=True)
    peer = await FailingAmi().start()
    bridge = AmiBridge("127.0.0.1", peer.port, USER, SECRET, backoff_base=0.05, backoff_cap=0.2)
    try:
        async with bridge.running():
            assert await bridge.wait_connected(5)
            async with AudioSocketServer(runtime, bridge, host="127.0.0.1", port=0, pace=False).running() as server:
                callers = []
                for n in (1, 2):
                    caller = AudioSocketPeer(server.port)
                    peer.add_channel(f"PJSIP/trunk-0000000{n}", caller.key, f"07423456{n:02d}")
                    peer.user_event(f"PJSIP/trunk-0000000{n}")
                    await caller.connect()
                    await until(lambda c=caller: c.key in runtime.calls)
                    callers.append((caller, runtime.calls[caller.key]))
                try:
                    (caller, call), (other, other_call) = callers
                    await answered(call, 1)
                    await answered(other_call, 1)
                    await until(lambda: call.session.state.caller_number == "0742345601")  # the channel is known
                    if failure == "gone":
                        await peer.stop()  # Asterisk's manager went away (restart, network)
                    pressed = time.monotonic()
                    caller.dtmf("0")
                    await asyncio.wait_for(caller.hangup.wait(), 10)
                    took = time.monotonic() - pressed
                    transport = server.transports.get(caller.key) or call.transport
                    assert call.records[-1].reply.action.value == "transfer"
                    assert transport.outcome == "dialplan"  # not redirected: the dialplan sends them to staff
                    if failure == "wedged":
                        assert peer.redirected_at is not None
                    assert took < FAULT_BUDGET_S, f"{took:.2f} s from the key to the hand-over"

                    other.dtmf("1")  # the other caller goes on
                    await answered(other_call, 2)
                    assert other_call.records[-1].reply.intent == "item_category" and not other_call.ended
                finally:
                    for c, _ in callers:
                        await c.close()
    finally:
        await peer.stop()
