"""The history of knowledge-base edits made in the staff console: one JSON line per change.

It lives in ``IVR_STATE_DIR`` (``kb_history.jsonl``), beside the ticket database, not in the
knowledge-base folder: that folder may be a read-only checkout or an image layer, and the state
directory is the one a deployment already backs up. Each line says who changed what and when,
with the old and the new text, so any edit can be read back and undone by hand; it also lists the
callers' utterances the change dealt with, which is how the console's to-do list knows what is
done (an utterance set aside teaches the bot nothing, so only the history remembers it).

Appends are one ``write`` of one line under a lock, opened in append mode: two servers on the
same state directory interleave whole lines.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

HISTORY_FILE = "kb_history.jsonl"


@dataclass(frozen=True)
class Change:
    kind: str  # example | out_of_scope | dismiss | alias | answer
    who: str  # the staff member's login name
    at: datetime  # UTC
    file: str  # the knowledge-base file written ('' when only recorded)
    old: str  # the text replaced ('' when rows were added)
    new: str  # the text written
    texts: list[str] = field(default_factory=list)  # callers' utterances this change dealt with
    root: str = ""  # the knowledge-base folder
    topic: str = ""  # the topic the utterances were added to

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "at": self.at.isoformat()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Change:
        data = json.loads(line)
        data["at"] = datetime.fromisoformat(data["at"])
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class History:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, change: Change) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(change.to_json() + "\n")

    def changes(self, root: Path | str | None = None) -> list[Change]:
        """Every change (of the folder ``root`` when given), oldest first; a damaged line is skipped."""
        if not self.path.exists():
            return []
        out: list[Change] = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                change = Change.from_json(line)
            except (ValueError, TypeError, KeyError):
                log.warning("%s:%d: not a history entry, skipped", self.path, n)
                continue
            if root is None or Path(change.root) == Path(root):
                out.append(change)
        return out

    def handled(self, root: Path | str | None = None) -> set[str]:
        """Utterances already dealt with (added, marked out of scope or set aside)."""
        return {text for change in self.changes(root) for text in change.texts}
