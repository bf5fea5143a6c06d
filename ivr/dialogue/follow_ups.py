"""Questions that lean on the answer just given: 「プラは？」 after a collection day, 「それはいつ出せますか」
or 「いくらかかりますか」 after an item's rule.

Callers ask like this all the time once the bot has answered: the town and the kind of question are
already said, only the category (or nothing at all: それ) is new. Heard alone, 「プラは？」 is the
question of how to put out plastics, 「ほな燃えないごみは」 was read back as that, and 「それはいつ出せ
ますか」 was not understood; after 「青山の燃やせるごみの収集日は…」 or 「ソファは、大型ごみです」 each
asks the same thing again of what it names, or the day of the thing just answered.
"""

from __future__ import annotations

import dataclasses
import re

from ivr.dialogue.state import CallState
from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import Category
from ivr.language.fee_questions import FEE_WORDS, fee_topic
from ivr.language.question_forms import goes_out_as_a_category, names_a_part
from ivr.language.routing import BOOKING_TOPIC, ITEM_QUESTION
from ivr.language.understand import Parse

SAME_DAY_TOPICS = ("collection_day", "next_collection", "today_collection")  # asked again of another category
ITEM_DAY_TOPIC = "collection_day"  # the day of the thing just answered
FEE_WORD = "料金"  # an answer or a note that says what the thing costs, or where to ask

# ほな / じゃあ / あと …: "then, what about"; opening a follow-up, never a question of their own
_OPENERS = re.compile(r"^(?:ほな|ほんなら|そしたら|それなら|じゃあ|じゃ|では|それでは|で|あと|それと|ちなみに)[、,\s]*")
# what may follow the category in a bare follow-up: は？, も？, の方は, はどうですか, は何曜日 …
_SAME_QUESTION = re.compile(
    r"^(?:は|も|の方は|のほうは|って)?(?:どう(?:ですか|なん|なの|や)?|いつ(?:ですか)?|何曜日?(?:ですか)?|"
    r"どない(?:ですか|なん)?)?(?:[？?。、!！]*)$"
)
# 「どこに持って行けばいいですか」「どこで引き取ってもらえるの」 after a thing the city does not collect:
# where it goes is what its answer says (the shop, the maker), so that answer is given again
# …and 「取りに来てもらえますか」「市で回収してもらえる？」 after it: who takes it is in that answer too (after a
# booked thing, ソファ, that is its booking)
_WHERE = re.compile(r"どこ(?:に|へ|で|か)|どちらに|どっちに")
_PICK_UP = re.compile(r"取りに(?:来|き)|引き?取って|回収(?:に来|しに|して|してもら)|持って(?:行|い)って(?:もら|くれ)")
# 「申し込みはどうしたらいいですか」 after ソファ's answer (「大型ごみです。事前の申し込みが必要です」): its booking;
# heard alone it was not understood (0.24)
BOOKED_WORD = "申し込"  # a category whose how-to says this is booked
_BOOKING = re.compile(r"申し込|申込|予約|受付|受け付け")
# 「何枚まで出せますか」 after 布団's answer (大型ごみ): how many go out at once, not understood alone (0.18)
LIMITS_TOPIC = "oversize_limits"
_HOW_MANY = re.compile(r"何(?:枚|個|点|本|台|袋|つ)|いくつ|なんぼまで|どれくらい|どのくらい")
# それはいつ出せますか, これって何曜日, or with nothing named at all (自転車, then 「何曜日に出せばいいですか」: it had
# asked the thing's name again): the day of the thing just answered
_ITS_DAY = re.compile(r"^(?:(?:それ|これ|そいつ|そっち)(?:は|って|も)?[、\s]*)?(?:いつ|何曜|なんよう|何日)")


