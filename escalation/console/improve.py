"""The console's 改善 pages: the FAQ improvement loop.

Staff see what the bot failed on (not understood, or handed to staff), grouped by similarity,
and deal with a group in two clicks: pick a topic and 「例文に追加」, or 「対象外にする」 (not a
garbage question: the bot sends such callers to the city's switchboard), or 「見送る」 (noise).
Admins add an item's alias and edit an answer text. Every change is validated like
``ivr data validate``, written to the knowledge base, kept in the history, and live for the
next call without a restart (``ivr.server.improve``); a refused change writes nothing and the
page says why, with the validator's words.

Routes are plain ``def``: the edit, the validation and the rebuild of the server's models take
seconds and run in FastAPI's thread pool, never on the event loop the phone calls run on.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from escalation.accounts import Staff
from escalation.console.auth import csrf_guard, require_admin, require_login
from escalation.console.views import flash, jst, path_for, render

log = logging.getLogger(__name__)

# the group's utterances, one hidden field each: ``text`` the (up to 5) shown, added as examples;
# ``also`` the group's other near-duplicates, only recorded as dealt with
Texts = Annotated[list[str] | None, Form()]
DAY_CHOICES = (1, 7, 30, 90)  # 90: the default retention of what callers said (IVR_RETENTION_DAYS)
DEFAULT_DAYS = 7
KIND_LABELS = {"example": "例文に追加", "out_of_scope": "対象外にした", "dismiss": "見送り", "alias": "品目の別名",
               "answer": "回答文の変更"}
OUTCOME_LABELS = {"not_understood": "聞き取れず・理解できず", "transferred": "職員へ転送", "ticket": "折り返し受付"}


def improve_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(require_login), Depends(csrf_guard)], include_in_schema=False)

    @router.get("/improve", response_class=HTMLResponse, name="improve")
    def improve(request: Request, days: int = DEFAULT_DAYS) -> Response:
        return _improve_page(request, days if days in DAY_CHOICES else DEFAULT_DAYS)

    @router.post("/improve/example", response_class=HTMLResponse, name="improve_example")
    def add_example(request: Request, text: Texts = None, also: Texts = None, topic: str = Form(""),
                    days: int = Form(DEFAULT_DAYS)) -> Response:
        if not topic:
            return _improve_page(request, days, "話題を選んでから「例文に追加」を押してください。", 400)
        title = _title(request, topic)
        return _apply(request, lambda e, who: e.add_examples(text or [], topic, who, also),
                      f"{len(_distinct(text or []))}件の言い方を「{title}」の例文に追加しました。", days)

    @router.post("/improve/out-of-scope", response_class=HTMLResponse, name="improve_out_of_scope")
    def out_of_scope(request: Request, text: Texts = None, also: Texts = None,
                     days: int = Form(DEFAULT_DAYS)) -> Response:
        return _apply(request, lambda e, who: e.mark_out_of_scope(text or [], who, also),
                      "対象外（ごみ以外のご用件）にしました。次の電話から市役所の代表番号をご案内します。", days)

    @router.post("/improve/dismiss", response_class=HTMLResponse, name="improve_dismiss")
    def dismiss(request: Request, text: Texts = None, days: int = Form(DEFAULT_DAYS)) -> Response:
        return _apply(request, lambda e, who: e.dismiss(text or [], who),
                      "一覧から外しました（知識ベースは変えていません）。", days)

    @router.get("/improve/status.json", name="improve_status")
    def status(request: Request) -> Response:
        """For improve.js: whether the server is still rebuilding its models after an edit."""
        return JSONResponse(_status(request))

    @router.get("/improve/knowledge", response_class=HTMLResponse, name="knowledge",
                dependencies=[Depends(require_admin)])
    def knowledge(request: Request, topic: str = "") -> Response:
        return _knowledge_page(request, topic)

    @router.post("/improve/knowledge/alias", response_class=HTMLResponse, name="knowledge_alias",
                 dependencies=[Depends(require_admin)])
    def alias(request: Request, item: str = Form(""), alias: str = Form("")) -> Response:
        return _apply(request, lambda e, who: e.add_alias(item, alias, who),
                      f"品目「{item.strip()}」に別名「{alias.strip()}」を追加しました。", None,
                      form={"item": item, "alias": alias})

    @router.post("/improve/knowledge/answer", response_class=HTMLResponse, name="knowledge_answer",
                 dependencies=[Depends(require_admin)])
    def answer(request: Request, topic: str = Form(""), answer: str = Form("")) -> Response:
        return _apply(request, lambda e, who: e.set_answer(topic, answer, who),
                      f"「{_title(request, topic)}」の回答文を変更しました。", None,
                      form={"topic": topic, "answer": answer})

    return router


def _distinct(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def _title(request: Request, topic: str) -> str:
    found = request.app.state.improvement.kb.topic_by_id.get(topic)
    return found.title if found is not None else topic


def _topics(request: Request) -> list[dict[str, str]]:
    """Every topic for the select, in the knowledge base's order (staff know it: faq.yaml's)."""
    return [{"id": t.id, "title": t.title} for t in request.app.state.improvement.kb.topics]


def _status(request: Request) -> dict[str, Any]:
    status = request.app.state.improvement.status()
    if status.reloading:
        text = "自動応答に反映中です…（通話中の電話はそのまま続きます）"
    elif status.error:
        text = "前回の変更は自動応答に反映できませんでした。システム管理者に連絡してください。"
    elif status.live_at is not None:
        text = f"自動応答に反映済み（{jst(status.live_at)}、{status.last_reload_s:.1f} 秒）"
    else:
        text = ""
    return {"reloading": status.reloading, "error": bool(status.error), "text": text}


def _improve_page(request: Request, days: int, error: str | None = None, status: int = 200) -> Response:
    improvement = request.app.state.improvement
    groups = improvement.groups(days)
    return render(request, "improve.html", {
        "groups": groups, "topics": _topics(request), "days": days, "day_choices": DAY_CHOICES,
        "outcome_labels": OUTCOME_LABELS, "error": error, "changes": improvement.changes(10),
        "kind_labels": KIND_LABELS, "status": _status(request)}, status)


def _knowledge_page(request: Request, topic: str, error: str | None = None, status: int = 200,
                    form: dict[str, str] | None = None) -> Response:
    improvement = request.app.state.improvement
    kb = improvement.kb
    form = form or {}
    chosen = kb.topic_by_id.get(form.get("topic") or topic)
    return render(request, "knowledge.html", {
        "topics": _topics(request), "chosen": chosen, "items": [i.name for i in kb.items],
        "answer_text": form.get("answer", chosen.answer if chosen else ""), "item_text": form.get("item", ""),
        "alias_text": form.get("alias", ""), "error": error, "changes": improvement.changes(50),
        "kind_labels": KIND_LABELS, "status": _status(request)}, status)


def _apply(request: Request, edit: Any, done: str, days: int | None, form: dict[str, str] | None = None) -> Response:
    """Make the edit and put it live; on a refusal the same page again with the reason (nothing written)."""
    from ivr.knowledge.editing import EditRefused
    from ivr.server.improve import ReloadFailed

    staff: Staff = request.state.staff
    improvement = request.app.state.improvement
    try:
        applied = improvement.apply(lambda editor: edit(editor, staff.name))
    except EditRefused as e:
        if days is None:
            return _knowledge_page(request, (form or {}).get("topic", ""), e.message, 400, form)
        return _improve_page(request, days, e.message, 400)
    except ReloadFailed:  # written but not live: say so; the old answers stay in service
        log.exception("knowledge-base change by %s: reload failed", staff.name)
        message = "変更は保存されましたが、自動応答への反映に失敗しました。システム管理者に連絡してください。"
        if days is None:
            return _knowledge_page(request, "", message, 500)
        return _improve_page(request, days, message, 500)
    change = applied.change
    if applied.seconds is not None:
        done += f"（{applied.seconds:.1f} 秒で自動応答に反映済み。通話中の電話はそのまま続きます）"
    elif not applied.live:
        done += "（自動応答に反映中です。次の電話から使われます。反映の状況はこのページの上に出ます）"
    flash(request, done)
    if days is None:
        return RedirectResponse(path_for(request, "knowledge") + f"?topic={change.topic or ''}", status_code=303)
    return RedirectResponse(path_for(request, "improve") + f"?days={days}", status_code=303)
