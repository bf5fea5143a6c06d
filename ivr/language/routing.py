"""After the classifier: rules that use what the caller named to settle the topic.

A linear classifier trained on ~20 phrasings a topic cannot know that 植木鉢 alone is no truck
accident, that 「掃除機って何ごみ」 and the small-appliance FAQ get the same answer, or that a
date in the question means 「today's collection」. These rules use the entities and the FAQ's
own data (examples, titles, keywords), so another city's knowledge base gets them too.
"""

from __future__ import annotations

import re
from collections import Counter

from rapidfuzz import fuzz

from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import Action, Category, Handler, Item
from ivr.language.entities import BULK_WORDS, Entities, EntityExtractor
from ivr.language.fee_questions import BUSINESS_TOPIC, FEE_WORDS, station_fee_topic
from ivr.language.intents import IntentGuess
from ivr.language.keywords import keyword_heard
from ivr.language.normalize import normalize
from ivr.language.question_forms import (
    HOLIDAY_TOPIC,
    WHICH_CATEGORY_WORDS,
    asks_about_obon,
    asks_after_missing,
    asks_to_get_rid_of,
    missed_putting_out,
    thing_asked_of_a_category,
)
from ivr.language.readings import reading

ITEM_QUESTION = "item_category"
SCHEDULE_WORDS = ("いつ", "何曜", "なんよう", "曜日", "の日", "収集日", "回収日", "何日")  # a day is asked
# a day asked of a thing (缶とびんの日はいつ, ペットボトルは何曜日): its category's collection day;
# 「何の日に出す」「どのごみの日」 ask which category's day it goes out on, the item's answer
ITEM_DAY_WORDS = ("いつ", "何曜", "なんよう", "曜日", "収集日", "回収日")
ITEM_DAY_TOPICS = ("collection_day", "next_collection")  # answered for one category: the item's, if none named
# 「缶とびんの日」「ペットボトルの日を教えて」: a thing's day named as the whole request, no いつ; it had
# been the item's answer (缶は、再生資源です), no day
_ITS_DAY = re.compile(r"の日(?:は|って|を)?(?:教えて(?:ください|下さい|ほしい(?:んですけど)?)?"
                      r"|知りたい(?:んですけど)?)?(?:です|ですか|か)?[?？。]*$")
WHICH_DAY_WORDS = ("何の日", "なんの日", "どの日", "どのごみ", "いつの日")
# a day asked outright: with a category named beside a thing (自転車ですけど、燃えるごみの日はいつ), the
# category's day is the question; 収集日 / の日 alone do not ask (ペットボトルは資源ごみの日に出すの？)
DAY_QUESTION_WORDS = ("いつ", "何曜", "なんよう")
NEXT_WORDS = ("次", "つぎ", "継ぎ", "今度", "こんど", "一番近い", "直近")
# 来週 alone asks for the next one; 来週の火曜 names a day (a date), which today_collection answers
PERIOD_WORDS = ("今週", "来週", "今月", "来月")
CLIPPED_NEXT = ("ぎの", "んど")  # つぎの, こんど with their first mora lost to the VAD
OVERSIZE_TOPICS = {"oversize_fee", "oversize_booking", "oversize_limits"}
BOOKING_WORDS = ("申し込", "申込", "予約", "受付を", "受け付けて", "取りに", "回収に来", "回収をお願い", "収集をお願い",
                 "回収して欲し", "回収してほし", "引き取", "来て", "頼")
