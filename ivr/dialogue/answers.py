"""Answers built from the knowledge base, written for the ear.

Short sentences, dates and weekdays as they are said, no symbols. The FAQ topic's own
template wording is used where it has one; facts always come from the knowledge base.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import Area, Category, Item
from ivr.knowledge.rules import describe_rule
from ivr.knowledge.schedule import Status
from ivr.language.dates import say_date
from ivr.language.town_parts import part_for_ear


def area_for_ear(area: Area) -> str:
    """大宮町１丁目（大宮通り北側） → 大宮町1丁目の大宮通り北側."""
    text = area.town
    numbers = area.chome_numbers()
    if len(numbers) == 1:
        text += f"{numbers[0]}丁目"
    if part := part_for_ear(area.qualifier):
        text += f"の{part}"
    return text


def join_ja(words: list[str]) -> str:
    return "と".join(words) if len(words) <= 2 else "、".join(words[:-1]) + "と" + words[-1]


def stale_note(kb: KnowledgeBase, day: date) -> str:
    if not kb.schedule.is_stale(day):
        return ""
    v = kb.municipality.validity
    period = f"{v.valid_until.year}年{v.valid_until.month}月までの" if v and v.valid_until else "古い"
    return f"ただし、これは{period}情報です。今は変わっているかもしれませんので、市のお知らせでもご確認ください。"


def fill(template: str, **values: str) -> str:
    """Fill {area} {item} … ; a placeholder without a value is dropped, not read out."""
    out = template
    for key in ("area", "item", "category", "days", "date", "note"):
        out = out.replace("{" + key + "}", values.get(key, ""))
    return out.replace("、、", "、").strip()


def for_the_ear(name: str) -> str:
    """やかん(金属)80％以上金属製 → やかん: brackets and what follows them are for reading."""
    return re.split(r"[（(【\[〔［]", name, maxsplit=1)[0].strip() or name


def sentence(text: str) -> str:
    """End a note with 。 so the next sentence does not run on when spoken."""
    text = text.strip()
    return text if not text or text.endswith(("。", "！", "？")) else f"{text}。"


def item_answer(kb: KnowledgeBase, item: Item, template: str) -> str:
    category = kb.category_by_name[item.category]
    note = sentence(item.note)
    if not category.collected and category.how and not note:
        # the city does not take it: say what to do instead. An item's own note already says where it
        # goes (タイヤ: its shops); the category's words after it were the same advice said twice
        note = category.how
    elif not note and category.name == "大型ごみ":
        note = category.how  # booking is the next thing the caller needs to know
    return fill(template, item=for_the_ear(item.name), category=category.name, note=sentence(note))


def days_of(kb: KnowledgeBase, area: Area, category: Category, today: date) -> str:
    rule = kb.schedule.rule(area, category.name)
    if rule is None or rule.is_empty:
        return ""
    if rule.is_date_list:
        nxt = kb.schedule.next_date(area, category.name, today)
        if nxt.day:
            return f"決められた日で、次は{say_date(nxt.day, today)}"
        return "決められた日ですが、今の予定は、この自動案内には未登録"  # read before 「です」
    if rule.biweekly or rule.nth:  # "every other Wednesday" alone does not say which one
        nxt = kb.schedule.next_date(area, category.name, today)
        if nxt.day:
            return f"{describe_rule(rule)}で、次は{say_date(nxt.day, today)}"
    return describe_rule(rule)


def no_day_answer(category: Category) -> str:
    """The day of a category collected on no area's day (大型ごみ: the day is given at booking;
    集団資源回収: not the city's): the same for every town, so no town is asked for it."""
    return f"{category.name}は、地域ごとの収集日はありません。{category.when or category.how}"


def collection_day_answer(
    kb: KnowledgeBase, area: Area, category: Category | None, today: date, template: str
) -> str:
    where = area_for_ear(area)
    if category is not None and not category.scheduled:
        return no_day_answer(category)
    categories = [category] if category else [kb.category_by_name[c] for c in area.rules]
    parts = []
    for cat in categories:
        days = days_of(kb, area, cat, today)
        if days:
            parts.append((cat, days))
    if not parts:
        return f"{where}の収集日は、この自動応答では分かりません。職員が確認します。"
    if len(parts) == 1:
        cat, days = parts[0]
        text = fill(template, area=where, category=cat.name, days=days, note="")
    else:
        text = f"{where}の収集日です。" + "。".join(f"{c.name}は、{d}" for c, d in parts) + "です。"
    return text + stale_note(kb, today)