def follow_up(kb: KnowledgeBase, state: CallState, answered: str, parse: Parse) -> tuple[str, Parse] | None:
    """The topic to run for ``parse`` as a follow-up to the answer of topic ``answered``, and the parse
    to run it with (the thing it is about named), setting the category it asks about; None when it
    is a question of its own."""
    said = _OPENERS.sub("", parse.normalized)
    if answered in SAME_DAY_TOPICS and parse.category is not None and parse.item is None \
            and _only_category(kb, said, parse.category.name):
        if answered == "today_collection":
            state.day_category = parse.category  # the day asked before, this category
        return answered, parse
    rows, named = state.area_rows, parse.item or parse.category or parse.area_town
    if answered in SAME_DAY_TOPICS and parse.chome is not None and not named and len(rows) == 1 \
            and parse.chome in rows[0].chome_numbers():
        return answered, parse  # 「一丁目です」 after 青山１〜９丁目's days: the same days, said again for it
    item = state.item
    if item is not None and answered in kb.topic_by_id and names_a_part(said):  # 骨が金属: the thing's answer again
        return answered, dataclasses.replace(parse, item=item, intent=answered, confidence=1.0)
    if item is not None and parse.item is None and parse.category is not None and goes_out_as_a_category(said) \
            and ITEM_QUESTION in kb.topic_by_id:  # チラシ, then 「燃えるごみとして出せますか」: its category again
        return ITEM_QUESTION, dataclasses.replace(parse, item=item, intent=ITEM_QUESTION, confidence=1.0)
    if parse.item is not None or parse.category is not None:
        return None
    booked = kb.category_by_name[item.category] if item is not None else state.category
    if booked is not None and BOOKED_WORD in booked.how and (_BOOKING.search(said) or _PICK_UP.search(said)) \
            and BOOKING_TOPIC in kb.topic_by_id:
        return BOOKING_TOPIC, dataclasses.replace(parse, item=item, intent=BOOKING_TOPIC, confidence=1.0)
    if booked is not None and BOOKED_WORD in booked.how and _HOW_MANY.search(said) and LIMITS_TOPIC in kb.topic_by_id:
        return LIMITS_TOPIC, dataclasses.replace(parse, item=item, intent=LIMITS_TOPIC, confidence=1.0)
    if item is None:  # a category with no item: パソコン, where it goes is its answer, said again; 燃えるごみ's fee
        category = state.category
        if category is not None and not category.collected and answered in kb.topic_by_id and _asks_who_takes(said):
            return answered, dataclasses.replace(parse, intent=answered, confidence=1.0)
        return _station_fee(kb, category, said, parse)
    if _ITS_DAY.match(said):
        state.category = kb.category_by_name[item.category]
        return ITEM_DAY_TOPIC, parse
    topic = kb.topic_by_id.get(answered)
    uncollected = not kb.category_by_name[item.category].collected
    if topic is not None and uncollected and _asks_who_takes(said):
        return answered, dataclasses.replace(parse, item=item, intent=answered, confidence=1.0)
    if topic is not None and any(w in said for w in FEE_WORDS) and FEE_WORD in item.note + topic.answer:
        # 「冷蔵庫を捨てたい」 then 「いくらかかりますか」: the 大型ごみ fee (and a transfer for it) had come,
        # for a thing whose answer says where its recycling fee is asked (お店でご確認ください)
        return answered, dataclasses.replace(parse, item=item, intent=answered, confidence=1.0)
    return _station_fee(kb, kb.category_by_name[item.category], said, parse)


def _station_fee(kb: KnowledgeBase, category: Category | None, said: str, parse: Parse) -> tuple[str, Parse] | None:
    """フライパン (燃やせないごみ) or 燃えるごみ's day answered, then 「料金はかかりますか」: the bag rules (Nara: no
    paid bag), not 大型ごみ's unknown fee and a transfer (or the self-haul, business waste: ``fee_topic``)."""
    topic = fee_topic(kb, [category] if category is not None else [], said)
    return (topic, dataclasses.replace(parse, intent=topic, confidence=1.0)) if topic else None


def _asks_who_takes(said: str) -> bool:
    return bool(_WHERE.search(said) or _PICK_UP.search(said))


def _only_category(kb: KnowledgeBase, said: str, category: str) -> bool:
    """「プラは？」「燃えないごみの方は」: the category and nothing that asks another thing of it (出し方)."""
    cat = kb.category_by_name[category]
    forms = sorted([cat.name, *cat.aliases], key=len, reverse=True)
    opening = next((f for f in forms if said.startswith(f)), None)
    return opening is not None and _SAME_QUESTION.match(said[len(opening):]) is not None
