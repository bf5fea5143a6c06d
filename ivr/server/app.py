"""The FastAPI app behind `ivr serve`: health, the Twilio routes, and the Asterisk listeners.

Carriers are wired in here and nowhere else; each lives in ``ivr/telephony``. The Asterisk
AudioSocket server and the AMI connection start with the app (when configured) and stop with it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from ivr.server.runtime import Runtime
from ivr.telephony.twilio_voice import twilio_router

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for starter in _carriers_to_start(runtime):
                await stack.enter_async_context(starter)
            yield

    app = FastAPI(title="ivr-gomi", lifespan=lifespan)
    app.state.runtime = runtime

    @app.get("/health")
    async def health() -> dict[str, object]:
        """For load balancers and the compose healthcheck: models loaded, calls in progress."""
        kb = runtime.brain.kb
        return {"status": "ok", "city": kb.municipality.name, "calls": len(runtime.calls),
                "twilio_mode": runtime.settings.twilio_mode}

    app.include_router(twilio_router(runtime))
    return app


def _carriers_to_start(runtime: Runtime) -> list[contextlib.AbstractAsyncContextManager[object]]:
    """Asterisk: the AMI link (IVR_AMI_HOST) first, so it is still up while AudioSocket calls are
    handed to staff at shutdown; then the AudioSocket server (IVR_AUDIOSOCKET_PORT)."""
    from ivr.telephony.ami import AmiBridge
    from ivr.telephony.audiosocket_server import AudioSocketServer

    settings = runtime.settings
    starters: list[contextlib.AbstractAsyncContextManager[object]] = []
    ami: AmiBridge | None = None
    if settings.ami_host:
        shared = getattr(runtime.staff, "ami", None)  # the Asterisk staff line asks the queue over the same link
        ami = shared if isinstance(shared, AmiBridge) else AmiBridge.from_settings(settings)
        starters.append(ami.running())
    if settings.audiosocket_port:
        starters.append(AudioSocketServer(runtime, ami).running())
    return starters
