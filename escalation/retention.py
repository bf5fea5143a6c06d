"""The daily purge of callers' personal data, run inside ``ivr serve``.

A server runs for months; a purge that only happens when someone remembers `ivr tickets purge`
does not keep the retention promise the city makes to callers. A failed purge (database away for
maintenance) is logged and tried again on the next round rather than ending the loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 86_400  # once a day: retention is counted in days, and a purge scans every old ticket


class Purgeable(Protocol):
    def purge_personal_data(self, older_than_days: int) -> int: ...


async def purge_daily(store: Purgeable, retention_days: int, *, interval_s: float = PURGE_INTERVAL_S) -> None:
    """Purge now, then every ``interval_s`` seconds, until cancelled."""
    while True:
        try:
            count = await asyncio.to_thread(store.purge_personal_data, retention_days)
            if count:
                log.info("purged personal data of %d record(s) older than %d days (%s)", count, retention_days,
                         type(store).__name__)
        except Exception:
            log.exception("purging personal data failed; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
