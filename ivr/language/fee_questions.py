"""What a fee question is about: 大型ごみ's fee (booked, paid), or the ordinary garbage put out at the stations.

The classifier has one fee topic that most fee words point at, 大型ごみの料金 (a transfer: the bot does not know
it). Callers also ask whether the ordinary garbage costs anything — 「燃えるごみを出すのにお金はかかりますか」,
「フライパンを捨てるのに料金は」, 「燃えるごみの袋はいくらですか」 — and had been told 大型ごみ's fee is unknown and
put through to staff. What the city says about that is in its bag rules (Nara: no designated or paid bag).
"""

from __future__ import annotations

from collections.abc import Collection

from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import Action, Category
from ivr.language.entities import Entities

FEE_WORDS = ("料金", "いくら", "なんぼ", "値段", "お金", "費用", "円", "手数料", "有料", "無料")
# …less 円, which names things (百円ライター: its rule, not the bags) as often as it asks a price
STATION_FEE_WORDS = tuple(w for w in FEE_WORDS if w != "円")
BAG_TOPIC = "bag_rules"  # the knowledge base's answer on bags, and so on what putting out ordinary garbage costs
SELF_HAUL_TOPIC = "self_haul"  # waste carried in to the plant has its own fee
CARRIED_IN_WORDS = ("持ち込", "持込", "持って行", "持っていく", "持っていっ", "運ん", "運び", "工場")
BUSINESS_TOPIC = "business_waste"  # お店の燃えるごみは有料ですか: not household waste, not the stations
BUSINESS_WORDS = ("お店の", "店の", "店舗", "会社", "事業", "事務所", "民泊", "オフィス")


def station_fee_topic(kb: KnowledgeBase, intent: str, ents: Entities, text: str, booked: set[str]) -> str | None:
    """``fee_topic`` of the categories named (or the named item's), unless the topic guessed answers a fee
    itself (持ち込み, 事業系)."""
    if intent in _answers_a_fee(kb):
        return None
    named = [*ents.categories, *([kb.category_by_name[ents.item.category]] if ents.item else [])]
    return fee_topic(kb, named, text, booked)


def fee_topic(kb: KnowledgeBase, categories: list[Category], text: str, booked: Collection[str] = ()) -> str | None:
    """The topic for a fee asked of categories put out at the stations on their days: their bags, the
    self-haul when carried in (燃えるごみを持ち込むのにお金は: 100 kg free), business waste's when a shop's or an
    office's (お店の燃えるごみは有料). None when no fee is asked, or a category is not such (大型ごみ: booked)."""
    if BAG_TOPIC not in kb.topic_by_id or not any(w in text for w in STATION_FEE_WORDS):
        return None
    if not categories or not all(station_waste(c, booked) for c in categories):
        return None
    if any(w in text for w in BUSINESS_WORDS):
        return BUSINESS_TOPIC if BUSINESS_TOPIC in kb.topic_by_id else None
    carried = any(w in text for w in CARRIED_IN_WORDS) and SELF_HAUL_TOPIC in kb.topic_by_id
    return SELF_HAUL_TOPIC if carried else BAG_TOPIC


def _answers_a_fee(kb: KnowledgeBase) -> set[str]:
    return {t.id for t in kb.topics if t.action is Action.answer and any(w in t.answer for w in FEE_WORDS)}


def station_waste(category: Category, booked: Collection[str] = ()) -> bool:
    """Put out at the collection points on the area's days, in the resident's own bags."""
    return category.collected and category.scheduled and category.name not in booked
