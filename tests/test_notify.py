"""Urgent tickets notify staff: a real local webhook server and a small real SMTP listener."""

import asyncio
import json
import logging
import socketserver
import threading
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from escalation.notify import Notifier, NotifyingQueue, SmtpConfig
from escalation.privacy import mask_number
from escalation.tickets import InMemoryTicketQueue, TicketRequest
from ivr.config import Settings

NOW = datetime(2026, 11, 27, 20, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def request(urgency: str = "urgent", number: str = "09012341234") -> TicketRequest:
    return TicketRequest(call_id="c1", topic="dead_animal", summary="【道路の動物の死がい】場所: 青山",
                         callback_number=number, area="青山１〜９丁目", created_at=NOW, reason="animal",
                         urgency=urgency, caller_number=number)


class Webhook:
    """A local HTTP server answering with the given statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hooks: list[Webhook] = []

    def make(statuses: list[int]) -> Webhook:
        hooks.append(Webhook(statuses))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


class FakeSmtp(socketserver.ThreadingTCPServer):
    """Just enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.auth: list[str] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def send(line: str) -> None:
                    self.wfile.write(f"{line}\r\n".encode())

                send("220 fake ESMTP")
                sender, recipients = "", []
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        send("250-fake")
                        send("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        server.auth.append(command)
                        send("235 ok")
                    elif verb == "MAIL":
                        sender = command.split(":", 1)[1].strip("<> ")
                        send("250 ok")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip("<> "))
                        send("250 ok")
                    elif verb == "DATA":
                        send("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline()) != b".\r\n":
                            data += chunk
                        server.mails.append((sender, recipients, data))
                        send("250 queued")
                    elif verb == "QUIT":
                        send("221 bye")
                        return
                    else:
                        send("250 ok")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def smtp():
    server = FakeSmtp()
    yield server
    server.shutdown()
    server.server_close()


def test_mask_number():
    assert mask_number("09012341234") == "090-****-1234"
    assert mask_number("0742341111") == "0742-**-1111"
    assert mask_number("0312345678") == "03-****-5678"
    assert mask_number("+819012341234") == "090-****-1234"
    assert mask_number("") == "" and mask_number("123") == "***"


def test_webhook_is_retried_after_a_500_and_logs_mask_the_number(webhook, caplog):
    hook = webhook([500])
    notifier = Notifier(hook.url, backoff_s=0.01)

    async def run():
        queue = NotifyingQueue(InMemoryTicketQueue(), notifier)
        ticket = await queue.create(request())
        await notifier.drain()
        return ticket

    with caplog.at_level(logging.WARNING, logger="escalation.notify"):
        ticket = asyncio.run(run())
    assert len(hook.bodies) == 2 and hook.bodies[1] == hook.bodies[0]
    body = hook.bodies[0]
    assert (body["ticket"], body["reason"], body["urgency"], body["area"]) == (ticket.number, "animal", "urgent",
                                                                               "青山１〜９丁目")
    assert "HTTP 500" in caplog.text and "090-****-1234" in caplog.text and "09012341234" not in caplog.text


def test_a_dead_webhook_never_fails_or_delays_the_ticket(webhook, caplog):
    hook = webhook([500, 500, 500, 500, 500])
    notifier = Notifier(hook.url, attempts=3, backoff_s=0.05)

    async def run():
        queue = NotifyingQueue(InMemoryTicketQueue(), notifier)
        loop = asyncio.get_running_loop()
        started = loop.time()
        ticket = await queue.create(request())
        took = loop.time() - started
        await notifier.drain()
        return ticket, took

    with caplog.at_level(logging.WARNING, logger="escalation.notify"):
        ticket, took = asyncio.run(run())
    assert ticket.number == "1001" and took < 0.05  # the caller's reply does not wait for the webhook
    assert len(hook.bodies) == 3 and "gave up after 3 attempts" in caplog.text


def test_only_urgent_tickets_notify_and_a_failed_store_notifies_nothing(webhook):
    hook = webhook([])
    notifier = Notifier(hook.url, backoff_s=0.01)

    async def run():
        inner = InMemoryTicketQueue()
        queue = NotifyingQueue(inner, notifier)
        await queue.create(request(urgency="normal"))
        inner.fail_next = True
        with pytest.raises(OSError):
            await queue.create(request())
        await notifier.drain()
        return await queue.list_open(), queue.tickets  # list_open and the store's own attributes pass through

    open_, tickets = asyncio.run(run())
    assert hook.bodies == [] and len(open_) == 1 and len(tickets) == 1


def test_mail_through_smtp_with_login(smtp):
    config = SmtpConfig("127.0.0.1", smtp.server_address[1], "bot", "secret", "ivr@example.jp",
                        ("staff@example.jp", "chief@example.jp"))
    notifier = Notifier(smtp=config)

    async def run():
        ticket = await NotifyingQueue(InMemoryTicketQueue(), notifier).create(request())
        await notifier.drain()
        return ticket

    ticket = asyncio.run(run())
    ((sender, recipients, data),) = smtp.mails
    assert sender == "ivr@example.jp" and recipients == ["staff@example.jp", "chief@example.jp"]
    mail = message_from_bytes(data, policy=default_policy)
    assert mail["Subject"] == f"【至急】ごみ案内 受付{ticket.number}（animal）"
    body = mail.get_content()
    assert "青山１〜９丁目" in body and "09012341234" in body  # staff need the number; only logs are masked
    assert smtp.auth and smtp.auth[0].startswith("AUTH PLAIN")


def test_notifier_from_settings():
    settings = Settings(notify_webhook_url="http://hook.example/x", smtp_host="mail.example", smtp_port=587,
                        smtp_to="a@example.jp, b@example.jp")
    notifier = Notifier.from_settings(settings)
    assert notifier.webhook_url == "http://hook.example/x" and notifier.smtp is not None
    assert notifier.smtp.recipients == ("a@example.jp", "b@example.jp") and notifier.smtp.port == 587
    assert Notifier.from_settings(Settings(smtp_host="mail.example")).smtp is None  # no recipients: no mail
    assert not Notifier.from_settings(Settings()).enabled
