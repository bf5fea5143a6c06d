"""The schedule engine on the real Nara data (青山) and on small synthetic collectors."""

from datetime import date, timedelta

import pytest

from ivr.knowledge.models import Area, Collector, Suspension, Validity
from ivr.knowledge.schedule import ScheduleEngine, Status


@pytest.fixture(scope="module")
def aoyama(nara_kb):
    (area,) = nara_kb.areas_named("青山")
    return area


def test_aoyama_on_dates_across_a_year(nara_kb, aoyama):
    """青山 (zone B, 奈良市収集課): 燃やせる 月木, プラ 金, 燃やせない 隔水 from 2016-04-13."""
    on = lambda d: nara_kb.schedule.collected_on(aoyama, d).collected  # noqa: E731
    assert on(date(2016, 4, 4)) == ["燃やせるごみ"]  # Monday
    assert on(date(2016, 4, 8)) == ["プラスチック製容器包装"]  # Friday
    assert on(date(2016, 4, 13)) == ["燃やせないごみ"]  # the anchor Wednesday
    assert on(date(2016, 4, 20)) == []  # the other Wednesday
    assert on(date(2016, 6, 27)) == ["燃やせるごみ", "再生資源"]  # Monday and a recycling date
    assert on(date(2016, 7, 18)) == ["燃やせるごみ"]  # 海の日: Nara collects on holidays
    assert on(date(2016, 9, 19)) == ["燃やせるごみ", "再生資源"]
    assert on(date(2016, 10, 5)) == []  # Wednesday of the off week
    assert on(date(2016, 11, 3)) == ["燃やせるごみ"]  # 文化の日, a Thursday
    assert on(date(2017, 2, 3)) == ["プラスチック製容器包装"]
    assert on(date(2017, 3, 30)) == ["燃やせるごみ"]
    # every Monday and Thursday of the year is a burnable day, outside the year-end closure
    day = date(2016, 4, 1)
    while day <= date(2017, 3, 31):
        in_closure = date(2016, 12, 29) <= day <= date(2017, 1, 3)
        expected = day.weekday() in (0, 3) and not in_closure
        assert ("燃やせるごみ" in on(day)) == expected, day
        day += timedelta(days=1)


def test_year_end_suspension_of_the_collection_section(nara_kb, aoyama):
    """収集課 suspends 12/29–1/3: Thursday 12/29 and Monday 1/2 have no collection."""
    dec29 = nara_kb.schedule.collected_on(aoyama, date(2016, 12, 29))
    assert dec29.collected == [] and dec29.suspended == ["燃やせるごみ"]
    assert nara_kb.schedule.collected_on(aoyama, date(2016, 12, 30)).suspended == ["プラスチック製容器包装"]
    assert nara_kb.schedule.collected_on(aoyama, date(2017, 1, 2)).collected == []
    assert nara_kb.schedule.collected_on(aoyama, date(2016, 12, 26)).collected == ["燃やせるごみ"]
    assert nara_kb.schedule.collected_on(aoyama, date(2017, 1, 5)).collected == ["燃やせるごみ"]
    nxt = nara_kb.schedule.next_date(aoyama, "燃やせるごみ", date(2016, 12, 27))
    assert nxt.day == date(2017, 1, 5)  # 12/29 and 1/2 are skipped


def test_recycling_date_list_ends_and_then_the_data_cannot_say(nara_kb, aoyama):
    assert nara_kb.schedule.next_date(aoyama, "再生資源", date(2016, 7, 1)).day == date(2016, 7, 25)
    after = nara_kb.schedule.next_date(aoyama, "再生資源", date(2016, 10, 1))
    assert after.day is None and after.unknown
    assert "再生資源" in nara_kb.schedule.collected_on(aoyama, date(2016, 10, 17)).unknown


def test_past_validity_the_answer_is_stale(nara_kb, aoyama):
    assert not nara_kb.schedule.collected_on(aoyama, date(2016, 6, 27)).stale
    later = nara_kb.schedule.collected_on(aoyama, date(2026, 11, 30))
    assert later.stale and later.collected == ["燃やせるごみ"]  # still the rule, flagged


def test_split_area_has_two_schedules(nara_kb):
    north, south = sorted(nara_kb.areas_named("大宮町１丁目（大宮通り北側）") + nara_kb.areas_named(
        "大宮町１丁目（大宮通り南側）"), key=lambda a: a.qualifier)
    assert {north.qualifier, south.qualifier} == {"大宮通り北側", "大宮通り南側"}
    monday = date(2016, 6, 6)
    days = {a.qualifier: nara_kb.schedule.collected_on(a, monday).collected for a in (north, south)}
    assert days["大宮通り北側"] == ["燃やせるごみ"]
    assert days["大宮通り南側"] == ["プラスチック製容器包装"]


def test_collectors_own_calendar_is_unknown(nara_kb):
    (kawakami,) = [a for a in nara_kb.areas if a.name.startswith("川上町（飯森町")]
    ans = nara_kb.schedule.collected_on(kawakami, date(2016, 6, 27))
    assert "燃やせるごみ" in ans.unknown and ans.collected == ["再生資源"]


def _engine(collector: Collector, cell: str = "月 木", validity: Validity | None = None):
    area = Area(name="テスト町", town="テスト町", reading="テストチョー", collector=collector.name,
                rules={"燃やせるごみ": cell})
    return area, ScheduleEngine([area], [collector], validity)


def test_shift_week_policy_moves_a_suspended_day_a_week_later():
    """Kanazawa's rule: a suspended collection happens one week later."""
    col = Collector(name="東部", basis="t", suspensions=[
        Suspension(start=date(2022, 12, 30), end=date(2023, 1, 3), policy="shift_week")])
    area, engine = _engine(col, "月")
    assert engine.status(area, "燃やせるごみ", date(2023, 1, 2)).status is Status.suspended
    moved = engine.status(area, "燃やせるごみ", date(2023, 1, 9))
    assert moved.status is Status.collected
    assert engine.next_date(area, "燃やせるごみ", date(2022, 12, 27)).day == date(2023, 1, 9)


def test_holiday_policies():
    skip = Collector(name="A", basis="t", holiday_policy="skip")
    area, engine = _engine(skip)
    assert engine.status(area, "燃やせるごみ", date(2016, 7, 18)).status is Status.holiday  # 海の日
    assert engine.status(area, "燃やせるごみ", date(2016, 7, 18)).reason == "海の日"
    nxt = Collector(name="B", basis="t", holiday_policy="next_day")
    area, engine = _engine(nxt)
    assert engine.status(area, "燃やせるごみ", date(2016, 7, 19)).status is Status.collected
    # 振替休日 comes from the holidays package, not a hand-written table
    area, engine = _engine(skip)
    assert engine.status(area, "燃やせるごみ", date(2019, 5, 6)).reason == "振替休日"


def test_annual_suspension_repeats_every_year():
    col = Collector(name="C", basis="t", suspensions=[
        Suspension(start=date(2015, 12, 29), end=date(2016, 1, 3), annual=True)])
    area, engine = _engine(col, "月 火 水 木 金 土 日")
    for year in (2016, 2020, 2026):
        assert engine.status(area, "燃やせるごみ", date(year, 12, 31)).status is Status.suspended
        assert engine.status(area, "燃やせるごみ", date(year, 1, 4)).status is Status.collected