# a change is of a booking only when the booking is named, or a booked category's day (its only day is the booked one)
BOOKING_NOUNS = ("申し込", "申込", "予約", "受付", "収集日", "回収日", "収集の日", "回収の日")
BOOKING_CHANGE_WORDS = ("変更", "変え", "キャンセル", "取り消", "取消", "とりけし", "やめ", "ずら", "延期", "日にちを")
LIMIT_WORDS = ("量", "何個", "何点", "何袋", "大きさ", "サイズ", "どこまで")  # what counts as one, how many
OVERSIZE_WORDS = BOOKING_WORDS + FEE_WORDS + BULK_WORDS + LIMIT_WORDS + ("山",)
# 「粗大ごみを出したいんやけど」「大型ごみの出し方を教えて」: the booked category, no item, and the wish to
# put it out is its booking (the way 大型ごみ goes out); the classifier splits such words between the
# three 大型ごみ topics and the how-to topics (0.21–0.41 for the best), and the caller heard 「うまく聞き取れ
# ませんでした」. Not when its fee, what counts as one, its day or a thing's category is asked.
PUT_OUT_WORDS = ("出し方", "出したい", "出したら", "出せばいい", "出すには", "出すの", "どうやって出", "どう出",
                 "捨てたい", "捨て方", "処分したい", "処分の仕方", "ほかしたい", "ほかすには")
NOT_BOOKING_WORDS = FEE_WORDS + BULK_WORDS + DAY_QUESTION_WORDS + WHICH_CATEGORY_WORDS + LIMIT_WORDS + (
    "対象", "基準", "どんな", "長", "数", "制限", "決まり", "いくつ", "時間", "何時", "出せる", "出せま")
BOOKING_TOPIC = "oversize_booking"
RULE_CONFIDENCE = 0.8  # confidence of an intent set by one of the explicit cues below
ITEM_TOPIC_SHARE = 0.5  # a topic is "about items" when at least half its examples name one
CATEGORY_TOPIC_SHARE = 0.8  # a topic owns a category when this share of its example items are in it
MIN_HEAD = 3
# an item's note sentence scoring below this (rapidfuzz partial ratio) against the answer of the topic that
# speaks for its category says something that answer does not: 紙パック's 「内側が銀色のものは、燃やせるごみ」
# scores 32, カーテン's フック 33; 毛布's 「古布の回収業者を利用してください」 86, 新聞's ひもでしばって 71,
# the 家電リサイクル items' 「リサイクル料金がかかります」 50 (kaden_four's 「料金は、お店でご確認ください」 says it)
NOTE_SAID_RATIO = 45
SEASON_TOPICS = {"holiday_collection", "year_end_collection"}  # collection on holidays and at the year's end
# what asks about collection in that season (not about the item): 年末はいつまで収集？
SEASON_QUESTION_WORDS = SCHEDULE_WORDS + ("収集", "回収", "休み", "やって", "来る", "来ます", "持って行", "まで",
                                          "から")
DAY_TOPICS = {"collection_day", "next_collection", "today_collection", "holiday_collection", "year_end_collection"}
SLOT_TOPICS = {"today_collection", "collection_day", "next_collection", ITEM_QUESTION}
SELF_HAUL = "self_haul"  # a vehicle named as the means (車で運んで捨てたい) asks about bringing waste in
# the first kana after an item that ends its words (は, って, の …); anything else glues it to the next word
ITEM_PARTICLES = ("", "ハ", "ッ", "モ", "ノ", "ヲ", "ガ", "ワ", "ト", "ヤ", "デ", "ニ", "、", "。")
CLAIM_SHARE = 0.5  # a topic speaks for an uncollected category when half its examples name it (or its items)


def _glued_before_a_day(ents: Entities) -> bool:
    """「車毎日が市町の燃えるごみは何曜日」 (鶴舞東町, clean dev4): the item runs into other words, no
    particle after it, and a category with days is named: the day is asked of the category."""
    return ents.items[0].after[:1] not in ITEM_PARTICLES and any(c.scheduled for c in ents.categories)


def _slots_agree(intent: str, ents: Entities, has_date: bool) -> bool:
    if intent == "today_collection":
        return has_date and ents.item is None
    if intent in ("collection_day", "next_collection"):
        return bool(ents.area_town or ents.category) and ents.item is None
    if intent == ITEM_QUESTION:
        return ents.item is not None
    return False


