"""The FAQ improvement loop on a running server: what the staff console's 改善 pages call.

Staff see the utterances the bot failed on (the call log, ``analytics.store.CallLog``), grouped;
an edit (``ivr.knowledge.editing``) is validated and written, and then the server's ``Brain`` is
rebuilt from the edited folder and swapped in: the next call uses it, while every call in
progress keeps the ``Brain`` its ``CallSession`` started with, so no call is dropped or changes
its mind mid-way. Rebuilding takes a few seconds (embeddings of unchanged texts come from
``IVR_CACHE_DIR``; only new texts are embedded) and runs in the console's worker thread, never on
the event loop the calls run on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ivr.dialogue.state import Brain
from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.editing import KnowledgeEditor, clean_text
from ivr.knowledge.history import HISTORY_FILE, Change, History
from ivr.language.grouping import Group, group_failed

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime

log = logging.getLogger(__name__)

WARM_UP_TEXT = "あの、冷蔵庫は何ごみですか"  # as Runtime.load: lazy parts load now, not in the next call
MAX_FAILED = 2000  # utterances read per page: a busy month on one city's hotline
# An edit's page waits this long for the rebuild (seconds on an idle server, the intent classifier's
# refit being most of it; 20-40 s on a loaded 2-core one); past it the page says 反映中 and its
# status line follows the rebuild, so no request hangs on a busy machine.
WAIT_FOR_RELOAD_S = 20.0


def reload_brain(runtime: Runtime) -> float:
    """Build a new Brain from ``runtime.settings.data_dir`` and swap it in; blocking (seconds), so
    call it off the event loop. Returns the seconds it took. A failure leaves the old Brain."""
    started = time.perf_counter()
    settings = runtime.settings
    brain = Brain.load(settings.data_dir, settings.embedding_model, settings.cache_dir)
    brain.nlu.parse(WARM_UP_TEXT, runtime.clock().date())
    runtime.brain = brain  # one reference assignment: a new call sees the old Brain or the new, never half
    seconds = time.perf_counter() - started
    log.info("knowledge base reloaded from %s in %.1f s", settings.data_dir, seconds)
    return seconds


@dataclass(frozen=True)
class Applied:
    change: Change
    live: bool  # the running server already answers with it (or it changed nothing the bot reads)
    seconds: float | None  # the rebuild's time, when this edit waited for it


@dataclass(frozen=True)
class ReloadStatus:
    reloading: bool
    live_at: datetime | None  # when the last rebuild went live (UTC)
    last_reload_s: float | None
    error: str  # why the last rebuild failed ('' when it did not)


class ReloadFailed(RuntimeError):
    """The edit is written, but the server could not rebuild its models: the old ones stay in use."""


class Improvement:
    """The console's view of one server's knowledge base: failed utterances, edits, reloads.

    Edits are made one at a time; rebuilds run in one background thread and coalesce (edits made
    while a rebuild runs are all in the next one), so the last rebuild always has the last edit.
    """

    def __init__(self, runtime: Runtime, failed: Callable[[datetime], list[Any]] | None = None,
                 reload: Callable[[Runtime], float] = reload_brain, wait_s: float = WAIT_FOR_RELOAD_S) -> None:
        """``failed``: where failed utterances come from (default: the runtime's call log);
        ``reload``: how the edited base goes live (tests of the pages alone pass a stand-in)."""
        self.runtime = runtime
        self._reload = reload
        self.wait_s = wait_s
        settings = runtime.settings
        self.history = History(settings.state_dir / HISTORY_FILE)
        self.editor = KnowledgeEditor(settings.data_dir, self.history)
        self._failed = failed
        self._edit_lock = threading.Lock()
        self._cond = threading.Condition()
        self._wanted = self._live = 0  # rebuild generations asked for / in service
        self._worker: threading.Thread | None = None
        self._status = ReloadStatus(False, None, None, "")

    @property
    def kb(self) -> KnowledgeBase:
        return self.runtime.brain.kb

    @property
    def last_reload_s(self) -> float | None:
        return self._status.last_reload_s

    def status(self) -> ReloadStatus:
        with self._cond:
            return ReloadStatus(self._live < self._wanted, self._status.live_at, self._status.last_reload_s,
                                self._status.error)

    def failed_utterances(self, since: datetime) -> list[Any]:
        """From the call log (``Runtime.call_log``); none when the server keeps no call log."""
        if self._failed is not None:
            return self._failed(since)
        call_log = getattr(self.runtime, "call_log", None)
        return call_log.failed_utterances(since, limit=MAX_FAILED) if call_log is not None else []

    def groups(self, days: int) -> list[Group]:
        """Failed utterances of the last ``days`` days, grouped; those already dealt with (in the
        history, or already phrasings of the knowledge base) are left out."""
        since = datetime.now(UTC) - timedelta(days=days)
        kb = self.kb
        skip = self.history.handled(self.editor.root)
        skip |= {clean_text(e) for t in kb.topics for e in t.examples}
        skip |= {clean_text(text) for text, _ in kb.phrasings}
        return group_failed(self.failed_utterances(since), skip)

    def changes(self, limit: int = 50) -> list[Change]:
        return self.history.changes(self.editor.root)[-limit:][::-1]

    def apply(self, edit: Callable[[KnowledgeEditor], Change]) -> Applied:
        """Make one edit (EditRefused: nothing written), then rebuild the server's models and wait up
        to ``wait_s`` for them to go live. ReloadFailed: written, but the old models stay in use."""
        with self._edit_lock:
            change = edit(self.editor)
        if not change.file or not change.new:  # recorded only (set aside, or already an example)
            return Applied(change, True, None)
        generation = self._request_reload()
        with self._cond:
            live = self._cond.wait_for(lambda: self._live >= generation, timeout=self.wait_s)
            if live and self._status.error:
                raise ReloadFailed(self._status.error)
            return Applied(change, live, self._status.last_reload_s if live else None)

    def _request_reload(self) -> int:
        with self._cond:
            self._wanted += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._rebuild, name="kb-reload", daemon=True)
                self._worker.start()
            return self._wanted

    def _rebuild(self) -> None:
        """The reload thread: rebuild until the models have every edit asked for, then end."""
        while True:
            with self._cond:
                if self._live >= self._wanted:
                    self._worker = None
                    return
                target = self._wanted
            try:
                seconds, error = self._reload(self.runtime), ""
            except Exception as exc:
                log.exception("rebuilding the models from the edited knowledge base failed; the old ones stay")
                seconds, error = None, f"{type(exc).__name__}: {exc}"
            with self._cond:
                self._live = target
                old = self._status
                self._status = ReloadStatus(False, datetime.now(UTC) if not error else old.live_at,
                                            seconds if not error else old.last_reload_s, error)
                self._cond.notify_all()