def day_answer(kb: KnowledgeBase, area: Area, day: date, today: date) -> str:
    ans = kb.schedule.collected_on(area, day)
    when = say_date(day, today)
    where = area_for_ear(area)
    # nothing known to be collected but some category unknown: 「収集はありません」 then 「再生資源については
    # 分かりません」 had said no and then maybe
    none = "収集が決まっているごみはありません" if ans.unknown else "ごみの収集はありません"
    text = (
        f"{when}、{where}で収集するのは、{join_ja(ans.collected)}です。"
        if ans.collected else f"{when}は、{where}の{none}。"
    )
    if ans.suspended:
        text += f"{join_ja(ans.suspended)}は、収集がお休みの期間です。"
    if ans.unknown:
        text += f"{join_ja(ans.unknown)}については、この自動応答では分かりません。"
    return text + stale_note(kb, day)


def category_day_answer(kb: KnowledgeBase, area: Area, category: Category, day: date, today: date) -> str:
    """「元日も燃えるごみの収集ありますか」: whether that day collects the category asked, and if not, when it
    next does. The whole day's list had answered it (「…青山のごみの収集はありません。プラスチック製容器
    包装は、収集がお休みの期間です。再生資源については…分かりません」), naming 燃やせるごみ nowhere."""
    if not category.scheduled:
        return no_day_answer(category)
    where, when = area_for_ear(area), say_date(day, today)
    status = kb.schedule.status(area, category.name, day).status
    if status is Status.collected:
        return f"はい。{when}は、{where}の{category.name}の収集日です。" + stale_note(kb, day)
    if status is Status.unknown:
        unknown = f"{when}に、{where}の{category.name}の収集があるかは、この自動応答では分かりません。"
        return unknown + stale_note(kb, day)
    closed = "収集がお休みの期間なので、" if status in (Status.suspended, Status.holiday) else ""
    text = f"{when}は、{closed}{where}の{category.name}の収集はありません。"
    nxt = kb.schedule.next_date(area, category.name, day + timedelta(days=1))
    if nxt.day is not None:
        text += f"次の{category.name}は、{say_date(nxt.day, today)}です。"
    return text + stale_note(kb, nxt.day or day)


def next_answer(kb: KnowledgeBase, area: Area, category: Category, today: date, start: date | None = None) -> str:
    """The next collection of ``category`` on or after ``start`` (today unless the caller named a day)."""
    where = area_for_ear(area)
    if not category.scheduled:
        return no_day_answer(category)
    nxt = kb.schedule.next_date(area, category.name, start or today)
    if nxt.day is None:
        if nxt.unknown:
            return f"{where}の{category.name}の次の収集日は、この自動応答では分かりません。職員が確認します。"
        return f"{where}では、{category.name}の収集はありません。"
    status = kb.schedule.status(area, category.name, nxt.day)
    moved = "お休みの期間があるため、" if status.status is Status.collected and status.reason == "moved" else ""
    return f"{moved}{where}の次の{category.name}は、{say_date(nxt.day, today)}です。" + stale_note(kb, nxt.day)


def after_missed_answer(kb: KnowledgeBase, area: Area, day: date, today: date) -> str | None:
    """「今日出し忘れたんやけど次いつ」: what ``day`` collected and when each comes next, after it;
    None when nothing was collected that day (the caller is asked which category)."""
    collected = kb.schedule.collected_on(area, day).collected
    if not collected:
        return None
    verb = "する" if day >= today else "した"
    text = f"{say_date(day, today)}、{area_for_ear(area)}で収集{verb}のは、{join_ja(collected)}です。"
    latest = day
    for name in collected:
        nxt = kb.schedule.next_date(area, name, day + timedelta(days=1))
        if nxt.day is None:
            text += f"次の{name}の収集日は、この自動応答では分かりません。"
            continue
        text += f"次の{name}は、{say_date(nxt.day, today)}です。"
        latest = max(latest, nxt.day)
    return text + stale_note(kb, latest)
