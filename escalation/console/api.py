"""The REST API (``/api/v1``): tickets for other city systems and scripts, with bearer tokens.

Tickets are addressed by their number (the one the caller was told), not the database id, since
that is what a person has in hand. The actor of every change is the token's staff member, so the
audit trail names a person even for scripted changes. Errors are JSON ``{"error", "message"}``
with the Japanese sentence the console would show.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from escalation.console.actions import (
    NOTE_MAX_CHARS,
    QueueFilter,
    TicketActionError,
    apply_action,
    parse_queue_filter,
)
from escalation.console.auth import ApiStaff

API_PREFIX = "/api/v1"


class TicketAction(BaseModel):
    """One change to a ticket; ``note`` is required for ``resolve`` and ``note``."""

    action: Literal["claim", "called_back", "resolve", "close", "reopen", "note"]
    note: str = Field("", max_length=NOTE_MAX_CHARS)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad input: unknown filter value, missing note, malformed body"},
    401: {"description": "no or unknown bearer token"},
}


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, tags=["tickets"], responses=ERRORS)

    @router.get("/tickets", summary="受付の一覧（至急が先、次に期限順）")
    def list_tickets(request: Request, staff: ApiStaff,
                     status: str = Query("", description="open|claimed|called_back|resolved|closed|all; "
                                                         "empty = not yet finished"),
                     reason: str = Query("", description="oogata|collection|illegal_dumping|animal|general"),
                     area: str = "", q: str = Query("", description="words in the summary or transcript"),
                     ) -> dict[str, Any]:
        filters = QueueFilter(status=status, reason=reason, area=area, text=q.strip())
        error = parse_queue_filter(filters)
        if error:
            raise ApiError(400, "bad_filter", error)
        return {"tickets": [t.to_json() for t in filters.run(request.app.state.store)]}

    @router.get("/tickets/{number}", summary="一件の受付（通話記録・メモ・履歴を含む）",
                responses={404: {"description": "no such ticket"}})
    def get_ticket(request: Request, number: str, staff: ApiStaff) -> dict[str, Any]:
        return _by_number(request, number).to_json()

    @router.patch("/tickets/{number}", summary="受付の操作（担当・折り返し済み・解決・終了・再オープン・メモ）",
                  responses={403: {"description": "close without a call-back needs an admin"},
                             404: {"description": "no such ticket"},
                             409: {"description": "held by another staff member, or not possible in this status"}})
    def change_ticket(request: Request, number: str, body: TicketAction,
                      staff: ApiStaff) -> dict[str, Any]:
        store = request.app.state.store
        ticket = _by_number(request, number)
        try:
            apply_action(store, ticket, body.action, staff, body.note)
        except TicketActionError as e:
            extra = {"holder": e.holder} if e.holder else {}
            raise ApiError(e.status, e.code, e.message, **extra) from e
        return store.get(ticket.id).to_json()

    return router


def _by_number(request: Request, number: str) -> Any:
    ticket = None
    if number.isascii() and number.isdigit():
        ticket = request.app.state.store.find_by_number(number)
    if ticket is None:
        raise ApiError(404, "not_found", f"受付番号 {number[:20]} は見つかりません。")
    return ticket
