"""import-5374 on excerpts of real city folders: one test per file quirk."""

from datetime import date
from pathlib import Path

import pytest

from conftest import FIXTURE_5374
from ivr.knowledge.base import load_knowledge
from ivr.knowledge.import_5374 import import_5374

CITIES = sorted(p.name for p in FIXTURE_5374.iterdir() if p.is_dir())


@pytest.mark.parametrize("city", CITIES)
def test_every_fixture_city_imports_and_validates(city, tmp_path):
    report = import_5374(FIXTURE_5374 / city, tmp_path / city)
    kb = load_knowledge(tmp_path / city)  # raises on any problem
    assert report.areas == len(kb.areas) > 0
    assert kb.topics, "the generic FAQ comes with an imported city"
    assert all(a.reading for a in kb.areas), "every area gets a kana reading"


def test_bom_and_crlf_are_read(tmp_path):
    """Joyo ships area_days.csv with a BOM and CRLF line ends."""
    assert (FIXTURE_5374 / "joyo" / "area_days.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    import_5374(FIXTURE_5374 / "joyo", tmp_path)
    kb = load_knowledge(tmp_path)
    assert kb.areas[0].name == "東部地区"  # no BOM glued to the first cell
    assert kb.areas[0].rules["燃やすごみ"] == "火 金"  # no stray \r


def test_shift_jis_target_file(tmp_path):
    raw = (FIXTURE_5374 / "nara_cp932" / "target.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    import_5374(FIXTURE_5374 / "nara_cp932", tmp_path)
    kb = load_knowledge(tmp_path)
    assert kb.item_by_name["生ごみ"].note == "しっかり水を切ってください"


def test_quoted_multi_line_notes_stay_one_item(tmp_path):
    """Ikoma's かばん note spans two lines inside quotes."""
    import_5374(FIXTURE_5374 / "ikoma", tmp_path)
    kb = load_knowledge(tmp_path)
    bag = kb.item_by_name["かばん(再使用できないもの)"]
    assert "30cmを超えるものは大型ごみ" in bag.note and "金属製は燃えないごみ" in bag.note
    assert bag.category == "燃えるごみ"


def test_varying_headers_are_read_by_position(tmp_path):
    """Kyotango's description.csv says Bgcolor; many target.csv files say type, not label."""
    import_5374(FIXTURE_5374 / "kyotango", tmp_path)
    kb = load_knowledge(tmp_path)
    assert "可燃ごみ" in kb.category_by_name
    assert kb.items and all(i.category in kb.category_by_name for i in kb.items)


def test_labels_missing_from_description_become_categories(tmp_path):
    import_5374(FIXTURE_5374 / "kanazawa", tmp_path)
    kb = load_knowledge(tmp_path)
    assert kb.category_by_name["有料粗大ごみ"].scheduled is False
    assert kb.category_by_name["市で収集しない"].collected is False
    assert kb.category_by_name["燃やすごみ"].scheduled is True
    assert "燃えるごみ" in kb.category_by_name["燃やすごみ"].aliases  # callers' words added


def test_duplicate_area_rows(tmp_path):
    """Nara lists 大宮町１丁目 twice (identical: merged) and 北小路町 twice (two collectors: kept)."""
    report = import_5374(FIXTURE_5374 / "nara", tmp_path)
    kb = load_knowledge(tmp_path)
    assert report.duplicate_rows_merged == 2
    assert len(kb.areas_named("大宮町１丁目（大宮通り北側）")) == 1
    kitakoji = kb.areas_named("北小路町（やすらぎの道の東側）")
    assert {a.collector for a in kitakoji} == {"奈良市収集課", "奈良市清美公社"}


def test_nara_zone_district_chome_and_qualifier(tmp_path):
    import_5374(FIXTURE_5374 / "nara", tmp_path)
    kb = load_knowledge(tmp_path)
    (aoyama,) = kb.areas_named("青山")
    assert (aoyama.zone, aoyama.district, aoyama.chome_numbers()) == ("B", "1", list(range(1, 10)))
    (north,) = kb.areas_named("大宮町１丁目（大宮通り北側）")
    assert (north.town, north.chome, north.qualifier, north.zone) == ("大宮町", "1", "大宮通り北側", "B")
    assert kb.areas_named("都祁白石町") == []  # '#' rows of 0arealist are retired areas
    (kawakami,) = [a for a in kb.areas if a.qualifier == "飯森町・長尾町"]
    assert kawakami.rules["燃やせるごみ"] == "要確認"  # 公社 cell: the 公社's own calendar


def test_full_width_digit_and_weekday_run_cells(tmp_path):
    import_5374(FIXTURE_5374 / "amagasaki", tmp_path / "a")
    import_5374(FIXTURE_5374 / "settsu", tmp_path / "s")
    (kinrakuji,) = load_knowledge(tmp_path / "a").areas_named("金楽寺町二丁目")
    assert kinrakuji.rules["金属製小型ごみ・危険なもの"] == "火2"
    assert kinrakuji.chome == "2" and kinrakuji.town == "金楽寺町"
    (senri,) = load_knowledge(tmp_path / "s").areas_named("千里丘東３～５丁目")
    assert senri.rules["もやせるごみ"] == "月 木"


def test_date_list_city_gets_a_validity_period(tmp_path):
    import_5374(FIXTURE_5374 / "ikoma", tmp_path)
    v = load_knowledge(tmp_path).municipality.validity
    assert v.valid_from == date(2025, 3, 31) and v.valid_until.year >= 2026


def test_suspensions_per_collector_and_policy(tmp_path):
    import_5374(FIXTURE_5374 / "kanazawa", tmp_path, suspension_policy="shift_week")
    kb = load_knowledge(tmp_path)
    (east,) = [c for c in kb.collectors if c.name == "東部管理センター"]
    assert east.suspensions[0].start == date(2022, 12, 30)
    assert east.suspensions[0].policy == "shift_week"


def test_reimport_into_curated_base_keeps_staff_edits(nara_copy: Path):
    """Re-importing Nara keeps curated categories/items/FAQ and corrected readings."""
    areas = (nara_copy / "areas.csv").read_text(encoding="utf-8")
    (nara_copy / "areas.csv").write_text(areas.replace("青山,アオヤマ", "青山,アオヤマテスト"), encoding="utf-8")
    items_before = (nara_copy / "items.csv").read_bytes()
    report = import_5374(FIXTURE_5374 / "nara", nara_copy)
    assert report.kept_curated
    kb = load_knowledge(nara_copy)
    assert kb.areas_named("青山")[0].reading == "アオヤマテスト"
    assert (nara_copy / "items.csv").read_bytes() == items_before
    assert "再生資源" in kb.areas_named("青山")[0].rules  # label 再生資源ゴミ mapped by labels_5374


def test_not_a_5374_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="area_days.csv"):
        import_5374(tmp_path, tmp_path / "out")


def test_bracketed_item_names_get_a_spoken_alias(tmp_path):
    import_5374(FIXTURE_5374 / "kanazawa", tmp_path)
    kb = load_knowledge(tmp_path)
    assert kb.item_by_name["IHクッキングヒーター(金属)"].aliases == ["IHクッキングヒーター"]


def test_the_hotline_runs_on_an_imported_city(tmp_path):
    """A call on Kanazawa's imported data: its own areas, schedule and items."""
    import asyncio
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from escalation.staff import OfficeHoursStaffLine
    from escalation.tickets import InMemoryTicketQueue
    from ivr.dialogue.session import CallSession
    from ivr.dialogue.state import Brain
    from ivr.dialogue.turns import CallerTurn

    import_5374(FIXTURE_5374 / "kanazawa", tmp_path, city_name="金沢市")
    city = Brain.load(tmp_path, "", tmp_path / "cache")
    now = datetime(2022, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    session = CallSession(city, InMemoryTicketQueue(), OfficeHoursStaffLine(None), lambda: now)
    greeting = asyncio.run(session.start())
    assert "金沢市" in greeting.text
    reply = asyncio.run(session.handle(CallerTurn.speech("浅野川の燃えるごみの日はいつですか")))
    assert "毎週月曜日と木曜日" in reply.text
    reply = asyncio.run(session.handle(CallerTurn.speech("IHクッキングヒーターは何ごみ")))
    assert "IHクッキングヒーターは、燃やさないごみです" in reply.text
