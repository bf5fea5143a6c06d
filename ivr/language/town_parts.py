"""The parts a town is split into by the open data (大宮通り北側, 下記を除く地域) as a caller hears and names them.

The data writes parts for a reader with the list in front of them; a caller on the phone hears them read out and
answers with a side or 「それ以外」, so each part has a spoken form and a way it is said back.
"""

from __future__ import annotations

import re

REST_OF_TOWN = "下記を除く"  # the open data's name for a town's remaining part: 雑司町（下記を除く地域）
REST_SPOKEN = "それ以外の地域"  # 「下記」 points at a list the caller on the phone never sees
REST_SAID = re.compile(r"以外|ほか|他の|その他")  # how a caller names the part not listed
_BOTH_SIDES = re.compile(r"[&＆]|および")  # 天理街道西側&ならまち大通り北側: two roads bound the part


def is_rest(qualifier: str) -> bool:
    """The part the open data leaves as 「下記を除く地域」: read out as 「それ以外の地域」, and offered last."""
    return qualifier.startswith(REST_OF_TOWN)


def part_for_ear(qualifier: str) -> str:
    """A town's part as said in an answer: 天理街道西側で、ならまち大通り北側 (no 「アンド」), and
    nothing for the rest of the town, which the caller chose as 「それ以外」."""
    if is_rest(qualifier):
        return ""
    return re.sub(r"[&＆]", "で、", qualifier)


def side_of(qualifier: str) -> str:
    """大宮通り北側 → 北側: callers name the side, not always the road; the rest of a town is
    named after the part read out before it."""
    if is_rest(qualifier):
        return REST_SPOKEN
    if _BOTH_SIDES.search(qualifier):  # 県道高畑山線の東側および南側 is not all of the 東側
        return part_for_ear(qualifier)
    m = re.search(r"[東西南北]側", qualifier)
    return m[0] if m else qualifier
