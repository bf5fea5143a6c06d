"""The 5374 token language: one test per token kind, plus what real files do to it."""

from datetime import date

import pytest

from ivr.knowledge.rules import ASK_STAFF, RuleError, describe_rule, format_rule, parse_rule


def test_weekly_tokens_match_their_weekdays():
    rule = parse_rule("月 木")
    assert rule.matches(date(2016, 6, 27))  # Monday
    assert rule.matches(date(2016, 6, 30))  # Thursday
    assert not rule.matches(date(2016, 6, 28))


def test_nth_weekday_of_month():
    rule = parse_rule("水2 水4")
    assert rule.matches(date(2016, 6, 8))  # 2nd Wednesday
    assert rule.matches(date(2016, 6, 22))  # 4th Wednesday
    assert not rule.matches(date(2016, 6, 1))  # 1st
    assert not rule.matches(date(2016, 6, 15))  # 3rd
    assert rule.matches(date(2016, 6, 29)) is False  # 5th Wednesday


def test_every_other_week_counts_from_the_anchor():
    rule = parse_rule("隔水20160413")
    assert rule.matches(date(2016, 4, 13))
    assert not rule.matches(date(2016, 4, 20))
    assert rule.matches(date(2016, 4, 27))
    assert rule.matches(date(2016, 3, 30))  # before the anchor too


def test_explicit_dates_and_the_2099_sentinel():
    rule = parse_rule("20160630 20160728 20991231")
    assert rule.dates == {date(2016, 6, 30), date(2016, 7, 28)}
    assert rule.is_date_list
    assert rule.last_listed_date() == date(2016, 7, 28)


def test_month_restriction_after_colon():
    rule = parse_rule("火2 金4:4 6 8 10 12 2")
    assert rule.months == {4, 6, 8, 10, 12, 2}
    assert rule.matches(date(2016, 4, 12))  # 2nd Tuesday of April
    assert not rule.matches(date(2016, 5, 10))  # 2nd Tuesday of May: not a listed month
    assert rule.matches(date(2016, 6, 24))  # 4th Friday of June


def test_remark_reference():
    rule = parse_rule("月 *1")
    assert rule.remarks == ("1",)
    assert rule.weekly == {0}


def test_full_width_digits_and_runs_of_weekdays_from_real_files():
    assert parse_rule("火２").nth == {(1, 2)}  # Amagasaki writes a full-width 2
    assert parse_rule("月木").weekly == {0, 3}  # Settsu leaves out the space


@pytest.mark.parametrize("cell", ["公社", ASK_STAFF])
def test_collectors_own_calendar_means_ask_staff(cell):
    rule = parse_rule(cell)
    assert rule.ask_staff
    assert "職員" in describe_rule(rule)


def test_empty_cell_is_not_collected():
    assert parse_rule("").is_empty


@pytest.mark.parametrize(
    ("cell", "message"),
    [("毎週", "unknown token"), ("20160231", "not a real date"), ("隔水20160414", "not a 水曜日"),
     ("月:13", "1-12"), ("月:x", "numbers")],
)
def test_bad_cells_say_why(cell, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(cell)


@pytest.mark.parametrize(
    "cell", ["月 木", "水2 水4", "隔水20160413", "20160630 20160728", "火2 金4:4 6 8 10 12 2", "金 *2"]
)
def test_format_is_the_inverse_of_parse(cell):
    assert parse_rule(format_rule(parse_rule(cell))) == parse_rule(cell)


def test_describe_for_the_ear():
    assert describe_rule(parse_rule("月 木")) == "毎週月曜日と木曜日"
    assert describe_rule(parse_rule("水2 水4")) == "第2・第4水曜日"
    assert describe_rule(parse_rule("隔水20160413")) == "隔週の水曜日"
