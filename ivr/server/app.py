"""The FastAPI app behind `ivr serve`: health, the Twilio routes, the Asterisk listeners, the home
page and the browser test call (/, /call and its websocket), and the staff console under /staff
(with the daily purge of personal data).

Carriers are wired in here and nowhere else; each lives in ``ivr/telephony``. The Asterisk
AudioSocket server and the AMI connection start with the app (when configured) and stop with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, WebSocket

from analytics.metrics import mount_metrics
from escalation.console import create_console
from escalation.retention import purge_daily
from escalation.session_key import console_key
from ivr.server.improve import Improvement
from ivr.server.pages import mount_pages
from ivr.server.runtime import Runtime
from ivr.telephony.twilio_voice import twilio_router
from ivr.telephony.webcall import WebCall, WebCallStats

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for starter in _carriers_to_start(runtime):
                await stack.enter_async_context(starter)
            purges = []
            for purgeable in (runtime.store, runtime.call_log):  # the retention promise holds without a command
                if purgeable is not None:
                    purges.append(asyncio.create_task(purge_daily(purgeable, runtime.settings.retention_days)))
            try:
                yield
            finally:
                for purge in purges:
                    purge.cancel()
        await runtime.drain_records()  # the last calls' records (carriers closed above) are written before exit

    # No /docs: FastAPI's Swagger page loads its script from a CDN (the console documents its API itself).
    app = FastAPI(title="ivr-gomi", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    secret_key = console_key(runtime.settings.state_dir)
    app.state.webcall_stats = webcall_stats = WebCallStats()

    @app.get("/health")
    async def health() -> dict[str, object]:
        """For load balancers and the compose healthcheck: models loaded, calls in progress."""
        kb = runtime.brain.kb
        return {"status": "ok", "city": kb.municipality.name, "calls": runtime.active_calls(),
                "twilio_mode": runtime.settings.twilio_mode}

    app.include_router(twilio_router(runtime))
    mount_metrics(app, runtime)  # GET /metrics: loopback, or IVR_METRICS_TOKEN as a bearer token

    @app.websocket("/call/ws")
    async def web_call(websocket: WebSocket) -> None:
        """The browser test call (the /call page): a carrier like Twilio's media stream."""
        await WebCall(websocket, runtime, secret_key, webcall_stats).run()

    mount_pages(app, runtime, secret_key)
    if runtime.store is not None and runtime.accounts is not None:
        app.mount("/staff", create_console(
            runtime.store, runtime.accounts, secret_key=secret_key,
            cookie_secure=runtime.settings.cookie_secure, live_calls=runtime.live_calls,
            topic_titles={t.id: t.title for t in runtime.brain.kb.topics},
            minutes_per_call=runtime.settings.minutes_per_call,
            improvement=Improvement(runtime)))  # 改善: edits to the knowledge base, live for the next call
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
