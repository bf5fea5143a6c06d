"""import-opendata: the national 「ごみの分別方法」 dataset, plain and prefixed headers."""

from pathlib import Path

import pytest

from conftest import FIXTURES
from ivr.knowledge.base import load_knowledge
from ivr.knowledge.import_opendata import OpendataError, import_opendata

OPENDATA = FIXTURES / "opendata"


def test_fresh_city_from_open_data(tmp_path):
    report = import_opendata(OPENDATA / "plain.csv", tmp_path)
    kb = load_knowledge(tmp_path)
    assert report.items == len(kb.items) == 6
    assert kb.municipality.name == "テスト市" and kb.municipality.code == "999999"
    sofa = kb.item_by_name["ソファー"]
    assert sofa.category == "粗大ごみ" and sofa.fee == "有料 800円 1点あたり"
    assert "申し込みが必要です" in sofa.note
    assert kb.item_by_name["アイロン"].fee == ""
    assert "大きいものは粗大ごみ" in kb.item_by_name["アイロン台"].note
    assert kb.category_by_name["収集できないもの"].collected is False
    assert "大型ごみ" in kb.category_by_name["粗大ごみ"].aliases


def test_prefixed_reordered_shift_jis_header(tmp_path):
    import_opendata(OPENDATA / "prefixed_cp932.csv", tmp_path)
    kb = load_knowledge(tmp_path)
    assert kb.item_by_name["ベッド"].fee == "有料 1200円"
    assert kb.item_by_name["冷蔵庫"].category == "家電リサイクル"


def test_into_an_existing_base_maps_categories_and_keeps_curated_items(nara_copy: Path):
    before = load_knowledge(nara_copy)
    report = import_opendata(OPENDATA / "plain.csv", nara_copy)
    kb = load_knowledge(nara_copy)
    assert len(kb.categories) == len(before.categories)  # every 分別区分 is a Nara alias
    assert kb.item_by_name["生ごみ"] == before.item_by_name["生ごみ"]  # curated entry wins
    assert report.added == len(kb.items) - len(before.items)
    for item in kb.items[len(before.items):]:
        assert item.category in kb.category_by_name
        assert item.basis == "opendata-plain"
    assert any(s.id == "opendata-plain" for s in kb.municipality.sources)


def test_missing_columns_are_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("名前,種類\nやかん,燃やさないごみ\n", encoding="utf-8")
    with pytest.raises(OpendataError, match="品目"):
        import_opendata(bad, tmp_path / "out")
