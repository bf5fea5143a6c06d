"""The routing policy: reason and urgency of a hand-off, its target, and transfer vs ticket."""

import asyncio
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from escalation.policy import (
    URGENCY_BY_REASON,
    RoutingPolicy,
    StaffDefaults,
    TakeTicket,
    Target,
    Transfer,
)
from escalation.staff import OfficeHoursStaffLine
from escalation.tickets import REASONS
from ivr.config import Settings
from ivr.knowledge.base import load_knowledge
from ivr.knowledge.loader import KnowledgeError, load_routing, read_folder
from ivr.knowledge.models import BusinessHours, MonthDayRange, Routing

JST = ZoneInfo("Asia/Tokyo")
NARA = Path(__file__).resolve().parent.parent / "faq_data" / "nara"
HOURS = BusinessHours(weekdays=list("月火水木金"), open="08:30", close="17:15", closed_on_public_holidays=True,
                      year_end_closure=MonthDayRange(start="12-29", end="01-03"), basis="inferred")
FRIDAY_10 = datetime(2026, 11, 27, 10, 0, tzinfo=JST)
FRIDAY_20 = datetime(2026, 11, 27, 20, 0, tzinfo=JST)
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=JST)
LABOUR_THANKSGIVING = datetime(2026, 11, 23, 10, 0, tzinfo=JST)  # 勤労感謝の日, a Monday
YEAR_END = datetime(2026, 12, 29, 10, 0, tzinfo=JST)  # a Tuesday inside the closure
NEW_YEAR_WORKDAY = datetime(2027, 1, 4, 10, 0, tzinfo=JST)  # Monday after the closure
SPLIT = Routing.model_validate({"targets": {
    "oogata": {"label": "大型ごみ受付", "topics": ["oversize_booking"], "twilio_number": "+815012345678",
               "asterisk_context": "gomi-desks", "asterisk_exten": "oogata", "basis": "inferred"},
    "animal": {"label": "動物の死がい担当", "topics": ["dead_animal"], "twilio_queue": "gomi-animal",
               "basis": "inferred"},
    "general": {"label": "ごみ案内の職員", "basis": "inferred"},
}})
DEFAULTS = StaffDefaults(number="", queue="gomi-staff", context="gomi-staff")


def policy(routing=SPLIT, mode="hours", staff=None) -> RoutingPolicy:
    return RoutingPolicy(staff or OfficeHoursStaffLine(HOURS), routing, DEFAULTS, mode)


def decide(p: RoutingPolicy, reason: str, now: datetime, topic: str = ""):
    return asyncio.run(p.decide(reason, now, topic))


@pytest.mark.parametrize(("now", "open_"), [
    (FRIDAY_10, True), (FRIDAY_20, False), (SATURDAY_10, False), (LABOUR_THANKSGIVING, False),
    (YEAR_END, False), (NEW_YEAR_WORKDAY, True), (datetime(2026, 11, 27, 8, 29, tzinfo=JST), False),
    (datetime(2026, 11, 27, 17, 15, tzinfo=JST), False),  # close is exclusive: 17:15 is after hours
])
def test_office_hours_holidays_and_year_end_decide_transfer_or_ticket(now, open_):
    decision = decide(policy(), "collection", now)
    assert isinstance(decision, Transfer if open_ else TakeTicket), (now, decision)


def test_staff_available_setting_overrides_the_hours():
    assert isinstance(decide(policy(mode="never"), "oogata", FRIDAY_10), TakeTicket)
    assert isinstance(decide(policy(mode="always"), "oogata", YEAR_END), Transfer)


def test_a_broken_staff_line_means_a_ticket():
    class Broken:
        async def available(self, now):
            raise OSError("AMI down hard")

    assert decide(policy(staff=Broken()), "animal", FRIDAY_10) == TakeTicket("animal", "urgent")


def test_settings_build_the_policy(brain):
    settings = Settings(staff_available="never", staff_number="+815000000000", ami_staff_context="ctx")
    p = RoutingPolicy.from_kb(brain.kb, OfficeHoursStaffLine(HOURS), settings)
    assert p.staff_available == "never" and p.target_for("general").twilio_number == "+815000000000"
    assert p.target_for("general").asterisk_context == "ctx"


@pytest.mark.parametrize(("topic", "reason"), [
    ("oversize_booking", "oogata"), ("oversize_fee", "oogata"),
    ("missed_collection", "collection"), ("warning_sticker", "collection"), ("complaint_staff", "collection"),
    ("illegal_dumping", "illegal_dumping"), ("dead_animal", "animal"),
    ("operator", "general"), ("callback", "general"), ("wasps", "general"), ("system_error", "general"),
    ("silence", "general"), ("no_such_topic", "general"),
])
def test_reason_of_each_topic_from_the_nara_routing(brain, topic, reason):
    p = RoutingPolicy.from_kb(brain.kb, OfficeHoursStaffLine(HOURS), Settings())
    assert p.reason_for(topic) == reason


