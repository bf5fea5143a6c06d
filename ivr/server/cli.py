"""``ivr serve``: load the models once, then serve every carrier from one process."""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from ivr.config import get_settings

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime


def _prerender_prompts(runtime: Runtime) -> None:
    """Fixed prompts and FAQ answers play from the voice cache: render the missing ones before
    the first call (~40 s once on 2 cores; later starts find them all and skip this)."""
    from voices.build import build

    tts = runtime.speech.tts
    if tts.cache is not None:
        report = build(runtime.brain.kb, tts, tts.cache, progress=True)
        typer.echo(f"voice cache: {report.units} prompt units ({report.rendered} rendered now)")
    runtime.speech.prerender_answers(runtime.brain.kb)  # item answers: in the background, at nice 19


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default IVR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default IVR_PORT).")] = None,
) -> None:
    """Run the hotline: Twilio webhooks and media websocket, Asterisk AudioSocket/AMI, health."""
    import uvicorn

    from ivr.server.app import create_app
    from ivr.server.runtime import Runtime
    from ivr.server.shutdown import GracefulServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    runtime = Runtime.load(settings)
    _prerender_prompts(runtime)
    # The models are millions of long-lived objects; a full garbage collection walking them took
    # ~300 ms mid-call, long enough to stall every call's audio. Freeze them out of the collector.
    gc.collect()
    gc.freeze()
    typer.echo(f"ivr-gomi: {runtime.brain.kb.municipality.name} ready on http://{host or settings.host}:"
               f"{port or settings.port} (twilio: {settings.twilio_mode})")
    try:  # SIGTERM drains the calls first (ivr/server/shutdown.py), then uvicorn stops and we exit 0
        config = uvicorn.Config(create_app(runtime), host=host or settings.host, port=port or settings.port,
                                log_level="info")
        server = GracefulServer(config, runtime)
        server.run()
    finally:
        runtime.close()
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run: the port was taken, or the app failed to start
