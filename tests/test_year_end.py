"""Year-end schedules (year_end.yaml): model, loader checks, the validate warning, the schedule
engine's use of them, and the answers the dialogue builds from them and from holiday policies."""

from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import NARA_DATA
from ivr.cli import app
from ivr.dialogue import prompts, seasons
from ivr.knowledge.base import load_knowledge
from ivr.knowledge.loader import KnowledgeError
from ivr.knowledge.models import Area, Collector, Suspension, YearEnd, YearEndClosure
from ivr.knowledge.schedule import ScheduleEngine, Status
from ivr.knowledge.year_end import coming_winter, missing_year_end, winter_of
from ivr.language.question_forms import asks_about_obon

runner = CliRunner()

WINTER_2026 = {
    "year": 2026,
    "collection": [
        {
            "collector": "奈良市収集課",
            "spoken": "市の収集課の地域",
            "start": "2027-01-01",
            "end": "2027-01-05",
            "last_day": "2026-12-31",
            "first_day": "2027-01-07",
        },
    ],
    "self_haul": {"start": "2026-12-31", "end": "2027-01-03", "place": "清美センター"},
    "note": "テスト用の日程です。",
    "basis": "5374-nara",
}


def _write_year_end(folder: Path, *entries: dict) -> None:
    data = yaml.safe_load((folder / "year_end.yaml").read_text(encoding="utf-8"))
    data["year_end"] += list(entries)
    (folder / "year_end.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _problems(folder: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(folder)
    return [str(p) for p in err.value.problems]


# --- the data and the model -----------------------------------------------------------------


def test_nara_keeps_the_5374_winter_as_it_was(nara_kb):
    (entry,) = nara_kb.year_end
    assert entry.year == 2015 and entry.basis == "5374-nara"
    section = entry.closure_for("奈良市収集課")
    assert (section.start, section.end) == (date(2015, 12, 29), date(2016, 1, 3))
    kosha = entry.closure_for("奈良市清美公社")
    assert (kosha.start, kosha.end) == (date(2016, 1, 1), date(2016, 1, 3))
    assert entry.self_haul is not None and entry.self_haul.start == date(2016, 1, 1)


def test_an_entry_must_stay_inside_its_winter():
    with pytest.raises(ValueError, match="between 2026-12-01 and 2027-01-31"):
        YearEnd(
            year=2026,
            basis="t",
            collection=[YearEndClosure(collector="A", start=date(2062, 12, 29), end=date(2063, 1, 3))],
        )
    with pytest.raises(ValueError, match="before start"):
        YearEndClosure(collector="A", start=date(2027, 1, 3), end=date(2026, 12, 29))
    with pytest.raises(ValueError, match="last_day"):
        YearEndClosure(collector="A", start=date(2026, 12, 29), end=date(2027, 1, 3), last_day=date(2026, 12, 30))
    with pytest.raises(ValueError, match="listed twice"):
        closure = YearEndClosure(collector="A", start=date(2026, 12, 29), end=date(2027, 1, 3))
        YearEnd(year=2026, basis="t", collection=[closure, closure])


def test_loader_names_file_line_and_field(nara_copy):
    _write_year_end(
        nara_copy,
        {**WINTER_2026, "basis": "nowhere"},
        {**WINTER_2026, "collection": [{**WINTER_2026["collection"][0], "collector": "奈良市ないない課"}]},
        {"year": 2027, "basis": "5374-nara", "colection": []},
    )
    problems = _problems(nara_copy)
    assert any(p.startswith("year_end.yaml:") and "basis" in p and "nowhere" in p for p in problems)
    assert any("collection.collector" in p and "奈良市ないない課" in p for p in problems)
    assert any("year" in p and "'2026' is already on line" in p for p in problems)
    assert any("colection" in p for p in problems)  # a typo in a key is an error, not ignored


def test_a_city_without_the_file_has_no_schedule(nara_copy):
    (nara_copy / "year_end.yaml").unlink()
    assert load_knowledge(nara_copy).year_end == []
    (nara_copy / "year_end.yaml").write_text("year_end:\n", encoding="utf-8")  # every entry commented out
    assert load_knowledge(nara_copy).year_end == []


# --- which winter, and the validate warning ---------------------------------------------------


@pytest.mark.parametrize(
    ("today", "winter"),
    [
        (date(2026, 12, 1), 2026),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 3), 2026),
        (date(2027, 1, 4), 2027),
        (date(2026, 6, 1), 2026),
    ],
)
def test_coming_winter(today, winter):
    assert coming_winter(today) == winter


