"""The routing policy: which desk a hand-off is for, how urgent it is, and transfer or ticket now.

It knows nothing of carriers. The session asks one question — ``decide(reason, now)`` — and gets
either a ``Transfer`` (to a ``Target`` that names a Twilio number/queue and an Asterisk
context/extension) or a ``TakeTicket`` (reason and urgency for the callback ticket). The carriers
carry the target out. Fields routing.yaml leaves empty are filled from ``StaffDefaults`` (the
settings' one staff line) when the policy is given them; otherwise they stay empty and each carrier
fills them from the settings it runs with — the same fallback, decided where the settings live.

Availability is the deployment's ``IVR_STAFF_AVAILABLE`` first ('never': a site that only takes
tickets, 'always': a 24 h desk), then the staff line the server built (office hours with public
holidays and the year-end closure; on Asterisk also whether anyone is logged into the queue).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from escalation.staff import StaffLine
from escalation.tickets import REASONS

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.knowledge.base import KnowledgeBase
    from ivr.knowledge.models import Routing

log = logging.getLogger(__name__)

GENERAL = "general"
DEFAULT_EXTEN = "s"  # the dialplan's entry extension: [gomi-staff] only has s (docker/asterisk/extensions.conf)
STAFF_AVAILABLE_MODES = ("hours", "never", "always")

# Where a topic goes when the city has no routing.yaml (or leaves a topic out of it): Nara's topic
# ids, which the generic FAQ shares. A city's routing.yaml overrides this per topic.
DEFAULT_TOPIC_REASONS: dict[str, str] = {
    "oversize_booking": "oogata", "oversize_fee": "oogata",
    "missed_collection": "collection", "warning_sticker": "collection", "complaint_staff": "collection",
    "truck_damage": "collection", "new_station": "collection", "doorstep_collection": "collection",
    "holiday_collection": "collection", "year_end_collection": "collection",
    "illegal_dumping": "illegal_dumping",
    "dead_animal": "animal",
}

# Urgency per reason, each with why: urgent tickets are pushed to staff (escalation/notify.py)
# instead of waiting for the morning's queue.
URGENCY_BY_REASON: dict[str, tuple[str, str]] = {
    "animal": ("urgent", "a carcass on a road is a traffic hazard and decays within hours"),
    "illegal_dumping": ("urgent", "dumping reported as it happens can still be stopped or traced"),
    "collection": ("normal", "a missed bag waits safely until the next working day"),
    "oogata": ("normal", "a booking is made days ahead anyway"),
    "general": ("normal", "a callback request; nothing is known to be at risk"),
}
# Topics urgent whatever their desk: danger to people or property.
URGENT_TOPICS: dict[str, str] = {
    "emergency_fire": "fire or smoke at a collection point (119 was advised; staff must still check the site)",
    "truck_damage": "a collection truck hit a person or property",
}


@dataclass(frozen=True)
class Target:
    """Where a transfer goes, in every carrier's terms."""

    reason: str
    label: str
    twilio_number: str = ""  # <Dial> this when set …
    twilio_queue: str = ""  # … else <Enqueue> into this; both empty: the carrier's own staff line
    asterisk_context: str = ""  # '' → the carrier's IVR_AMI_STAFF_CONTEXT
    asterisk_exten: str = ""  # '' → s

    def to_data(self) -> dict[str, str]:
        """For the transfer event (``Event.data['target']``): plain JSON."""
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> Target | None:
        """The target a transfer event carries; None when it carries none (errors, shutdown)."""
        raw = (data or {}).get("target")
        if not isinstance(raw, dict):
            return None
        known = {k: str(v) for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**{"reason": GENERAL, "label": "", **known})


@dataclass(frozen=True)
class Transfer:
    target: Target


@dataclass(frozen=True)
class TakeTicket:
    reason: str
    urgency: str


Decision = Transfer | TakeTicket


@dataclass(frozen=True)
class StaffDefaults:
    """The deployment's one staff line (settings): used where routing.yaml leaves a field empty."""

    number: str = ""
    queue: str = "gomi-staff"
    context: str = "gomi-staff"

    @classmethod
    def from_settings(cls, settings: Settings) -> StaffDefaults:
        return cls(settings.staff_number, settings.staff_queue, settings.ami_staff_context)


