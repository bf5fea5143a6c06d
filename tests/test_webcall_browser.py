"""The browser test call (``/call``) in a real headless Chromium, against a real uvicorn server.

Chromium's fake microphone plays a WAV the test makes with the bundled TTS (a question after three
seconds of silence, then silence); the page captures it with its AudioWorklet and streams it over
the websocket as a browser with a real microphone would. Nothing of ours is mocked: the server is
``create_app`` on the real models. The caller asks over the greeting (barge-in keeps the test
short); the page must show the question as heard and the bot's answer, receive the answer's audio
(transcribed here with the same Whisper), pass a keypad press through, and hang up so the server
forgets the call. Screenshots of ``/`` and of the call page mid-call go to tests/artifacts/.

Playwright drives Debian's /usr/bin/chromium; nothing downloads a browser. Without that binary
(or Playwright) the test skips, except under IVR_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rapidfuzz import fuzz

from conftest import CHROMIUM, require_browser, uvicorn_thread
from ivr.audio.codec import resample, to_int16, write_wav
from ivr.language.readings import reading
from ivr.server.app import create_app

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}  # the office PCs the page is meant for
STEP_TIMEOUT_MS = 15_000  # one page load or click
TURN_TIMEOUT_MS = 60_000  # a spoken turn: endpointing, ASR (~1 s on 2 cores, slower when busy), the reply
MIC_RATE = 48_000  # what a sound card gives Chrome; the page sends it as it is, the server resamples
LEAD_SILENCE_S = 3.0  # the page connects and the greeting starts before the caller talks over it
TRAIL_SILENCE_S = 4.0  # Chrome's fake device goes quiet after a %noloop file anyway; this ends the turn
QUESTION = "ペットボトルは何ごみですか"
CATEGORY = "再生資源"  # faq_data/nara/items.csv: ペットボトル → 再生資源 (キャップとラベルはプラ容器包装)
SIMILAR = 70  # rapidfuzz partial_ratio of kana readings, as in test_twilio_stream.py
ANSWER_AUDIO_S = 5  # of the answer's audio, transcribed: its first sentence names the category
NEXT_BOT_LINE = "xpath=following-sibling::li[@class='bot'][1]"  # the reply (an error line may come first)

# Records, for each line the page adds to #turns, how many bytes of the bot's audio it had by then
# (a MutationObserver runs right after the websocket message that added the line).
WATCH_TURNS = """() => {
  window.turnBytes = [];
  new MutationObserver(() => {
    document.querySelectorAll("#turns li").forEach((li) => {
      if (!li.dataset.bytes) { li.dataset.bytes = String(window.webCall.bytes); }
    });
  }).observe(document.getElementById("turns"), { childList: true });
}"""
# The bot's audio from byte ``from`` on (as counted by webCall.bytes), base64 of int16 LE.
AUDIO_SINCE = """(from) => {
  const w = window.webCall;
  const kept = w.audio.reduce((n, a) => n + a.length, 0);
  const all = new Int16Array(kept);
  let at = 0;
  for (const a of w.audio) { all.set(a, at); at += a.length; }
  const dropped = w.bytes / 2 - kept;  // the page keeps only its last two minutes
  const part = all.subarray(Math.max(0, from / 2 - dropped));
  const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}"""


@pytest.fixture(scope="session")
def chromium() -> None:
    """Chromium and Playwright are there (skip or, under IVR_REQUIRE_BROWSER=1, fail), checked
    before the models load."""
    require_browser()


@pytest.fixture(scope="module")
def runtime(chromium: None, server_runtime: Any) -> Any:
    """The shared runtime (office hours, real models) with its own calls table."""
    return dataclasses.replace(server_runtime, calls={})


@pytest.fixture(scope="module")
def base_url(runtime: Any) -> Iterator[str]:
    """``create_app`` under uvicorn on a loopback port in a thread (loopback pages may call)."""
    with uvicorn_thread(create_app(runtime)) as host:
        yield f"http://{host}"


@pytest.fixture
def microphone(runtime: Any, tmp_path: Path) -> Path:
    """What Chrome's fake microphone plays: silence, the question (our TTS), silence; 48 kHz PCM16."""
    speech = resample(runtime.speech.tts.synthesize(QUESTION).astype(np.float32), 8000, MIC_RATE)
    pcm = np.concatenate([np.zeros(int(LEAD_SILENCE_S * MIC_RATE), np.int16), to_int16(speech),
                          np.zeros(int(TRAIL_SILENCE_S * MIC_RATE), np.int16)])
    path = tmp_path / "caller.wav"
    write_wav(path, pcm, MIC_RATE)
    return path