def test_winter_of_a_day():
    assert winter_of(date(2026, 12, 30)) == 2026 and winter_of(date(2027, 1, 4)) == 2026
    assert winter_of(date(2026, 8, 13)) is None


def test_missing_winter_warns_with_year_and_file(nara_kb):
    warning = missing_year_end(nara_kb.root, nara_kb.year_end, date(2026, 12, 1))
    assert warning is not None
    assert "2026" in warning.message and str(NARA_DATA / "year_end.yaml") in warning.message
    assert "newest entry is year 2015" in warning.message
    assert missing_year_end(nara_kb.root, nara_kb.year_end, date(2015, 11, 1)) is None
    assert missing_year_end(nara_kb.root, nara_kb.year_end, date(2016, 1, 2)) is None  # still that winter
    assert missing_year_end(nara_kb.root, [], date(2015, 11, 1)) is not None


def test_validate_warns_but_passes():
    result = runner.invoke(app, ["data", "validate", str(NARA_DATA), "--today", "2026-12-01"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "warning" in result.output
    assert "year: 2026" in result.output and "year_end.yaml" in result.output
    result = runner.invoke(app, ["data", "validate", str(NARA_DATA), "--today", "2015-10-01"])
    assert result.exit_code == 0 and "warning" not in result.output


def test_validate_is_quiet_once_staff_add_the_winter(nara_copy):
    _write_year_end(nara_copy, WINTER_2026)
    result = runner.invoke(app, ["data", "validate", str(nara_copy), "--today", "2026-12-01"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


# --- the schedule engine -----------------------------------------------------------------------


def _engine(year_end: list[YearEnd]) -> tuple[Area, ScheduleEngine]:
    area = Area(
        name="テスト町",
        town="テスト町",
        reading="テストチョー",
        collector="C",
        rules={"燃やせるごみ": "月 火 水 木 金 土 日"},
    )
    col = Collector(
        name="C",
        basis="t",
        suspensions=[
            Suspension(start=date(2015, 12, 29), end=date(2016, 1, 3), annual=True),
            Suspension(start=date(2027, 1, 20), end=date(2027, 1, 20)),
        ],
    )  # a one-off closure stays
    return area, ScheduleEngine([area], [col], None, year_end)


def test_an_announced_winter_replaces_the_yearly_closure():
    entry = YearEnd(
        year=2026, basis="t", collection=[YearEndClosure(collector="C", start=date(2027, 1, 1), end=date(2027, 1, 5))]
    )
    area, engine = _engine([entry])
    status = lambda d: engine.status(area, "燃やせるごみ", d).status  # noqa: E731
    assert status(date(2026, 12, 31)) is Status.collected  # the yearly 12-29 closure no longer applies
    assert status(date(2027, 1, 5)) is Status.suspended
    assert engine.status(area, "燃やせるごみ", date(2027, 1, 5)).reason == "year_end"
    assert status(date(2027, 1, 6)) is Status.collected
    assert status(date(2027, 1, 20)) is Status.suspended  # one-off closures are not replaced
    assert status(date(2027, 12, 30)) is Status.suspended  # a winter without an entry: the yearly closure


# --- the answers -------------------------------------------------------------------------------


def test_covered_winter_is_answered_from_its_entry(nara_copy):
    _write_year_end(nara_copy, WINTER_2026)
    kb = load_knowledge(nara_copy)
    answer = seasons.year_end_answer(kb, date(2026, 12, 1), "年末年始の収集は", None)
    assert not answer.offer_staff
    assert "2026年末から2027年始" in answer.text
    assert "市の収集課の地域は、1月1日 金曜日から1月5日 火曜日まで、収集がお休みです" in answer.text
    assert "年内の最後の収集は、12月31日 木曜日です" in answer.text
    assert "年明けは、1月7日 木曜日から収集します" in answer.text
    assert "持ち込みの清美センターは、12月31日 木曜日から1月3日 日曜日まで、お休みです" in answer.text
    assert answer.text.endswith("テスト用の日程です。")


def test_uncovered_winter_says_the_known_year_and_offers_staff(nara_kb):
    answer = seasons.year_end_answer(nara_kb, date(2026, 12, 1), "年末年始の収集は", None)
    assert answer.offer_staff
    assert "2026年末から2027年始の収集の日程は、まだ" in answer.text
    assert "2015年末から2016年始" in answer.text and "お休みでした" in answer.text
    assert "火曜日" not in answer.text  # 2015's weekdays would mislead about 2026
    assert answer.text.endswith(prompts.OFFER_STAFF_AFTER_ANSWER)


def test_no_schedule_at_all_still_offers_rather_than_transfers(nara_copy):
    (nara_copy / "year_end.yaml").unlink()
    answer = seasons.year_end_answer(load_knowledge(nara_copy), date(2026, 12, 1), "年末年始", None)
    assert answer.offer_staff and answer.text == prompts.YEAR_END_NONE + prompts.OFFER_STAFF_AFTER_ANSWER


def test_the_winter_asked_about():
    assert seasons.asked_winter("1月4日から収集始まりますか", date(2026, 12, 1)) == 2026
    assert seasons.asked_winter("年末年始の収集は", date(2027, 1, 2)) == 2026  # 年末 alone: the one under way
    assert seasons.asked_winter("12月29日って燃えるごみ来ますか", date(2026, 2, 1)) == 2026


def test_holidays_follow_the_collectors_policies(nara_kb, nara_copy):
    answer = seasons.holiday_answer(nara_kb, date(2026, 7, 1), "お盆の間も収集はありますか", None)
    assert answer.text.startswith("お盆の間も、いつもの曜日どおりに収集があります。")
    assert "2017年3月までの情報" in answer.text  # collectors.yaml is 2016 data
    answer = seasons.holiday_answer(nara_kb, date(2026, 11, 20), "11月23日は祝日やけど出してええ", None)
    assert answer.text.startswith("11月23日 月曜日は、勤労感謝の日です。祝日も、")
    collectors = yaml.safe_load((nara_copy / "collectors.yaml").read_text(encoding="utf-8"))
    collectors["collectors"][1]["holiday_policy"] = "skip"  # 清美公社
    (nara_copy / "collectors.yaml").write_text(yaml.safe_dump(collectors, allow_unicode=True), encoding="utf-8")
    answer = seasons.holiday_answer(load_knowledge(nara_copy), date(2026, 4, 1), "祝日は収集ある", None)
    assert "市の収集課の地域は、祝日も、いつもの曜日どおりに収集があります" in answer.text
    assert "清美公社の地域は、祝日は収集がお休みです" in answer.text


def test_year_end_words_in_a_holiday_question_go_to_the_year_end_answer():
    assert seasons.is_year_end_question("正月の祝日も収集ある？", date(2026, 12, 1))
    assert seasons.is_year_end_question("1月2日は祝日やけど来る？", date(2026, 12, 1))
    assert not seasons.is_year_end_question("海の日ってごみ来る？", date(2026, 7, 1))


# --- お盆: the holidays or a tray --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "obon"),
    [
        ("お盆の間も収集はありますか", True),
        ("お盆休みもごみ出せますか", True),
        ("お盆の期間中ごみの収集はありますか", True),
        ("お盆も収集あるん?", True),
        ("おぼんのあいだもごみのしゅうしゅうありますか", True),
        ("お盆の時はごみ来ますか", True),
        ("お盆は何ごみですか", False),
        ("お盆って何ごみ", False),
        ("木のお盆を捨てたい", False),
        ("お盆は燃えるごみですか", False),
        ("お盆を燃えないごみに出してもいいですか", False),
    ],
)
def test_obon_holidays_or_a_tray(text, obon):
    assert asks_about_obon(text) is obon