class RoutingPolicy:
    """Reason, urgency and target of a hand-off, and whether staff can take it now."""

    def __init__(self, staff: StaffLine, routing: Routing | None = None, defaults: StaffDefaults | None = None,
                 staff_available: str = "hours") -> None:
        if staff_available not in STAFF_AVAILABLE_MODES:
            log.error("unknown IVR_STAFF_AVAILABLE %r; using office hours", staff_available)
            staff_available = "hours"
        self.staff = staff
        self.routing = routing
        self.defaults = defaults
        self.staff_available = staff_available
        self._topic_reason = dict(DEFAULT_TOPIC_REASONS)
        for reason, target in (routing.targets.items() if routing else ()):
            self._topic_reason.update({topic: reason for topic in target.topics})

    @classmethod
    def from_kb(cls, kb: KnowledgeBase, staff: StaffLine, settings: Settings, defaults: bool = True) -> RoutingPolicy:
        """``defaults=False``: leave empty target fields to the carrier (see the module docstring)."""
        routing = _cached_routing(str(kb.root), frozenset(kb.topic_by_id))
        staff_line = StaffDefaults.from_settings(settings) if defaults else None
        return cls(staff, routing, staff_line, settings.staff_available)

    @classmethod
    def for_call(cls, kb: KnowledgeBase, staff: StaffLine) -> RoutingPolicy:
        """routing.yaml and IVR_STAFF_AVAILABLE; empty target fields are left to the carrier, which
        fills them from the settings it was started with (they may differ from this process's env)."""
        from ivr.config import get_settings

        return cls.from_kb(kb, staff, get_settings(), defaults=False)

    def reason_for(self, topic: str) -> str:
        """The desk for a dialogue topic (or an escalation cause such as system_error: general)."""
        reason = self._topic_reason.get(topic, GENERAL)
        return reason if reason in REASONS else GENERAL

    @staticmethod
    def urgency_for(reason: str, topic: str = "") -> str:
        if topic in URGENT_TOPICS:
            return "urgent"
        return URGENCY_BY_REASON.get(reason, URGENCY_BY_REASON[GENERAL])[0]

    def target_for(self, reason: str) -> Target:
        """The reason's target; fields routing.yaml leaves empty come from ``defaults`` (the settings'
        staff line) when the policy has them, else stay empty for the carrier to fill from its own."""
        entry = self.routing.targets.get(reason) if self.routing else None
        if entry is None and self.routing is not None and reason != GENERAL:
            entry = self.routing.targets.get(GENERAL)
        label = entry.label if entry else ""
        number, queue = (entry.twilio_number, entry.twilio_queue) if entry else ("", "")
        context, exten = (entry.asterisk_context, entry.asterisk_exten) if entry else ("", "")
        if self.defaults is not None:
            if not number and not queue:  # nothing of its own on Twilio: the deployment's staff line
                number, queue = self.defaults.number, self.defaults.queue
            context = context or self.defaults.context
        if context and not exten:
            exten = DEFAULT_EXTEN
        return Target(reason, label, number, queue, context, exten)

    async def available(self, now: datetime) -> bool:
        """Whether a transfer now would reach a person. Never raises: a broken line means no."""
        if self.staff_available == "never":
            return False
        if self.staff_available == "always":
            return True
        try:
            return await self.staff.available(now)
        except Exception:  # a broken staff line must not strand the caller: take a ticket
            log.exception("staff line check failed; taking a ticket")
            return False

    async def decide(self, reason: str, now: datetime, topic: str = "") -> Decision:
        """Transfer to the reason's desk when staff can answer now, else a ticket of that reason."""
        if await self.available(now):
            return Transfer(self.target_for(reason))
        return TakeTicket(reason, self.urgency_for(reason, topic))


@lru_cache(maxsize=8)
def _cached_routing(root: str, topic_ids: frozenset[str]) -> Routing | None:
    """routing.yaml read once per process and folder (a session is made per call)."""
    from ivr.knowledge.loader import load_routing

    return load_routing(root, set(topic_ids))
