"""Knowledge-base edits from the staff console: a caller's phrasing added to a topic, an utterance
marked out of scope or set aside, an item alias, an answer text.

Each edit is made on a copy of the whole folder first and checked with the very checks of
``ivr data validate`` (``load_knowledge``: every file read, then the cross-file checks); only an
edit that passes is written, by replacing the one file atomically (a temp file in the same folder,
then ``os.replace``), so a running server or a person reading the folder never sees half a file
and a refused edit leaves every file as it was. Only the changed row or value is rewritten: the
files stay as staff wrote them (comments in faq.yaml, quoting in items.csv), and a diff shows the
change alone.

Every change is appended to a history file (who, when, which file, the old and the new text; see
``ivr.knowledge.history``), outside the knowledge-base folder, which may be a read-only checkout.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

from ivr.knowledge.base import KnowledgeBase, load_knowledge
from ivr.knowledge.history import Change, History
from ivr.knowledge.loader import ADDED_PHRASINGS_FILE, FAQ_FILE, ITEMS_FILE, LIST_SEPARATOR, KnowledgeError
from ivr.knowledge.models import Handler

MAX_TEXT_CHARS = 200  # a caller's sentence; longer is a paste accident
MAX_ANSWER_CHARS = 600  # an answer is heard, not read: past ~40 s callers stop listening
MAX_ALIAS_CHARS = 40
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class EditRefused(ValueError):
    """The edit was not made; ``message`` says why in Japanese, ``problems`` the validator's lines."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def clean_text(text: str) -> str:
    """One line, NFKC (full-width digits and spaces as callers' ASR writes them vary), trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class KnowledgeEditor:
    """Edits one knowledge-base folder; one edit at a time (two staff saving at once queue up)."""

    def __init__(self, root: Path | str, history: History,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.root = Path(root)
        self.history = history
        self.clock = clock
        self._lock = threading.Lock()

    # --- the edits -----------------------------------------------------------------------

    def add_examples(self, texts: list[str], topic: str, who: str, also: list[str] | None = None) -> Change:
        """Add caller phrasings as training examples of ``topic`` (phrasings_added.csv); ``also``:
        more ways the same was said, recorded as dealt with but not added (near-duplicates)."""
        kb = load_knowledge(self.root)
        if topic not in kb.topic_by_id:
            raise EditRefused(f"話題「{topic}」はありません。")
        return self._add_phrasings(kb, texts, topic, who, "example", also)

    def mark_out_of_scope(self, texts: list[str], who: str, also: list[str] | None = None) -> Change:
        """Teach the bot that these are not garbage questions: examples of the out-of-scope topic,
        whose answer sends the caller to the city's switchboard."""
        kb = load_knowledge(self.root)
        topic = next((t.id for t in kb.topics if t.handler == Handler.out_of_scope), None)
        if topic is None:
            raise EditRefused("この知識ベースには「ごみ以外のご用件」の話題（handler: out_of_scope）がありません。")
        return self._add_phrasings(kb, texts, topic, who, "out_of_scope", also)

    def dismiss(self, texts: list[str], who: str) -> Change:
        """Nothing to learn (noise, a one-off): the utterances only leave the to-do list."""
        texts = _texts(texts)
        change = Change(kind="dismiss", who=who, at=self.clock(), file="", old="", new="", texts=texts,
                        root=str(self.root))
        self.history.append(change)
        return change

    def add_alias(self, item: str, alias: str, who: str) -> Change:
        """Another name callers use for an item (items.csv ``aliases``)."""
        alias = clean_text(alias)
        if not alias or len(alias) > MAX_ALIAS_CHARS or LIST_SEPARATOR in alias:
            raise EditRefused(f"別名は「{LIST_SEPARATOR}」を含まない{MAX_ALIAS_CHARS}文字以内で入力してください。")
        kb = load_knowledge(self.root)
        target = kb.item_by_name.get(clean_text(item))
        if target is None:
            raise EditRefused(f"品目「{item}」は items.csv にありません。")
        for other in kb.items:
            if alias == other.name or alias in other.aliases:
                raise EditRefused(f"「{alias}」はすでに品目「{other.name}」の名前か別名です。")

        def edit(text: str) -> tuple[str, str, str]:
            return _replace_csv_row(text, target.name, lambda row: {**row, "aliases": LIST_SEPARATOR.join(
                [*filter(None, row["aliases"].split(LIST_SEPARATOR)), alias])})

        return self._commit(ITEMS_FILE, edit, "alias", who, [])

    def set_answer(self, topic: str, answer: str, who: str) -> Change:
        """A topic's answer text (faq.yaml); a handler's template keeps its placeholders."""
        answer = answer.strip()
        if not answer or len(answer) > MAX_ANSWER_CHARS:
            raise EditRefused(f"回答文は1〜{MAX_ANSWER_CHARS}文字で入力してください。")
        kb = load_knowledge(self.root)
        old = kb.topic_by_id.get(topic)
        if old is None:
            raise EditRefused(f"話題「{topic}」はありません。")
        wanted, got = set(PLACEHOLDER.findall(old.answer)), set(PLACEHOLDER.findall(answer))
        if wanted != got:
            keep = "、".join("{" + p + "}" for p in sorted(wanted)) or "なし"
            raise EditRefused(f"この回答文の差し込み項目（{keep}）は変えられません。"
                              "自動応答が日付や地域を入れる場所です。")
        return self._commit(FAQ_FILE, lambda text: _replace_answer(text, topic, answer), "answer", who, [],
                            topic)

    # --- shared machinery ----------------------------------------------------------------

    def _add_phrasings(self, kb: KnowledgeBase, texts: list[str], topic: str, who: str, kind: str,
                       also: list[str] | None) -> Change:
        texts = _texts(texts)
        handled = list(dict.fromkeys([*texts, *(t for t in map(clean_text, also or []) if t)]))
        known = _known_phrasings(kb)
        for text in texts:
            other = known.get(text)
            if other is not None and other != topic:
                title = kb.topic_by_id[other].title
                raise EditRefused(f"「{text}」はすでに別の話題「{title}」の例文です。")
        new = [t for t in texts if t not in known]

        def edit(old: str) -> tuple[str, str, str]:
            body = old if old else "text,topic\n"
            if not body.endswith("\n"):
                body += "\n"
            rows = io.StringIO()
            csv.writer(rows, lineterminator="\n").writerows([[t, topic] for t in new])
            return body + rows.getvalue(), "", rows.getvalue().rstrip("\n")

        if not new:  # all already examples of this topic: nothing to write, but the to-do list is done
            change = Change(kind=kind, who=who, at=self.clock(), file=ADDED_PHRASINGS_FILE, old="", new="",
                            texts=handled, root=str(self.root), topic=topic)
            self.history.append(change)
            return change
        return self._commit(ADDED_PHRASINGS_FILE, edit, kind, who, handled, topic)

    def _commit(self, file: str, edit: Callable[[str], tuple[str, str, str]], kind: str, who: str,
                texts: list[str], topic: str = "") -> Change:
        """Under the lock: read the file, edit it, validate the folder with the edit, write, record."""
        with self._lock:
            path = self.root / file
            raw = path.read_bytes() if path.exists() else b""
            bom = raw.startswith(b"\xef\xbb\xbf")
            text = raw.decode("utf-8-sig")
            new_text, old_part, new_part = edit(text)
            _validate_with(self.root, file, new_text)
            try:
                _atomic_write(path, ("\ufeff" if bom else "") + new_text)
            except OSError as exc:  # a read-only checkout or image layer: say so, nothing was changed
                raise EditRefused(f"知識ベースのフォルダ {self.root} に書き込めません（{exc.strerror}）。"
                                  "管理者に連絡してください。何も変更していません。") from exc
            change = Change(kind=kind, who=who, at=self.clock(), file=file, old=old_part, new=new_part,
                            texts=texts, root=str(self.root), topic=topic)
            self.history.append(change)
            return change


