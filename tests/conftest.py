"""Shared test fixtures: paths to the committed data and to small real-data excerpts."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NARA_DATA = ROOT / "faq_data" / "nara"
FIXTURE_5374 = FIXTURES / "5374"


def line_audio(text: str) -> np.ndarray:
    """What a caller's phone sends: pyopenjtalk speech at 8 kHz, peak -6 dBFS, through μ-law."""
    import pyopenjtalk

    from ivr.audio.codec import resample, to_int16, ulaw_decode, ulaw_encode

    wav, sr = pyopenjtalk.tts(text)
    x = resample((wav / np.abs(wav).max() * 0.5).astype(np.float32), sr, 8000)
    return ulaw_decode(ulaw_encode(to_int16(x * 32767)))


def cached_voice(speech: object) -> Callable[[str], np.ndarray]:
    """Caller speech made with our TTS (8 kHz int16), synthesised once per text."""
    cache: dict[str, np.ndarray] = {}

    def make(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = speech.tts.synthesize(text)  # type: ignore[attr-defined]
        return cache[text]

    return make


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CHROMIUM = Path("/usr/bin/chromium")  # Debian's: Playwright drives it, nothing downloads a browser
SERVER_START_S = 30  # uvicorn on loopback starts in well under a second; a loaded machine gets slack


@contextlib.contextmanager
def uvicorn_thread(app: object, *, lifespan: str = "auto", log_level: str = "warning",
                   loop: str = "auto") -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port in a thread (real sockets, its own event
    loop: ``loop="asyncio"`` for asyncio's own); yields "127.0.0.1:<port>" and stops the server afterwards."""
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level=log_level, lifespan=lifespan, loop=loop)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def require_browser() -> None:
    """Chromium and Playwright are installed: else skip, or fail under IVR_REQUIRE_BROWSER=1 (CI)."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed"
    if reason:
        if os.environ.get("IVR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IVR_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def nara_kb():
    """The committed Nara knowledge base, loaded once for the whole run."""
    from ivr.knowledge.base import load_knowledge

    return load_knowledge(NARA_DATA)


@pytest.fixture
def nara_copy(tmp_path: Path) -> Path:
    """A writable copy of the Nara knowledge base, for tests that break or re-import it."""
    dst = tmp_path / "nara"
    shutil.copytree(NARA_DATA, dst)
    return dst


@pytest.fixture(scope="session")
def brain(tmp_path_factory):
    """Knowledge base + NLU with the real bundled embedding model, built once per run."""
    from ivr.dialogue.state import Brain

    return Brain.load(NARA_DATA, "", tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """The real speech models (Whisper base from the pip packages, Silero VAD, pyopenjtalk),
    loaded once per run and shared by every audio test. The Whisper model is assembled into
    the user's cache (IVR_CACHE_DIR), as at a real start-up, so it is built once per machine."""
    from ivr.config import Settings
    from ivr.speech.services import SpeechServices

    services = SpeechServices.load(Settings(voices_dir=tmp_path_factory.mktemp("voices")))
    yield services
    services.close()


@pytest.fixture(scope="session")
def server_runtime(brain, speech):
    """What `ivr serve` shares between calls, on the session's brain and speech models.

    The clock is fixed inside office hours (a Wednesday 10:00) so transfers go to staff."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from escalation.staff import OfficeHoursStaffLine
    from escalation.tickets import InMemoryTicketQueue
    from ivr.config import Settings
    from ivr.server.runtime import Runtime

    tz = ZoneInfo(brain.kb.municipality.timezone)
    return Runtime(
        settings=Settings(twilio_auth_token="test-auth-token", public_url="https://ivr.example.test"),
        brain=brain,
        speech=speech,
        tickets=InMemoryTicketQueue(),
        staff=OfficeHoursStaffLine(brain.kb.municipality.business_hours),
        clock=lambda: datetime(2016, 6, 1, 10, 0, tzinfo=tz),
    )


async def simulated_turns(brain, speech, pcm: np.ndarray) -> list:
    """The caller speech records of ``pcm`` played into a fresh call as `ivr sim --audio` does
    (the line silent while the greeting plays, frames unpaced, then silence past the longest hold)."""
    from ivr.audio.codec import frames
    from ivr.speech.voice_call import VoiceCall
    from simulator.audio import TRAILING_SILENCE_MS, RecordingTransport, settle_on_line
    from simulator.runtime import Simulator

    transport = RecordingTransport(line=True)
    call = VoiceCall(Simulator.from_brain(brain, "2016-06-01T10:00").session(), speech, transport, pace=False)
    transport.call = call
    await call.start()
    await settle_on_line(call, transport)
    for frame in frames(np.concatenate([pcm, np.zeros(8 * TRAILING_SILENCE_MS, np.int16)])):
        await call.audio(frame)
    await settle_on_line(call, transport)
    await call.close()
    return [r for r in call.records if r.kind == "speech"]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """An empty ticket database, once on SQLite and once on PostgreSQL.

    PostgreSQL comes from IVR_TEST_POSTGRES_URL (``eval "$(.ci/postgres)"`` starts a throw-away
    server); each test gets its own schema (via search_path), dropped afterwards, so tests never
    see each other's rows. Without the variable the PostgreSQL half is skipped, unless
    IVR_REQUIRE_POSTGRES=1 (CI), where a silent skip would hide a broken store.
    """
    import os
    import uuid

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ivr.db'}"
        return
    base = os.environ.get("IVR_TEST_POSTGRES_URL", "")
    if not base:
        hint = 'IVR_TEST_POSTGRES_URL is unset (eval "$(.ci/postgres)" starts a server)'
        if os.environ.get("IVR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"IVR_REQUIRE_POSTGRES=1 but {hint}")
        pytest.skip(hint)
    from sqlalchemy import create_engine, make_url, text

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def call_log(tmp_path):
    """A call log (analytics) in a fresh, migrated SQLite database of the test's own."""
    from analytics.store import CallLog
    from escalation import db

    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    yield CallLog(engine)
    engine.dispose()
