"""``GET /metrics`` for the city's monitoring (Prometheus text format, ``prometheus-client``).

Each runtime has its own registry (tests and embedders run several servers in one process).
Finished calls are counted when their record is made; calls in progress (``Runtime.active_calls``:
gather calls between webhooks too) and the ASR queue are read at scrape time. Nothing personal is
exposed, but call volumes are the city's business: the endpoint answers loopback clients (a
Prometheus or node exporter on the server itself) and, with ``IVR_METRICS_TOKEN`` set, anyone
sending ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from analytics.records import FAILED, OUTCOMES, CallRecord

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime

PATH = "/metrics"
DURATION_BUCKETS = (15, 30, 60, 90, 120, 180, 300, 450, 600, 900)  # a garbage question: 1–2 minutes
ASR_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)  # Whisper base on 2 cores: ~0.3–1 s a turn
REPLY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)  # understanding + dialogue (+ a ticket write)


class CallMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.calls = Counter("ivr_calls", "Calls ended, by carrier", ["transport"], registry=r)
        self.outcomes = Counter("ivr_call_outcomes", "Calls ended, by outcome", ["outcome"], registry=r)
        self.duration = Histogram("ivr_call_duration_seconds", "Call length", buckets=DURATION_BUCKETS, registry=r)
        self.asr = Histogram("ivr_asr_latency_seconds", "Speech recognition time per caller turn",
                             buckets=ASR_BUCKETS, registry=r)
        self.reply = Histogram("ivr_reply_latency_seconds", "Time to compute the bot's reply per caller turn",
                               buckets=REPLY_BUCKETS, registry=r)
        self.errors = Counter("ivr_errors", "Faults: a call that failed (error), a call record not saved (record_save)",
                              ["kind"], registry=r)
        self.active = Gauge("ivr_active_calls", "Calls in progress: audio (Twilio stream, AudioSocket, browser) "
                            "and Twilio gather calls between webhooks", registry=r)
        self.asr_queue = Gauge("ivr_asr_queue_depth", "Utterances waiting for speech recognition", registry=r)
        for outcome in OUTCOMES:  # every outcome present from the start: rate() needs the zero
            self.outcomes.labels(outcome)
        for kind in ("error", "record_save"):
            self.errors.labels(kind)

    def bind(self, active: Callable[[], float], asr_queue: Callable[[], float]) -> None:
        """Read these at every scrape."""
        self.active.set_function(active)
        self.asr_queue.set_function(asr_queue)

    def observe(self, record: CallRecord) -> None:
        """A call ended: count it and its turns' latencies."""
        self.calls.labels(record.transport or "unknown").inc()
        self.outcomes.labels(record.outcome).inc()
        self.duration.observe(record.duration_s)
        for turn in record.turns:
            if turn.asr_ms is not None:
                self.asr.observe(turn.asr_ms / 1000)
            if turn.kind != "hangup":
                self.reply.observe(turn.reply_ms / 1000)
        if record.outcome == FAILED:
            self.errors.labels("error").inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


def may_scrape(request: Request, token: str) -> bool:
    """A loopback client without proxy headers, or the bearer token (when one is set)."""
    from ivr.telephony.webcall_access import is_loopback_client

    if is_loopback_client(request):
        return True
    sent = request.headers.get("authorization", "")
    scheme, _, value = sent.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def mount_metrics(app: FastAPI, runtime: Runtime) -> None:
    metrics = runtime.metrics

    def asr_waiting() -> float:
        try:
            return float(runtime.speech.asr.waiting)
        except Exception:  # no ASR pool (a text-only runtime): nothing waits
            return 0.0

    metrics.bind(lambda: float(runtime.active_calls()), asr_waiting)

    @app.get(PATH, include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        if not may_scrape(request, runtime.settings.metrics_token):
            raise HTTPException(status_code=403, detail="metrics: loopback or Authorization: Bearer IVR_METRICS_TOKEN")
        return Response(content=metrics.text(), media_type=CONTENT_TYPE_LATEST)
