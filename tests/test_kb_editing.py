"""Knowledge-base edits from the console (``ivr.knowledge.editing``) on a copy of Nara's data:
validated on a copy of the folder before anything is written, only the changed row or value
rewritten, every change in the history, refused edits leaving every file byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.knowledge.base import load_knowledge
from ivr.knowledge.editing import EditRefused, KnowledgeEditor
from ivr.knowledge.history import History
from ivr.language.grouping import group_failed


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def editor(nara_copy: Path, tmp_path: Path) -> KnowledgeEditor:
    return KnowledgeEditor(nara_copy, History(tmp_path / "state" / "kb_history.jsonl"))


def test_examples_go_to_their_own_file_and_the_history(editor: KnowledgeEditor, nara_copy: Path) -> None:
    before = snapshot(nara_copy)
    change = editor.add_examples(["資源ごみの持ち去りを見かけたんやけど", " 資源ごみの持ち去りを見かけたんやけど "],
                                 "illegal_dumping", "山田")
    assert change.kind == "example" and change.who == "山田" and change.file == "phrasings_added.csv"
    assert (nara_copy / "phrasings_added.csv").read_text(encoding="utf-8") == \
        "text,topic\n資源ごみの持ち去りを見かけたんやけど,illegal_dumping\n"
    assert {k: v for k, v in snapshot(nara_copy).items() if k != "phrasings_added.csv"} == before
    kb = load_knowledge(nara_copy)
    assert ("資源ごみの持ち去りを見かけたんやけど", "illegal_dumping") in kb.phrasings
    assert kb.added_phrasings == [("資源ごみの持ち去りを見かけたんやけど", "illegal_dumping")]
    [logged] = editor.history.changes()
    assert (logged.who, logged.kind, logged.texts) == ("山田", "example", ["資源ごみの持ち去りを見かけたんやけど"])
    assert datetime.now(UTC) - logged.at < timedelta(minutes=1)
    assert editor.history.handled(nara_copy) == {"資源ごみの持ち去りを見かけたんやけど"}

    editor.mark_out_of_scope(["市民税の納付書をなくしたんですが"], "鈴木", also=["しみんぜいののうふしょを"])
    assert load_knowledge(nara_copy).added_phrasings[-1] == ("市民税の納付書をなくしたんですが", "out_of_scope")
    assert "しみんぜいののうふしょを" not in (nara_copy / "phrasings_added.csv").read_text(encoding="utf-8")
    assert "しみんぜいののうふしょを" in editor.history.handled(nara_copy)  # a near-duplicate: dealt with too
    with pytest.raises(EditRefused, match="別の話題"):  # a known example of another topic: no contradiction
        editor.add_examples(["ごみは何時までに出したらいいですか"], "bag_rules", "山田")
    with pytest.raises(EditRefused, match="ありません"):
        editor.add_examples(["なにか"], "no_such_topic", "山田")


def test_a_change_that_fails_validation_writes_nothing(editor: KnowledgeEditor, nara_copy: Path) -> None:
    before = snapshot(nara_copy)
    with pytest.raises(EditRefused) as refused:  # the model's own check: an answer is spoken, no URLs
        editor.set_answer("bag_rules", "詳しくは https://www.city.nara.lg.jp をご覧ください。", "山田")
    assert "faq.yaml" in refused.value.message and "URL" in refused.value.message
    with pytest.raises(EditRefused, match="すでに品目「冷蔵庫」"):
        editor.add_alias("生ごみ", "冷蔵庫", "山田")
    with pytest.raises(EditRefused, match="差し込み項目"):  # a handler's template keeps {area} {days}
        editor.set_answer("collection_day", "収集日は曜日で決まっています。", "山田")
    assert snapshot(nara_copy) == before
    assert editor.history.changes() == []


def test_alias_rewrites_its_row_only(editor: KnowledgeEditor, nara_copy: Path) -> None:
    old = (nara_copy / "items.csv").read_text(encoding="utf-8")
    change = editor.add_alias("ネコの砂", "キャットリター", "管理者")
    new = (nara_copy / "items.csv").read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(old.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith("ネコの砂,ネコノスナ,猫砂|")
    assert "|猫のトイレの砂|キャットリター," in changed[0][1]
    assert (change.old, change.new) == changed[0]
    assert "キャットリター" in load_knowledge(nara_copy).item_by_name["ネコの砂"].aliases


def test_answer_is_replaced_in_place_comments_kept(editor: KnowledgeEditor, nara_copy: Path) -> None:
    old = (nara_copy / "faq.yaml").read_text(encoding="utf-8")
    text = "奈良市には指定のごみ袋はありません。中身の見える袋で出してください。"
    change = editor.set_answer("bag_rules", text, "管理者")
    new = (nara_copy / "faq.yaml").read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(old.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1] == f'    answer: "{text}"'
    assert new.startswith("# Nara City")  # the comments staff read stay
    assert load_knowledge(nara_copy).topic_by_id["bag_rules"].answer == text
    assert change.old.startswith('"') and change.new == f'"{text}"'
    [logged] = editor.history.changes()
    assert logged.kind == "answer" and logged.file == "faq.yaml" and logged.old == change.old


def test_dismissed_utterances_only_leave_the_list(editor: KnowledgeEditor, nara_copy: Path) -> None:
    before = snapshot(nara_copy)
    editor.dismiss(["ザーッ"], "山田")
    assert snapshot(nara_copy) == before and editor.history.handled() == {"ザーッ"}


class FU:
    def __init__(self, text: str, minutes: int, outcome: str = "not_understood", intent: str = "not_understood"):
        self.text, self.outcome, self.intent = text, outcome, intent
        self.at = datetime(2026, 12, 3, 1, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        self.call_id = f"CA{minutes}"


def test_failed_utterances_group_by_reading() -> None:
    said = [FU("資源ごみの持ち去りを見かけたんやけど", 0), FU("資源ごみの持ち去りを見かけたんやけど", 1),
            FU("資源ごみの持ち去りを見かけたんですけど", 2),
            FU("しげんごみの持ち去りを見かけたんやけど", 3, "transferred", "illegal_dumping"),
            FU("えーと、資源ごみの持ち去りを見かけたんやけど", 4), FU("分別アプリってありますか", 5),
            FU("ザーッ", 6), FU("", 7)]
    groups = group_failed(said, skip={"ザーッ"})
    assert [g.count for g in groups] == [5, 1]  # the most said first; kana, fillers and 〜ですけど alike
    first = groups[0]
    assert first.texts[0] == "資源ごみの持ち去りを見かけたんやけど" and len(first.texts) == 4
    assert first.guess == "illegal_dumping" and first.outcomes["transferred"] == 1
    assert first.last_at == said[4].at
    assert groups[1].texts == ["分別アプリってありますか"] and groups[1].guess == ""


def test_a_folder_that_cannot_be_written_is_said_so(editor: KnowledgeEditor, nara_copy: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only checkout (root ignores file modes, so the write itself is made to fail)."""
    import ivr.knowledge.editing as editing

    def read_only(path: Path, text: str) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(editing, "_atomic_write", read_only)
    before = snapshot(nara_copy)
    with pytest.raises(EditRefused, match="書き込めません"):
        editor.add_alias("ネコの砂", "キャットリター", "管理者")
    assert snapshot(nara_copy) == before and editor.history.changes() == []