def test_every_transfer_topic_of_nara_has_a_desk_and_every_reason_an_urgency(brain):
    p = RoutingPolicy.from_kb(brain.kb, OfficeHoursStaffLine(HOURS), Settings())
    routed = {t for target in p.routing.targets.values() for t in target.topics}
    staff_topics = {t.id for t in brain.kb.topics if t.action.value in ("transfer", "ticket")}
    assert staff_topics <= routed, staff_topics - routed
    assert set(URGENCY_BY_REASON) == set(REASONS) and set(p.routing.targets) == set(REASONS)


def test_urgency_table():
    p = policy()
    assert p.urgency_for("animal") == "urgent" and p.urgency_for("illegal_dumping") == "urgent"
    assert p.urgency_for("collection") == "normal" and p.urgency_for("oogata") == "normal"
    assert p.urgency_for("general", "emergency_fire") == "urgent"  # danger, whatever the desk
    assert decide(p, "illegal_dumping", FRIDAY_20) == TakeTicket("illegal_dumping", "urgent")


def test_targets_from_routing_with_fallbacks_to_the_settings():
    p = policy()
    assert p.target_for("oogata") == Target("oogata", "大型ごみ受付", "+815012345678", "", "gomi-desks", "oogata")
    animal = p.target_for("animal")  # a queue of its own, Asterisk from the settings
    assert (animal.twilio_number, animal.twilio_queue, animal.asterisk_context, animal.asterisk_exten) == (
        "", "gomi-animal", "gomi-staff", "s")
    collection = p.target_for("collection")  # not in the table: the general desk's label, the settings' line
    assert collection.label == "ごみ案内の職員" and collection.twilio_queue == "gomi-staff"
    assert collection.reason == "collection"
    with_number = RoutingPolicy(OfficeHoursStaffLine(HOURS), None, StaffDefaults("+815099999999", "q", "c"))
    assert with_number.target_for("oogata") == Target("oogata", "", "+815099999999", "q", "c", "s")
    assert decide(policy(), "oogata", FRIDAY_10) == Transfer(p.target_for("oogata"))
    carrier_fills = RoutingPolicy(OfficeHoursStaffLine(HOURS), SPLIT)  # no defaults: the carrier's settings fill
    assert carrier_fills.target_for("collection") == Target("collection", "ごみ案内の職員", "", "", "", "")
    assert carrier_fills.target_for("animal").asterisk_exten == ""


def test_target_round_trips_through_event_data():
    target = policy().target_for("oogata")
    assert Target.from_data({"reason": "oogata", "target": target.to_data()}) == target
    assert Target.from_data({"reason": "stream_error"}) is None and Target.from_data(None) is None


def test_routing_yaml_is_validated_with_the_knowledge_base(tmp_path):
    kb_dir = tmp_path / "nara"
    shutil.copytree(NARA, kb_dir)
    assert load_routing(kb_dir, set(load_knowledge(kb_dir).topic_by_id)).targets["oogata"].label == "大型ごみ受付"
    (kb_dir / "routing.yaml").write_text(
        "targets:\n"
        "  oogata: {label: 大型, topics: [oversize_booking, no_such_topic], twilio_number: '0742-34-1111',"
        " basis: nara-4524}\n"
        "  collection: {label: 収集, topics: [oversize_booking], basis: not-a-source}\n"
        "  sewage: {label: 下水, basis: inferred}\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(kb_dir)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "routing.yaml:2: targets.oogata.twilio_number" in text and "E.164" in text
    raw = read_folder(kb_dir)
    assert raw.routing is None  # the model failed: the cross-checks below need a valid table
    (kb_dir / "routing.yaml").write_text(
        "targets:\n"
        "  oogata: {label: 大型, topics: [oversize_booking, no_such_topic], basis: nara-4524}\n"
        "  collection: {label: 収集, topics: [oversize_booking], basis: not-a-source}\n"
        "  sewage: {label: 下水, basis: inferred}\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(kb_dir)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "'no_such_topic' is not a topic id in faq.yaml" in text
    assert "'oversize_booking' is already routed to oogata" in text
    assert "routing.yaml:3: basis: 'not-a-source' is not a source id" in text
    assert "targets.sewage: must be one of oogata, collection" in text


def test_a_city_without_routing_yaml_sends_everything_to_the_settings_line(tmp_path):
    kb_dir = tmp_path / "nara"
    shutil.copytree(NARA, kb_dir)
    (kb_dir / "routing.yaml").unlink()
    kb = load_knowledge(kb_dir)
    p = RoutingPolicy.from_kb(kb, OfficeHoursStaffLine(HOURS), Settings(staff_number="+815011112222"))
    assert p.routing is None and p.reason_for("oversize_booking") == "oogata"  # the built-in mapping
    assert p.target_for("oogata").twilio_number == "+815011112222"
