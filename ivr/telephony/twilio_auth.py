"""Is this request really from Twilio? Webhook signatures, the media websocket, stream tokens.

Twilio signs every webhook with ``X-Twilio-Signature``: HMAC-SHA1 (auth token as key) of the URL
it requested followed by the sorted form parameters. It signs the websocket upgrade of a Media
Stream the same way, over the ``wss://`` URL with no parameters (Twilio's Media Streams firewall
page: "validate the X-Twilio-Signature header ... to verify that a Media Stream is coming from an
authentic Twilio source"). Checking is done by the official ``RequestValidator``, never by hand.

Behind a proxy the URL we see is not the one Twilio signed, so IVR_PUBLIC_URL (how Twilio reaches
us) is used to rebuild it. Without an auth token nothing can be checked, so everything is refused:
an open bot would let anyone drive calls and read the knowledge base at our expense.

The websocket gets a second lock: a one-time, short-lived token, made when we answer the call and
passed as a ``<Parameter>`` of the ``<Stream>``, must come back in the ``start`` message. A
signature can be replayed by whoever sees one; the token cannot be used twice, nor after a minute.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, WebSocket
from starlette.datastructures import URL
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from ivr.config import Settings

log = logging.getLogger(__name__)

STREAM_TOKEN_TTL_S = 60.0  # Twilio opens the stream within a second or two of our TwiML; a minute is lenient
STREAM_TOKEN_PARAM = "token"  # the <Parameter> name carrying the token
MAX_TOKENS = 10000  # outstanding tokens kept at most: a flood of signed calls cannot grow memory without bound


def public_base(settings: Settings) -> str:
    return settings.public_url.strip().rstrip("/")


def webhook_url(request: Request, settings: Settings) -> str:
    """The URL Twilio signed: IVR_PUBLIC_URL + path + query when set, else the URL as received."""
    base = public_base(settings)
    if not base:
        return str(request.url)
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


def _wss(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"https": "wss", "http": "wss", "ws": "wss"}.get(parts.scheme, parts.scheme)
    return parts._replace(scheme=scheme).geturl()


def stream_url(request: Request, settings: Settings, path: str) -> str:
    """``wss://`` URL of our media websocket for the <Stream> TwiML (Twilio only speaks wss)."""
    base = public_base(settings) or str(request.base_url).rstrip("/")
    return _wss(f"{base}{path}")


def websocket_url(websocket: WebSocket, settings: Settings) -> str:
    """The wss URL Twilio signed for this upgrade (no query: <Stream> URLs may not carry one)."""
    base = public_base(settings)
    url: URL = websocket.url
    if base:
        signed = f"{base}{url.path}" + (f"?{url.query}" if url.query else "")
    else:
        signed = str(url)
    return _wss(signed)


def _refuse_without_token(settings: Settings, what: str) -> bool:
    if settings.twilio_auth_token:
        return False
    log.error("refusing %s: IVR_TWILIO_AUTH_TOKEN is not set, so Twilio's signature cannot be checked", what)
    return True


async def signed_form(request: Request, settings: Settings) -> dict[str, str]:
    """The webhook's form parameters, after checking Twilio's signature (403 otherwise)."""
    if _refuse_without_token(settings, f"webhook {request.url.path}"):
        raise HTTPException(status_code=403, detail="Twilio auth token not configured")
    form = await request.form()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    url = webhook_url(request, settings)
    if not signature or not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        log.warning("refusing webhook %s: bad or missing %s (validated against %s)", request.url.path,
                    SIGNATURE_HEADER, url)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return {key: value for key, value in form.items() if isinstance(value, str)}


def websocket_signed(websocket: WebSocket, settings: Settings) -> bool:
    """Whether the websocket upgrade carries Twilio's signature of its wss URL."""
    if _refuse_without_token(settings, "media websocket"):
        return False
    signature = websocket.headers.get(SIGNATURE_HEADER, "")
    url = websocket_url(websocket, settings)
    validator = RequestValidator(settings.twilio_auth_token)
    # Twilio signs the wss:// URL of the <Stream>; the https:// spelling of the same URL is also
    # accepted in case a Twilio edge signs it as for an HTTP webhook (same key, same host and path).
    if signature and any(validator.validate(u, {}, signature) for u in (url, "https" + url.removeprefix("wss"))):
        return True
    log.warning("refusing media websocket: bad or missing %s (validated against %s)", SIGNATURE_HEADER, url)
    return False


class StreamTokens:
    """One-time tokens for media streams, by CallSid: random, kept here, gone once used or old."""

    def __init__(self, ttl_s: float = STREAM_TOKEN_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue(self, call_sid: str) -> str:
        self._expire()
        while len(self._tokens) >= MAX_TOKENS:
            self._tokens.pop(next(iter(self._tokens)))
        token = secrets.token_urlsafe(24)
        self._tokens.pop(call_sid, None)  # re-insert so the oldest stay first
        self._tokens[call_sid] = (token, self._clock() + self.ttl_s)
        return token

    def consume(self, call_sid: str, token: str) -> bool:
        """True once for the token issued to ``call_sid``; the token is spent either way."""
        self._expire()
        issued = self._tokens.pop(call_sid, None)
        if issued is None or not token:
            return False
        return hmac.compare_digest(issued[0].encode(), token.encode())

    def forget(self, call_sid: str) -> None:
        self._tokens.pop(call_sid, None)

    def __len__(self) -> int:
        return len(self._tokens)

    def _expire(self) -> None:
        now = self._clock()
        for sid in [sid for sid, (_, until) in self._tokens.items() if until <= now]:
            del self._tokens[sid]