def _texts(texts: list[str]) -> list[str]:
    out = list(dict.fromkeys(t for t in (clean_text(x) for x in texts) if t))
    if not out:
        raise EditRefused("発話が選ばれていません。")
    if any(len(t) > MAX_TEXT_CHARS for t in out):
        raise EditRefused(f"発話は{MAX_TEXT_CHARS}文字以内にしてください。")
    return out


def _known_phrasings(kb: KnowledgeBase) -> dict[str, str]:
    """Every caller phrasing the base already has (examples, phrasings) → its topic."""
    known = {clean_text(e): t.id for t in kb.topics for e in t.examples}
    known.update((clean_text(text), topic) for text, topic in kb.phrasings)
    return known


def _validate_with(root: Path, file: str, new_text: str) -> None:
    """``ivr data validate`` on a copy of the folder with ``file`` replaced; EditRefused on a problem."""
    with tempfile.TemporaryDirectory(prefix="ivr-kb-edit-") as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy)
        (copy / file).write_text(new_text, encoding="utf-8")
        try:
            load_knowledge(copy)
        except KnowledgeError as exc:
            lines = [str(p) for p in exc.problems]
            message = "変更は保存されていません。知識ベースの検査で問題が見つかりました: " + "; ".join(lines[:5])
            raise EditRefused(message, lines) from exc


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _replace_csv_row(text: str, name: str, change: Callable[[dict[str, str]], dict[str, str]]) -> tuple[str, str, str]:
    """Rewrite the one record whose first cell is ``name``; every other line stays byte for byte."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines)
    header: list[str] = []
    start = 0
    for record in reader:
        end = reader.line_num  # the record spans lines start+1 .. end (a quoted note may span several)
        if not header:
            header = record
        elif record and record[0].strip() == name:
            row = change(dict(zip(header, record, strict=False)))
            newline = "\r\n" if lines[end - 1].endswith("\r\n") else "\n"
            out = io.StringIO()
            csv.writer(out, lineterminator=newline).writerow([row.get(h, "") for h in header])
            old = "".join(lines[start:end])
            return "".join(lines[:start]) + out.getvalue() + "".join(lines[end:]), old.rstrip("\r\n"), \
                out.getvalue().rstrip("\r\n")
        start = end
    raise EditRefused(f"「{name}」の行が見つかりません。")


def _replace_answer(text: str, topic: str, answer: str) -> tuple[str, str, str]:
    """Replace one topic's ``answer:`` value in place (comments and layout kept), as a double-quoted
    scalar; then check the file still reads as before with only that answer changed."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = None
    topics = next((v for k, v in root.value if k.value == "topics"), None) if root is not None else None
    for entry in getattr(topics, "value", []):
        fields = {k.value: v for k, v in entry.value}
        if getattr(fields.get("id"), "value", None) == topic and "answer" in fields:
            node = fields["answer"]
    if node is None:
        raise EditRefused(f"faq.yaml に話題「{topic}」の answer が見つかりません。")
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):  # a block scalar's end mark is past its trailing line break
        end = start + len(text[start:end].rstrip("\n"))
    quoted = json.dumps(answer, ensure_ascii=False)  # JSON strings are valid YAML double-quoted scalars
    new_text = text[:start] + quoted + text[end:]
    before, after = yaml.safe_load(text), yaml.safe_load(new_text)
    for t in before["topics"]:
        if t.get("id") == topic:
            t["answer"] = answer
    if before != after:
        raise EditRefused("faq.yaml の書き換えを確認できませんでした（何も変更していません）。")
    return new_text, text[start:end], quoted
