"""Splitting replies into the units that are synthesised, cached and streamed one by one.

A caller hears the first sound only when its whole unit is synthesised, and synthesis time
grows with the unit's length, so long sentences are cut at 、 into pieces short enough to be
ready in ~150 ms. Units are also the voice cache's keys: ``ivr voices build`` splits prompts
with this same function so a streamed reply finds its pre-rendered pieces.
"""

from __future__ import annotations

import re

# Synthesis here (2 cores, speed 1.0) takes ~27 ms + ~6.5 ms a character: median 138 ms for
# 15-19 characters, 170 ms for 20-24. 18 keeps a unit, hence the first audio, near 150 ms.
MAX_UNIT_CHARS = 18
# Shorter fragments (はい。, a lone ？) join a neighbour: alone they get a full pause on each
# side and sound clipped.
MIN_UNIT_CHARS = 3
# A piece cut off at 、 shorter than this (こちらは、) would sound like a stumble: it stays with
# its neighbour even if that makes the unit longer than MAX_UNIT_CHARS.
MIN_CLAUSE_CHARS = 5

_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]*[」』）)]*|[。！？!?]+[」』）)]*")
_ENDED = re.compile(r"[。！？!?][」』）)]*$")
_CLAUSE_END = re.compile(r"(?<=[、，,])")
_DIGIT = re.compile(r"[0-9０-９]")
_NOT_SPOKEN = re.compile(r"[\s、。！？!?，,.「」『』（）()・…]")


def spoken_length(text: str) -> int:
    """Characters that take time to say (punctuation and spaces do not); a digit counts
    twice, as numbers are said in several morae (29日 ニジュークニチ)."""
    spoken = _NOT_SPOKEN.sub("", text)
    return len(spoken) + len(_DIGIT.findall(spoken))


def _pack_clauses(sentence: str) -> list[str]:
    """Cut a long sentence at 、 into pieces of at most MAX_UNIT_CHARS (a longer clause stays whole)."""
    if spoken_length(sentence) <= MAX_UNIT_CHARS:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for clause in (c for c in _CLAUSE_END.split(sentence) if c):
        if current and spoken_length(current + clause) > MAX_UNIT_CHARS:
            pieces.append(current)
            current = ""
        current += clause
    if current:
        pieces.append(current)
    merged: list[str] = []
    for piece in pieces:
        if merged and (spoken_length(piece) < MIN_CLAUSE_CHARS or spoken_length(merged[-1]) < MIN_CLAUSE_CHARS):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


def _join_short(units: list[str]) -> list[str]:
    out: list[str] = []
    carry = ""
    for unit in units:
        unit = carry + unit
        carry = ""
        if spoken_length(unit) < MIN_UNIT_CHARS:
            carry = unit
            continue
        out.append(unit)
    if carry:
        if out:
            out[-1] += carry
        elif spoken_length(carry):
            out.append(carry)
    return out


def sentences(text: str) -> list[str]:
    """Whole sentences, each keeping its own end (one without an end is given 。): a read-back's
    「ぽりたんく、ですね？」 cut at 。 and given one back became 「…ですね？。」, which is no
    sentence the bot said, so the はい after it was decoded without the question before it."""
    found: list[str] = []
    for line in text.splitlines():
        for match in _SENTENCE.finditer(line):
            sentence = match.group().strip()
            if sentence.strip("。"):
                found.append(sentence if _ENDED.search(sentence) else f"{sentence}。")
    return found


def split_sentences(text: str) -> list[str]:
    """The reply's synthesis units, in order: sentences (on 。！？!? and newlines), long ones cut
    at 、, very short fragments joined to a neighbour. '' or only spaces → []."""
    units: list[str] = []
    for line in text.splitlines():
        for match in _SENTENCE.finditer(line):
            sentence = match.group().strip()
            if sentence:
                units.extend(_pack_clauses(sentence))
    return _join_short(units)