def _head(name: str) -> str:
    """スマホのバッテリー → バッテリー: a topic about a kind of thing owns other things of that kind
    (電動工具のバッテリー). Heads shorter than MIN_HEAD (缶, 皿) name too many kinds to decide."""
    head = name.rsplit("の", 1)[-1]
    return head if len(head) >= MIN_HEAD and head != name else name


def _owns(heads: set[str], name: str, compounds: bool) -> bool:
    """Whether a topic about ``heads`` covers the item: its head is one of them, or, for a topic
    whose title names its items, a compound ends in one (オイルライター and 着火ライター are
    ライター: Japanese compounds are head-last). Items taken from examples are not precise
    enough for that: 割れたグラス makes blades_glass name グラス, but a ワイングラス is not broken."""
    return _head(name) in heads or (compounds and any(len(h) >= MIN_HEAD and name.endswith(h) for h in heads))


class IntentRouter:
    def __init__(self, kb: KnowledgeBase, entities: EntityExtractor) -> None:
        self.kb = kb
        self.entities = entities
        self.topic_items, exact_items = self._items_per_topic()
        self.titled = {t.id for t in kb.topics if t.handler is Handler.item_category and t.id in self.topic_items}
        self.topic_heads = {t: {_head(n) for n in names} for t, names in self.topic_items.items()}
        # an item named exactly is owned as a topic's examples name their items exactly: by those items'
        # heads and only in their categories. 車のバッテリー shares its head with スマホのバッテリー, not its
        # category, and had been told to use the lithium battery boxes; 下駄箱, heard loosely in 回収
        # ボックス, had been answered with where those boxes are, and 米袋, heard loosely in 「うめいのふくろ」
        # (透明の袋), made 「お米の袋は何ごみ」 the question of which bags to put garbage in. One heard
        # loosely is owned as the examples heard it.
        self.exact_heads = {t: self.topic_heads[t] if t in self.titled else {_head(n) for n in names}
                            for t, names in exact_items.items()}
        self.topic_categories = {t: {kb.item_by_name[n].category for n in names} for t, names in exact_items.items()}
        self.category_topic = self._topic_per_category()
        self.how_topics = {c.name: t.id for t in kb.topics for c in kb.categories  # 燃やせるごみの出し方
                           if t.handler is None and t.title.startswith(c.name) and "出し方" in t.title}
        self.keywords = {t.id: [(w, reading(w)) for w in t.keywords] for t in kb.topics if t.keywords}
        titles = [kb.topic_by_id[t].title for t in OVERSIZE_TOPICS if t in kb.topic_by_id]
        # the category booked and paid for item by item (大型ごみ): its topics' titles all name it
        self.booked_categories = {c.name for c in kb.categories if titles and all(c.name in t for t in titles)}
        # reports staff must act on (収集漏れ, 火事 …): a category or a date in them is context
        # (「今日のプラがまだ残ってる」), not a question about the calendar
        self.reports = {t.id for t in kb.topics if t.action in (Action.transfer, Action.ticket) and t.handler is None
                        and t.id not in DAY_TOPICS | OVERSIZE_TOPICS}
        self.category_claims = self._claims_per_category()

    def route(self, guess: IntentGuess, ents: Entities, normalised: str, has_date: bool) -> tuple[str, float]:
        """The classifier's guess, corrected by keywords, the named item and the slots present."""
        if HOLIDAY_TOPIC in self.kb.topic_by_id and asks_about_obon(normalised):
            return HOLIDAY_TOPIC, max(guess.confidence, RULE_CONFIDENCE)  # the holidays, not the tray
        kana = reading(normalised)
        intent, confidence = self._allowed(guess.intent, guess.confidence, guess.probabilities, normalised, kana)
        allowed = {t for t in self.topic_items if self._keywords_ok(t, normalised, kana)}
        if ents.item and any(w in normalised for w in WHICH_CATEGORY_WORDS):
            # 「アイスの棒 何ごみ 今日」: an item and 何ごみ ask what it is, whatever else was heard; a topic
            # owning the item answers only if it names the item's category (bag_rules owns レジ袋 as a bag to use)
            allowed = {t for t in allowed if t in self.titled or ents.item.category in self.kb.topic_by_id[t].answer}
            intent = intent if intent in allowed else ITEM_QUESTION
        disposal = ents.item is not None and asks_to_get_rid_of(normalised)
        can_dispose = disposal and intent in self.reports
        if disposal:  # 「冷蔵庫って捨てられますか」「カレンダーは何ごみ」 ask about the thing, which no
            # report's or request's examples own (不法投棄: 冷蔵庫; 冊子・カレンダーの依頼: カレンダー)
            allowed -= self.reports
            if can_dispose:
                intent = ITEM_QUESTION
        loose = bool(ents.items) and ents.items[0].how == "fuzzy"
        intent, confidence = self._route_item_question(intent, confidence, guess.probabilities, ents.item, allowed,
                                                       loose)
        if can_dispose:
            confidence = max(confidence, RULE_CONFIDENCE)
        if intent in SLOT_TOPICS and not _slots_agree(intent, ents, has_date):
            # 「あした なにごみ」 names a date, not an item: a close runner-up whose slot is there wins
            for alternative, _p in guess.alternatives:
                if _slots_agree(alternative, ents, has_date):
                    intent = alternative
                    break
        if ents.means and not ents.items and intent not in self.reports and SELF_HAUL in self.kb.topic_by_id:
            return SELF_HAUL, max(confidence, RULE_CONFIDENCE)  # 車で運んで捨てたい: no item, a self-haul
        if intent not in self.reports and (fee := station_fee_topic(self.kb, intent, ents, normalised,
                                                                       self.booked_categories)):
            return fee, max(confidence, RULE_CONFIDENCE)  # 燃えるごみを出すのにお金は: the bags, not 大型ごみ
        if self._puts_out_booked(intent, confidence, ents, normalised) or self._changes_a_booking(ents, normalised):
            return BOOKING_TOPIC, max(confidence, RULE_CONFIDENCE)  # 粗大ごみを出したい: book it; the desk changes it
        claimed = self._uncollected_claim(intent, ents, guess.probabilities)
        if claimed:  # お店のごみは何曜日: shop waste has no collection day, its own topic answers
            return claimed, max(confidence, RULE_CONFIDENCE)
        if (own := self._category_asked_of_itself(ents, normalised)) is not None:
            return own, max(confidence, RULE_CONFIDENCE)  # プラスチックは何ごみ: how it goes out, not a day
        ruled = self._schedule_or_oversize(intent, normalised, ents, has_date)
        if ruled != intent and (claimed := self._uncollected_claim(ruled, ents, guess.probabilities)):
            return claimed, max(confidence, RULE_CONFIDENCE)  # a day asked of 古紙 (こしはいつ回数): its topic
        if ruled != intent or _slots_agree(ruled, ents, has_date) or (
                ruled in ITEM_DAY_TOPICS and self.day_of_item(ents, normalised)):
            # an explicit cue (category + いつ; an item without fee words), or the very slot the
            # topic needs (a date for 「明日何ごみ」; a thing whose day is asked), is strong evidence
            intent, confidence = ruled, max(confidence, RULE_CONFIDENCE)
        return intent, confidence

    def _items_per_topic(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """For topics about kinds of items (乾電池, 家電4品目 …): the items their examples name, and
        those they name exactly."""
        out: dict[str, set[str]] = {}
        exact: dict[str, set[str]] = {}
        for topic in self.kb.topics:
            named = [self.entities.find_item(normalize(e)) for e in topic.examples]
            if sum(bool(n) for n in named) >= ITEM_TOPIC_SHARE * len(named):
                out[topic.id] = {n[0].key for n in named if n}
                exact[topic.id] = {n[0].key for n in named if n and n[0].how != "fuzzy"}
                if topic.handler is Handler.item_category:
                    # answered by the item handler anyway: it keeps only the items its title names
                    # (小型家電 itself, not every appliance its examples happen to mention)
                    out[topic.id] = {m.key for part in re.split(r"[・、]", topic.title)
                                     for m in self.entities.find_item(part)[:1]}
        return out, exact

    def _keywords_ok(self, topic: str, text: str, kana: str) -> bool:
        words = self.keywords.get(topic)
        return not words or any(keyword_heard(w, r, text, kana) for w, r in words)

    def _allowed(
        self, intent: str, confidence: float, probs: dict[str, float], text: str, kana: str
    ) -> tuple[str, float]:
        """Skip topics whose keywords (faq.yaml) are all absent; take the best one allowed."""
        for topic, p in sorted(probs.items(), key=lambda kv: -kv[1]):
            if self._keywords_ok(topic, text, kana):
                return (topic, p) if topic != intent else (intent, confidence)
        return intent, confidence

    def _schedule_or_oversize(self, intent: str, text: str, ents: Entities, has_date: bool) -> str:
        """Cues the classifier misses: a category or an area + 「いつ」 asks for a day (「次の」: the next one);
        a category + a date asks about that date; an item named without fee or booking words
        asks what it is, not what 大型ごみ costs."""
        if missed_putting_out(text) and not ents.item and intent not in self.reports | DAY_TOPICS:
            return "next_collection"  # 「ごみ出すの忘れたんやけど」: the next one (as examples they drew in others)
        nxt = any(w in text for w in NEXT_WORDS) or text.startswith(CLIPPED_NEXT) or asks_after_missing(text) or (
            not has_date and any(w in text for w in PERIOD_WORDS))
        if intent == "collection_day" and nxt or intent == "today_collection" and asks_after_missing(text):
            return "next_collection"  # 「今日出し忘れたんやけど次いつ」: after the day named, not what it collects
        if intent == "next_collection" and not nxt:
            # 「燃えないごみっていつ？」 asks for the weekdays; 「来週の火曜って燃えないごみ来る？」 about that day
            return "today_collection" if has_date else "collection_day"
        if intent == ITEM_QUESTION and self.day_of_item(ents, text) is not None:
            return "next_collection" if nxt else "today_collection" if has_date else "collection_day"
        category_only = ents.category is not None and not ents.item
        category_day = (ents.category is not None and any(w in text for w in DAY_QUESTION_WORDS)
                        and not any(w in text for w in WHICH_DAY_WORDS + WHICH_CATEGORY_WORDS))
        if intent not in DAY_TOPICS and intent not in self.reports and intent not in self.keywords:
            if category_only and has_date and not any(w in text for w in BOOKING_WORDS):
                return "today_collection"  # 「明日、大型ごみの申し込み」 books; 「明日プラは？」 asks the day
            # a category, or where the caller lives, with a day asked: the collection calendar
            # (an area with a date alone may be a booking: 「青山で明日、大型ごみを」)
            if (category_only or category_day or ents.area_town) and any(w in text for w in SCHEDULE_WORDS) \
                    and intent != "week_counting":
                return "next_collection" if nxt else "today_collection" if has_date else "collection_day"
        if ents.item and ents.items[0].how != "fuzzy" and intent in SEASON_TOPICS \
                and not any(w in text for w in SEASON_QUESTION_WORDS):
            return ITEM_QUESTION  # 「正月終わって門松ほかしたい」: the season is context, the item is the question
        if ents.item and intent in OVERSIZE_TOPICS and not any(w in text for w in OVERSIZE_WORDS):
            return ITEM_QUESTION
        if ents.item and ents.item.category in self.booked_categories and intent == ITEM_QUESTION:
            if any(w in text for w in BOOKING_WORDS):  # 「食器棚の回収をお願いしたい」 books it
                return "oversize_booking"
            if any(w in text for w in FEE_WORDS):  # 「ベッド出すのになんぼ」 asks its fee
                return "oversize_fee"
        return intent

    def _category_asked_of_itself(self, ents: Entities, text: str) -> str | None:
        """「プラスチックは何ごみですか」: the category's own word is the thing asked about, and the topic on
        how that category goes out answers (the classifier leant to its days, and the town was asked)."""
        thing = thing_asked_of_a_category(text)
        if ents.category is None or ents.items or not thing or not any(w in text for w in WHICH_CATEGORY_WORDS):
            return None
        return self.how_topics.get(ents.category.name) if self.entities.find_category(thing) is ents.category else None

    def _puts_out_booked(self, intent: str, confidence: float, ents: Entities, text: str) -> bool:
        """The caller wants to put out the booked category (``PUT_OUT_WORDS``), naming no item; a
        report (大型ごみを出したのに来ない) or a topic the classifier is sure of keeps its own answer."""
        return (BOOKING_TOPIC in self.kb.topic_by_id and ents.category is not None and not ents.items
                and ents.category.name in self.booked_categories and intent not in self.reports
                and (intent in OVERSIZE_TOPICS or confidence < RULE_CONFIDENCE)
                and any(w in text for w in PUT_OUT_WORDS) and not any(w in text for w in NOT_BOOKING_WORDS))

    def _changes_a_booking(self, ents: Entities, text: str) -> bool:
        """「大型ごみの申し込みの日を変更したい」「粗大ごみの予約をキャンセルしたい」: the desk that books
        changes it (it had been told that 大型ごみ has no area day). Routed, not a topic of its own: a
        new topic took a share of every turn's confidence and pushed a borderline read-back below 0.30."""
        booked = any(c.name in self.booked_categories for c in ents.categories) or (
            ents.item is not None and ents.item.category in self.booked_categories)
        return booked and BOOKING_TOPIC in self.kb.topic_by_id and any(w in text for w in BOOKING_CHANGE_WORDS) \
            and any(w in text for w in BOOKING_NOUNS)

    def day_of_item(self, ents: Entities, text: str) -> Category | None:
        """「缶とびんの日はいつですか」: a day asked of a thing, no category named: the thing's
        category, whose collection day is the answer (the item's own answer names no day).
        Only a category with days per area; 乾電池 (booked) keeps its item answer."""
        item = ents.item
        if item is None or ents.category is not None or ents.items[0].how == "fuzzy":
            return None
        asked = any(w in text for w in ITEM_DAY_WORDS) or _ITS_DAY.search(text) is not None
        if not asked or any(w in text for w in WHICH_DAY_WORDS + WHICH_CATEGORY_WORDS):
            return None
        category = self.kb.category_by_name[item.category]
        return category if category.collected and category.scheduled else None

    def _topic_owns(self, topic: str, item: Item, loose: bool) -> bool:
        if loose:
            return _owns(self.topic_heads[topic], item.name, topic in self.titled)
        return (_owns(self.exact_heads[topic], item.name, topic in self.titled)
                and item.category in self.topic_categories[topic])

    def _note_adds_to(self, item: Item, topic_id: str) -> bool:
        """The item's own note says what the topic speaking for its category does not: 「牛乳パックは何
        ごみ」 had been told only that 新聞、雑誌、段ボール、古い布 go to the 集団資源回収, never to rinse
        the carton nor that a silver-lined one is 燃やせるごみ; the item's answer says both."""
        answer = self.kb.topic_by_id[topic_id].answer
        sentences = [s for s in re.split(r"(?<=。)", item.note) if s.strip()]
        return any(fuzz.partial_ratio(s, answer) < NOTE_SAID_RATIO for s in sentences)

    def _topic_per_category(self) -> dict[str, str]:
        """A category the city does not collect, whose items one FAQ topic is all about
        (集団資源回収 → paper_clothes): that topic says what to do instead.

        Only when exactly one topic claims the category: 有害ごみ has both 乾電池 and 蛍光灯.
        """
        claims: dict[str, list[str]] = {}
        for topic_id, names in self.topic_items.items():
            topic = self.kb.topic_by_id[topic_id]
            if topic.handler is not None or not names:
                continue
            cats = Counter(self.kb.item_by_name[n].category for n in names)
            cat, count = cats.most_common(1)[0]
            if count >= CATEGORY_TOPIC_SHARE * len(names) and not self.kb.category_by_name[cat].collected:
                claims.setdefault(cat, []).append(topic_id)
        return {cat: topics[0] for cat, topics in claims.items() if len(topics) == 1}

    def _claims_per_category(self) -> dict[str, list[str]]:
        """An uncollected category (事業系ごみ) → the topics without a handler that speak for it: at
        least CLAIM_SHARE of their examples name it, as a category word or by one of its items."""
        claims: dict[str, list[str]] = {}
        for topic in self.kb.topics:
            if topic.handler is not None or topic.id in self.reports or not topic.examples:
                continue
            counts: Counter[str] = Counter()
            for example in topic.examples:
                ents = self.entities.extract(normalize(example, dialect=False))
                named = {c.name for c in ents.categories} | ({ents.item.category} if ents.item else set())
                counts.update(named)
            for cat, n in sorted(counts.items()):
                category = self.kb.category_by_name.get(cat)
                if category is not None and not category.collected and n >= CLAIM_SHARE * len(topic.examples):
                    claims.setdefault(cat, []).append(topic.id)
        return claims

    def _uncollected_claim(self, intent: str, ents: Entities, probs: dict[str, float]) -> str | None:
        """A category the city does not collect, named in a question the calendar or the item
        dictionary would answer (何曜日, 燃えるごみの日に出せる?): the topic that speaks for it;
        an item of such a category asked with a day: the item's own answer."""
        # パソコンのマウス asks about the mouse, not the パソコン category; 会社で出たパソコン is a business's waste
        claims = self.category_claims
        for category in sorted(ents.categories, key=lambda c: BUSINESS_TOPIC not in claims.get(c.name, [])):
            topics = claims.get(category.name, [])
            business = BUSINESS_TOPIC in topics and intent not in self.reports
            if ents.item is not None and ents.item.category != category.name and not business:
                continue
            if intent in topics:  # already there: no calendar rule may take it away
                return intent
            if topics and (business or intent in DAY_TOPICS | {ITEM_QUESTION} or intent in self.topic_items):
                return max(topics, key=lambda t: probs.get(t, 0.0))
        item = ents.item
        if item is not None and ents.items[0].how != "fuzzy" and intent in DAY_TOPICS \
                and not self.kb.category_by_name[item.category].collected and not _glued_before_a_day(ents):
            return ITEM_QUESTION  # 店の段ボールは何曜日: no day; the item's own answer says where it goes
        return None

    def _route_item_question(self, intent: str, confidence: float, probs: dict[str, float],
                             item: Item | None, allowed: set[str], loose: bool) -> tuple[str, float]:
        """「Xは何ごみ？」 and the FAQ about X's kind are one family: the item decides which.

        A topic keeps the question only when its own examples name this item (乾電池 → dry_cells);
        any other named item goes to the general item question, answered from the dictionary.
        """
        family = (set(self.topic_items) & allowed) | {ITEM_QUESTION}
        if item is None or intent not in family:
            return intent, confidence
        share = sum(probs.get(t, 0.0) for t in family)
        owners = [t for t in sorted(family)  # sorted: a set's order changes from one process to the next
                  if t != ITEM_QUESTION and self._topic_owns(t, item, loose)]
        by_category = self.category_topic.get(item.category)
        if not owners and by_category in family and not self._note_adds_to(item, by_category):
            owners = [by_category]
        if intent in owners:
            return intent, share
        if owners:
            return max(owners, key=lambda t: probs.get(t, 0.0)), share
        return ITEM_QUESTION, share
