"""Callers' numbers in logs: enough to tell calls apart, not enough to ring the caller.

Logs are read by more people (and kept longer) than tickets, so a number there keeps its
prefix (mobile / area code) and last four digits only.
"""

from __future__ import annotations

import re

KEEP_LAST = 4  # the last four tell two callers apart in a log, as on a receipt
MOBILE_PREFIXES = ("070", "080", "090", "050", "020")  # 11-digit numbers: 3-4-4
TOLL_FREE = ("0120", "0800")


def national_digits(number: str) -> str:
    """A number's digits as a caller in Japan knows them: carriers give E.164 (+81742…), callers dial 0742…."""
    digits = re.sub(r"\D", "", number)
    return "0" + digits[2:] if number.strip().startswith("+81") else digits


def mask_number(number: str) -> str:
    """``09012341234`` → ``090-****-1234``; ``0742341111`` → ``0742-**-1111``; ``+8190…`` as 090….

    Anything that is not a Japanese number keeps its last four digits only.
    """
    digits = national_digits(number)
    if not digits:
        return ""
    if len(digits) <= KEEP_LAST:
        return "*" * len(digits)
    last = digits[-KEEP_LAST:]
    if len(digits) == 11 and digits.startswith(MOBILE_PREFIXES):
        return f"{digits[:3]}-****-{last}"
    if len(digits) == 10 and digits.startswith(TOLL_FREE):
        return f"{digits[:4]}-**-{last}"
    if len(digits) == 10 and digits.startswith("0"):
        area = 2 if digits[1] in "36" else 4  # 03/06 Tokyo/Osaka; else 0742-style (exact lengths vary, a mask need not)
        return f"{digits[:area]}-{'*' * (10 - area - KEEP_LAST)}-{last}"
    return f"{'*' * (len(digits) - KEEP_LAST)}{last}"
