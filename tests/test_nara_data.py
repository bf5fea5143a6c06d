"""The committed Nara knowledge base: size, coverage and honesty checks."""

import re
from pathlib import Path

import pytest
import yaml

from ivr.knowledge.models import INFERRED


def test_sizes(nara_kb):
    assert len(nara_kb.items) >= 1000
    assert len(nara_kb.areas) == 370  # 372 rows in the 2016 data, two exact duplicates merged
    assert len(nara_kb.topics) >= 40


def test_every_source_row_is_an_area(nara_kb):
    names = {a.name for a in nara_kb.areas}
    for expected in ("青垣町１〜３丁目", "大宮町１丁目（大宮通り北側）", "大宮町１丁目（大宮通り南側）",
                     "北小路町（やすらぎの道の東側）", "肘塚町（ＪＲ桜井線東側＆岩井川南側）"):
        assert expected in names
    assert {a.zone for a in nara_kb.areas} <= set("ABCDEFGHXZ")
    assert {a.collector for a in nara_kb.areas} == {"奈良市収集課", "奈良市清美公社"}


def test_colloquial_category_names(nara_kb):
    alias = nara_kb.category_by_alias
    assert alias["粗大ごみ"].name == "大型ごみ"
    assert alias["燃えるごみ"].name == alias["可燃ごみ"].name == alias["燃やすごみ"].name == "燃やせるごみ"
    assert alias["資源ごみ"].name == alias["缶・びん・ペットボトル"].name == "再生資源"


def test_things_the_city_does_not_collect_say_what_to_do(nara_kb):
    expect = {"エアコン": "家電リサイクル", "テレビ": "家電リサイクル", "冷蔵庫": "家電リサイクル",
              "洗濯機": "家電リサイクル", "ノートパソコン": "パソコン", "モバイルバッテリー": "リチウムイオン電池",
              "新聞": "集団資源回収", "段ボール": "集団資源回収"}
    for name, category in expect.items():
        item = nara_kb.item_by_name.get(name) or next(
            i for i in nara_kb.items if name in i.aliases)
        assert item.category == category, name
        assert not nara_kb.category_by_name[category].collected
        assert nara_kb.category_by_name[category].how, category
    assert any(i.category == "事業系ごみ" for i in nara_kb.items)


def test_no_invented_fees_or_numbers(nara_kb):
    """No Nara per-item fee is known, so none may appear; phone numbers only from the sources."""
    assert all(i.fee == "" for i in nara_kb.items)
    known = {p.spoken for p in nara_kb.municipality.phones}
    for topic in nara_kb.topics:
        for spoken in re.findall(r"0\d{2,4}の\d{1,4}の\d{4}", topic.answer):
            assert spoken in known, (topic.id, spoken)
    fee_topic = next(t for t in nara_kb.topics if "料金" in t.title and "大型" in t.title)
    assert "職員" in fee_topic.answer


def test_answers_are_written_for_the_ear(nara_kb):
    for topic in nara_kb.topics:
        assert "http" not in topic.answer and "www" not in topic.answer
        assert len(topic.examples) >= 8
        assert len(set(topic.examples)) == len(topic.examples)


def test_readings_and_basis(nara_kb):
    sources = {s.id for s in nara_kb.municipality.sources}
    for item in nara_kb.items:
        assert item.reading
        assert item.basis == INFERRED or item.basis in sources
    assert any(i.basis == INFERRED for i in nara_kb.items)
    review = nara_kb.review()
    assert {e.kind for e in review} >= {"item"}
    assert all(e.line > 0 for e in review if e.kind == "item")


@pytest.mark.parametrize("name", ["nlu.yaml", "nlu_items.yaml"])
def test_labelled_sets_name_real_items_topics_and_splits(nara_kb, name):
    """bench/nlu.py scores against these labels: a renamed item or topic must not silently
    turn right answers into errors."""
    rows = yaml.safe_load((Path(__file__).parent / "data" / name).read_text(encoding="utf-8"))["utterances"]
    topics = {t.id for t in nara_kb.topics}
    for row in rows:
        assert row["split"] in {"dev", "heldout"}, row
        assert "intent" not in row or row["intent"] in topics, row
        if "item" in row:
            assert nara_kb.item_by_name[row["item"]].category == row["category"], row
    assert len({row["text"] for row in rows}) == len(rows)
