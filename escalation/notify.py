"""Tell staff at once about an urgent ticket: a JSON webhook and, optionally, a mail.

An urgent ticket (a dead animal on a road, dumping in progress, a fire) should not wait for the
morning's queue. The notice is sent in the background after the ticket is committed: it never
delays the caller's reply and never fails the call; failures are retried, then logged (with the
caller's number masked: logs outlive tickets' retention).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx

from escalation.privacy import mask_number
from escalation.tickets import Ticket, TicketQueue, TicketRequest

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = 4  # 0 + 1 + 2 + 4 s of waiting: rides out a chat server's restart, then gives up
BACKOFF_BASE_S = 1.0  # doubled after each failed attempt
WEBHOOK_TIMEOUT_S = 5.0  # per attempt; a healthy webhook answers in well under a second
SMTP_TIMEOUT_S = 10.0  # a relay inside the city network; beyond this it is down
STARTTLS_PORT = 587  # submission port: STARTTLS expected there


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    """What the webhook receives: enough for staff to act, nothing of the transcript."""
    r = ticket.request
    return {
        "event": "ticket.urgent",
        "ticket": ticket.number,
        "joined": ticket.joined,
        "reason": r.reason,
        "urgency": r.urgency,
        "topic": r.topic,
        "area": r.area,
        "item": r.item,
        "summary": r.summary,
        "callback_number": r.callback_number,
        "caller_name": r.caller_name,
        "created_at": r.created_at.isoformat() if r.created_at else None,
    }


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    sender: str
    recipients: tuple[str, ...]


class Notifier:
    """Sends urgent-ticket notices; ``ticket_created`` only schedules them and returns."""

    def __init__(self, webhook_url: str = "", smtp: SmtpConfig | None = None, *,
                 attempts: int = WEBHOOK_ATTEMPTS, backoff_s: float = BACKOFF_BASE_S) -> None:
        self.webhook_url = webhook_url
        self.smtp = smtp
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._tasks: set[asyncio.Task[None]] = set()  # strong references until done (asyncio keeps weak ones)

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        recipients = tuple(a.strip() for a in settings.smtp_to.split(",") if a.strip())
        smtp = None
        if settings.smtp_host and recipients:
            smtp = SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password,
                              settings.smtp_from, recipients)
        return cls(settings.notify_webhook_url, smtp)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.smtp)

    async def ticket_created(self, ticket: Ticket) -> None:
        """Schedule the notices for an urgent ticket and return at once."""
        if ticket.request.urgency != "urgent" or not self.enabled:
            return
        task = asyncio.create_task(self._send_all(ticket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for notices in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send_all(self, ticket: Ticket) -> None:
        jobs = []
        if self.webhook_url:
            jobs.append(self.post_webhook(ticket))
        if self.smtp is not None:
            jobs.append(asyncio.to_thread(self.send_mail, ticket))
        for result in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(result, BaseException):
                log.warning("ticket %s (caller %s): urgent notice failed: %r", ticket.number,
                            _masked(ticket.request), result)

    async def post_webhook(self, ticket: Ticket) -> bool:
        """POST the payload, retrying with exponential backoff; True once it was accepted (2xx)."""
        payload = ticket_payload(ticket)
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    response = await client.post(self.webhook_url, json=payload)
                    if response.is_success:
                        return True
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                log.warning("ticket %s (caller %s): webhook attempt %d/%d failed (%s)", ticket.number,
                            _masked(ticket.request), attempt + 1, self.attempts, problem)
        log.error("ticket %s (caller %s): webhook gave up after %d attempts", ticket.number,
                  _masked(ticket.request), self.attempts)
        return False

    def send_mail(self, ticket: Ticket) -> None:
        """One plain-text mail (blocking: run in a thread). STARTTLS on the submission port."""
        assert self.smtp is not None
        smtp = self.smtp
        r = ticket.request
        message = EmailMessage()
        message["Subject"] = f"【至急】ごみ案内 受付{ticket.number}（{r.reason}）"
        message["From"] = smtp.sender
        message["To"] = ", ".join(smtp.recipients)
        lines = [f"受付番号: {ticket.number}{'（既存の受付に追加）' if ticket.joined else ''}",
                 f"区分: {r.reason} / 緊急度: {r.urgency}", f"場所: {r.area or '不明'}",
                 f"品目: {r.item or 'なし'}", f"折り返し: {r.callback_number or '不明'}",
                 f"お名前: {r.caller_name or '不明'}", "", r.summary]
        message.set_content("\n".join(lines))
        with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S) as client:
            if smtp.port == STARTTLS_PORT:
                client.starttls()
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message)


def _masked(request: TicketRequest) -> str:
    return mask_number(request.caller_number or request.callback_number) or "(none)"


class NotifyingQueue:
    """A ``TicketQueue`` that notifies after each successful create, whatever store it wraps."""

    def __init__(self, inner: TicketQueue, notifier: Notifier) -> None:
        self.inner = inner
        self.notifier = notifier

    async def create(self, request: TicketRequest) -> Ticket:
        ticket = await self.inner.create(request)  # raises when not stored: nothing to notify
        try:
            await self.notifier.ticket_created(ticket)
        except Exception:  # a notice must never cost the caller the ticket they were just given
            log.exception("ticket %s: could not schedule the urgent notice", ticket.number)
        return ticket

    async def list_open(self) -> list[Ticket]:
        return await self.inner.list_open()

    def __getattr__(self, name: str) -> Any:
        """Anything else the store offers (its console queries) passes through."""
        if name == "inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)
