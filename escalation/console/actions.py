"""What staff do to tickets, shared by the pages and the REST API: filters, search, the six actions.

Both front ends must refuse the same things with the same words (an empty resolve note, a claim
on someone else's ticket, closing without a call-back unless admin), so the rules live here once
and each front end only turns a ``TicketActionError`` into its own answer (a page or JSON).
Everything here calls the store synchronously: callers run it in FastAPI's thread pool.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from escalation.accounts import Staff
from escalation.console.views import STATUS_LABELS
from escalation.store import ClaimConflict, InvalidTransition, TicketNotFound, TicketRecord, TicketStore
from escalation.tickets import REASONS, STATUSES

ACTIONS = ("claim", "called_back", "resolve", "close", "reopen", "note")
ACTIVE_STATUSES = ("open", "claimed", "called_back")  # the default queue: what still needs someone
QUEUE_LIMIT = 200  # a day's after-hours calls fit many times over; a longer list is searched, not scrolled
NOTE_MAX_CHARS = 2000  # a note is a few lines about a phone call, not a pasted document
AREA_MAX_CHARS = 50  # longer than any 町名
TICKET_ID_MAX_DIGITS = 12  # ids are database integers; longer digit strings are junk, not a lookup
PHONE_MIN_DIGITS = 7  # fewer digits than a local number: a ticket number or a fragment, not a phone search

CLOSE_WITHOUT_CALLBACK_OK = ("called_back",)  # closing after the call-back is routine; before it, admin only
HOLDER_ONLY = ("called_back", "resolve", "reopen")  # moves that take a held ticket out of its holder's hands

DONE_MESSAGES = {"claim": "担当になりました。", "called_back": "折り返し済みにしました。",
                 "resolve": "解決にしました。", "close": "終了にしました。", "reopen": "再オープンしました。",
                 "note": "メモを追加しました。"}


class TicketActionError(Exception):
    """A refused action: ``status`` is the HTTP code, ``message`` the Japanese sentence staff see."""

    def __init__(self, status: int, code: str, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.holder = status, code, message, holder


@dataclass
class QueueFilter:
    status: str = ""  # "" = still to do (ACTIVE_STATUSES), "all", or one of STATUSES
    reason: str = ""
    area: str = ""
    text: str = ""

    def run(self, store: TicketStore) -> list[TicketRecord]:
        """The store's order (urgent first, then soonest due) kept when the default view merges statuses."""
        wanted = [self.status] if self.status in STATUSES else [None] if self.status == "all" else list(ACTIVE_STATUSES)
        found = [t for status in wanted
                 for t in store.query(status=status, reason=self.reason or None, area=self.area or None,
                                      text=self.text or None, limit=QUEUE_LIMIT)]
        found.sort(key=lambda t: (t.urgency != "urgent", t.due_at, t.id))
        return found[:QUEUE_LIMIT]


def parse_queue_filter(filters: QueueFilter) -> str | None:
    """Normalise the filter in place; a Japanese error message for a value the queue does not know."""
    filters.status, filters.reason, filters.area = filters.status.strip(), filters.reason.strip(), filters.area.strip()
    if filters.status and filters.status != "all" and filters.status not in STATUSES:
        return f"状態「{filters.status[:20]}」は選べません。一覧から選んでください。"
    if filters.reason and filters.reason not in REASONS:
        return f"種別「{filters.reason[:20]}」は選べません。一覧から選んでください。"
    if len(filters.area) > AREA_MAX_CHARS:
        return f"地区は{AREA_MAX_CHARS}文字以内で入力してください。"
    return None


def load_ticket(store: TicketStore, ticket_id: str | int) -> TicketRecord | None:
    """The ticket for a URL segment; None (a 404 page) for anything but a plain number."""
    text = str(ticket_id)
    if not text.isascii() or not text.isdigit() or len(text) > TICKET_ID_MAX_DIGITS:
        return None
    return store.get(int(text))


def search_tickets(store: TicketStore, q: str) -> list[TicketRecord]:
    """A ticket number, a phone number (caller ID or call-back, with or without hyphens) or words from
    the summary, name, transcript or notes. Carriers give caller ID as +81…, staff type 090…: a
    domestic number is also looked up in its international form."""
    found = {t.id: t for t in store.query(text=q, limit=QUEUE_LIMIT)}
    plain = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", q))
    if plain.isascii() and plain.isdigit() and plain.startswith("0") and len(plain) >= PHONE_MIN_DIGITS:
        for t in store.query(text="+81" + plain[1:], limit=QUEUE_LIMIT):
            found.setdefault(t.id, t)
    return sorted(found.values(), key=lambda t: (t.urgency != "urgent", t.due_at, t.id))


def apply_action(store: TicketStore, ticket: TicketRecord, action: str, staff: Staff, note: str) -> str:
    """Do ``action`` as ``staff``; the confirmation to show, or TicketActionError and nothing changed."""
    if action not in ACTIONS:
        raise TicketActionError(404, "unknown_action", "その操作はありません。")
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise TicketActionError(400, "note_too_long", f"メモは{NOTE_MAX_CHARS}文字以内にしてください。")
    if action == "resolve" and not note:
        raise TicketActionError(400, "note_required", "解決にするには、対応の内容をメモに入力してください。")
    if action == "note" and not note:
        raise TicketActionError(400, "note_required", "メモを入力してください。")
    if action == "close" and ticket.status not in CLOSE_WITHOUT_CALLBACK_OK and not staff.admin:
        raise TicketActionError(403, "admin_only", "折り返しをしていない受付を終了できるのは管理者だけです。")
    holder = ticket.assignee if ticket.status in ("claimed", "called_back") else None
    if action in HOLDER_ONLY and holder and holder != staff.name and not staff.admin:
        raise TicketActionError(409, "claimed_by_other", f"この受付は {holder} さんが対応中です。", holder=holder)
    try:
        if action == "claim":
            store.claim(ticket.id, staff.name)
        elif action == "called_back":
            store.mark_called_back(ticket.id, staff.name, note=note)
        elif action == "resolve":
            store.resolve(ticket.id, staff.name, note)
        elif action == "close":
            store.close(ticket.id, staff.name, note=note)
        elif action == "reopen":
            store.reopen(ticket.id, staff.name, note=note)
        else:
            store.add_note(ticket.id, staff.name, note)
    except ClaimConflict as e:
        raise TicketActionError(409, "claimed_by_other", f"この受付は {e.holder} さんが対応中です。",
                                holder=e.holder) from e
    except TicketNotFound as e:
        raise TicketActionError(404, "not_found", "この受付は見つかりません。") from e
    except InvalidTransition as e:
        current = store.get(ticket.id)
        label = STATUS_LABELS.get(current.status if current else ticket.status, "")
        raise TicketActionError(409, "invalid_transition",
                                f"この受付は現在「{label}」のため、この操作はできません。") from e
    except ValueError as e:
        raise TicketActionError(400, "invalid", "入力内容を確認してください。") from e
    return DONE_MESSAGES[action]