def _wait_for_bytes(page: Any, n: int, timeout_s: float = TURN_TIMEOUT_MS / 1000) -> None:
    """Until the page has received ``n`` bytes of the bot's audio. Polled from here: the page's
    CSP forbids eval, which Playwright's ``wait_for_function`` needs."""
    deadline = time.monotonic() + timeout_s
    while (got := page.evaluate("() => window.webCall.bytes")) < n:
        assert time.monotonic() < deadline, f"{got} bytes of the bot's audio, waited for {n}"
        page.wait_for_timeout(100)


def _similar(expected: str, heard: str) -> float:
    return fuzz.partial_ratio(reading(expected), reading(heard))


def test_a_test_call_in_chromium(runtime: Any, base_url: str, microphone: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from ivr.dialogue import prompts

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={microphone}%noloop"])
        try:
            context = browser.new_context(viewport=VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo",
                                          permissions=["microphone"])
            context.set_default_timeout(STEP_TIMEOUT_MS)
            page = context.new_page()
            # script errors and CSP violations; a resource that fails shows as its response below
            # (Chromium's own /favicon.ico request, a 404 here, is logged too but is no page's)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                    and not m.text.startswith("Failed to load resource") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("requestfailed", lambda r: errors.append(f"failed: {r.url} {r.failure}"))

            page.goto(base_url + "/")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.screenshot(path=ARTIFACTS / "webcall_home.png")

            page.goto(base_url + "/call")
            page.evaluate(WATCH_TURNS)
            page.locator("#start").click()
            # 1. answered: live, and the greeting is shown and heard
            expect(page.locator("#status")).to_have_attribute("data-state", "live")
            call_id = page.evaluate("window.webCall.callId")
            assert call_id.startswith("web-") and call_id in runtime.calls
            voice_call = runtime.calls[call_id]
            expect(page.locator("#turns li.bot").first).not_to_be_empty()
            _wait_for_bytes(page, 16000)  # a second of the greeting

            # 2. the question, heard from the microphone over the greeting, and the bot's answer
            caller = page.locator("#turns li.caller").first
            expect(caller).to_be_visible(timeout=TURN_TIMEOUT_MS)
            heard = caller.locator(".text").inner_text()
            assert _similar(QUESTION, heard) >= SIMILAR, f"the page shows {heard!r} for {QUESTION!r}"
            answer = caller.locator(NEXT_BOT_LINE)
            expect(answer.locator(".text")).to_contain_text(CATEGORY)
            expect(answer.locator(".meta")).to_contain_text("回答")

            # 3. the answer's audio reaches the page (paced in real time); Whisper hears the category
            since = int(answer.get_attribute("data-bytes") or "0")
            _wait_for_bytes(page, since + ANSWER_AUDIO_S * 16000)
            page.screenshot(path=ARTIFACTS / "webcall_call.png")
            pcm = np.frombuffer(base64.b64decode(page.evaluate(AUDIO_SINCE, since)), "<i2").astype(np.int16)
            said = runtime.speech.asr.submit(pcm[:ANSWER_AUDIO_S * 8000]).result().text
            assert _similar(CATEGORY, said) >= SIMILAR, f"Whisper heard {said!r} in the answer's audio"

            # 4. a keypad press goes through as DTMF: 1 is yes to 「ほかに、ご質問はありますか」
            page.locator('.key[data-key="1"]').click()
            dtmf = page.locator("#turns li.caller", has_text="[DTMF 1]")
            expect(dtmf).to_have_count(1, timeout=TURN_TIMEOUT_MS)
            reply = dtmf.locator(NEXT_BOT_LINE)
            expect(reply.locator(".text")).to_have_text(prompts.GO_AHEAD)

            # 5. hang-up: the page says so, the server ends the call and forgets it
            page.locator("#hangup").click()
            expect(page.locator("#status")).to_have_attribute("data-state", "hungup")
            deadline = time.monotonic() + 10
            while call_id in runtime.calls:
                assert time.monotonic() < deadline, "the call is still in runtime.calls after hang-up"
                time.sleep(0.05)
            assert voice_call.ended
            assert page.locator("#hangup").is_disabled() and page.locator("#start").is_enabled()
            assert errors == [], errors
        finally:
            browser.close()
