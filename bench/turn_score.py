"""Scoring and printing for bench/turns.py: which of a call's turns belong to a clip, and the figures.

A caller turn belongs to a clip when its audio overlaps the clip's speech on the endpointer's
clock; a speech turn that overlaps no clip's speech is spurious (line noise, or pre-roll only).
A half that was later joined with the rest of the sentence (``superseded``) is not a turn of its
own: the joined turn is, with ``parts`` > 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from turn_paths import Played, Turn

from ivr.dialogue import prompts
from ivr.language.readings import reading
from ivr.language.yes_no import yes_no

MORA_MATCH = 80  # rapidfuzz partial_ratio: two morae heard with one kana off still count (ゾー for ソー)
MORA_SLACK = 2  # kana of the transcript's reading searched beyond the window (a filler or a long vowel before)


@dataclass
class Score:
    played: Played
    turns: list[Turn] = field(default_factory=list)  # the turns overlapping the clip's speech (superseded halves too)
    speech: int = 0  # speech turns that reached ASR for this clip (dropped ones included, superseded halves not)
    whole: bool = False  # exactly one, and not dropped
    joined: bool = False  # … made of several endpointed parts joined
    halves: int = 0  # superseded halves (a part the turn logic first took alone)
    covered: bool = False  # … and its audio spans the clip's whole speech
    heard: str = ""  # the transcripts joined
    first: bool = False
    last: bool = False
    cer: float = 1.0
    answer: bool | None = None  # short answers: heard as the right yes/no
    acted: bool | None = None  # … and the bot acted on it so (はい: 「どうぞ」; いいえ: goodbye)
    answered: bool = False  # a speech turn of the clip was answered (so the wait is for a reply to it)
    silences: int = 0  # no-input turns while this clip was on the line
    spurious: int = 0  # speech turns overlapping no one's speech, from this clip's start to the next clip

    def to_json(self) -> dict[str, Any]:
        p, c = self.played, self.played.clip
        return {"path": p.path, "call": p.call, "name": c.name, "kind": c.kind, "split": c.split, "voice": c.voice,
                "condition": c.condition, "text": c.text, "reading": c.reading, "head": c.head, "tail": c.tail,
                "pause_ms": c.pause_ms, "detail": c.detail, "yes_no": c.yes_no, "asked": p.asked, "after": p.after,
                "t0_ms": p.t0_ms, "speech_ms": p.speech_ms, "reply_wait_ms": p.reply_wait_ms,
                "bot_during": p.bot_during, "speech_turns": self.speech, "whole": self.whole, "joined": self.joined,
                "halves": self.halves,
                "covered": self.covered, "heard": self.heard, "first": self.first, "last": self.last,
                "cer": round(self.cer, 3), "answer": self.answer, "acted": self.acted,
                "silences": self.silences, "spurious": self.spurious,
                "turns": [asdict(t) for t in self.turns]}


def _edge(window: str, text: str, at_start: bool) -> bool:
    if not window:
        return True
    region = text[: len(window) + MORA_SLACK] if at_start else text[-(len(window) + MORA_SLACK):]
    return bool(region) and fuzz.partial_ratio(window, region) >= MORA_MATCH


def _acted(turn: Turn, yes: bool, confirming: bool) -> bool:
    """The bot did what the answer asks: after 「ほかに、ご質問は」 「どうぞ」 for a yes and goodbye for
    a no; after a confirmation the confirmed topic's answer for a yes and 「もう一度、ご用件を」 for a no."""
    if not confirming:
        return turn.reply.startswith(prompts.GO_AHEAD) if yes else turn.action == "end"
    return turn.action == "answer" if yes else turn.reply.startswith(prompts.ASK_AGAIN)


def score(played: list[Played]) -> list[Score]:
    """One Score per scored clip (preludes only place the call), each with the turns that are its own."""
    out = []
    by_call: dict[str, list[Played]] = {}
    for p in played:
        by_call.setdefault(p.call, []).append(p)
    for p in played:
        if p.prelude:
            continue
        lo, hi = p.speech_ms
        mine = [t for t in p.turns if t.kind == "speech" and t.start_ms < hi and t.end_ms > lo]
        own = [t for t in mine if not t.superseded]
        s = Score(p, mine, len(own), halves=len(mine) - len(own))
        s.silences = sum(t.kind == "silence" and p.seqs[0] < t.seq <= p.seqs[1] for t in p.turns)  # no clock on them
        s.whole = s.speech == 1 and not own[0].dropped
        s.joined = s.whole and own[0].parts > 1
        s.answered = any(t.reply for t in own)
        s.covered = s.whole and own[0].start_ms <= lo and own[0].end_ms >= hi
        s.heard = "".join(t.transcript for t in own if not t.dropped)
        kana = reading(s.heard) if s.heard else ""
        c = p.clip
        s.first, s.last = _edge(c.head, kana, True), _edge(c.tail, kana, False)
        s.cer = Levenshtein.distance(c.reading, kana) / max(1, len(c.reading))
        if c.yes_no is not None:
            confirming = p.after == "confirm"
            meant = yes_no(c.text, confirming=True) if confirming else c.yes_no  # 結構です confirms a confirmation
            s.answer = any(yes_no(t.transcript, confirming=confirming) == meant for t in own if not t.dropped)
            s.acted = any(_acted(t, bool(meant), confirming) for t in own)
        out.append(s)
    for s in out:  # turns that overlap no clip's speech (preludes' included) go to the clip they followed
        call = sorted(by_call[s.played.call], key=lambda p: p.t0_ms)
        spans = [p.speech_ms for p in call]
        nxt = next((p.t0_ms for p in call if p.t0_ms > s.played.t0_ms), 1 << 60)
        s.spurious = sum(t.kind == "speech" and not t.superseded and s.played.t0_ms <= t.start_ms < nxt
                         and not any(t.start_ms < hi and t.end_ms > lo for lo, hi in spans) for t in s.played.turns)
    return out


def spurious(results: Sequence[Score]) -> int:
    return sum(s.spurious for s in results)


def _share(items: Sequence[Score], test: Callable[[Score], bool | None]) -> str:
    values = [bool(test(s)) for s in items if test(s) is not None]
    return f"{sum(values) / len(values):.2f}" if values else "  - "


def _pct(values: Sequence[float]) -> str:
    if not values:
        return "    -    "
    return f"{np.percentile(values, 50):4.0f}/{np.percentile(values, 95):<4.0f}"


def _held(items: Sequence[Score], pause: bool) -> list[float]:
    """The hold of every turn of pause clips, or of the other clips (sentence-final); halves
    included, since a half is where a hold happens before the caller goes on."""
    return [float(t.held_ms) for s in items if (s.played.clip.kind == "pause") == pause for t in s.turns]


def print_figures(results: dict[str, list[Score]], split: str) -> None:
    print(f"turn integrity, {split} split — whole: one speech turn; first/last: reference's first/last two morae "
          "in the transcript; held: end-of-turn hold after sentence-final / pause turns (ms); wait: end of speech → "
          "first bot audio (ms)")
    head = (f"{'path':12} {'cond':5} {'n':>4} {'whole':>5} {'cover':>5} {'first':>5} {'last':>5} {'CER':>5} "
            f"{'short':>5} {'acted':>5} {'held final':>10} {'held pause':>10} {'wait p50/95':>11} {'split':>5} "
            f"{'none':>4} {'join':>4} {'half':>4} {'noinp':>5} {'spur':>4}")
    print(head)
    for path, scores in results.items():
        for cond in [*dict.fromkeys(s.played.clip.condition for s in scores), "all"]:
            items = [s for s in scores if cond in ("all", s.played.clip.condition)]
            waits = [s.played.reply_wait_ms for s in items if s.played.reply_wait_ms is not None and s.answered]
            print(f"{path:12} {cond:5} {len(items):4} {_share(items, lambda s: s.whole):>5} "
                  f"{_share(items, lambda s: s.covered):>5} {_share(items, lambda s: s.first):>5} "
                  f"{_share(items, lambda s: s.last):>5} {np.mean([s.cer for s in items]):5.2f} "
                  f"{_share(items, lambda s: s.answer):>5} {_share(items, lambda s: s.acted):>5} "
                  f"{_pct(_held(items, False)):>10} "
                  f"{_pct(_held(items, True)):>10} {_pct(waits):>11} {sum(s.speech > 1 for s in items):5} "
                  f"{sum(s.speech == 0 for s in items):4} {sum(s.joined for s in items):4} "
                  f"{sum(s.halves for s in items):4} {sum(s.silences for s in items):5} {spurious(items):4}")
    print("\nper kind (all conditions): whole / first / last / CER (n)")
    kinds = list(dict.fromkeys(s.played.clip.kind for r in results.values() for s in r))
    print(f"{'path':12} " + " ".join(f"{k:>24}" for k in kinds))
    for path, scores in results.items():
        cells = []
        for kind in kinds:
            items = [s for s in scores if s.played.clip.kind == kind]
            cells.append(f"{_share(items, lambda s: s.whole)}/{_share(items, lambda s: s.first)}/"
                         f"{_share(items, lambda s: s.last)}/{np.mean([s.cer for s in items]) if items else 0:.2f}"
                         f" ({len(items)})")
        print(f"{path:12} " + " ".join(f"{c:>24}" for c in cells))
    if "sim" in results and len(results) > 1:
        print("\npath gap against sim, points (whole-turn share; short answers heard):")
        for path in [p for p in results if p != "sim"]:
            cells = []
            for cond in [*dict.fromkeys(s.played.clip.condition for s in results[path]), "all"]:
                a, b = ([s for s in results[p] if cond in ("all", s.played.clip.condition)] for p in ("sim", path))
                cells.append(f"{cond} {_gap(a, b, lambda s: s.whole)} / {_gap(a, b, lambda s: s.answer)}")
            print(f"  {path}: " + "; ".join(cells))
    bot = {p: sum(s.played.bot_during for s in r) for p, r in results.items() if p != "sim"}
    if any(bot.values()):
        print("bot audio while the caller was still speaking (a reply to half a turn): "
              + ", ".join(f"{p} {n}" for p, n in bot.items()))


def _gap(a: list[Score], b: list[Score], test: Callable[[Score], bool | None]) -> str:
    va = [bool(test(s)) for s in a if test(s) is not None]
    vb = [bool(test(s)) for s in b if test(s) is not None]
    if not va or not vb:
        return "-"
    return f"{(sum(vb) / len(vb) - sum(va) / len(va)) * 100:+.0f}"


def print_errors(results: dict[str, list[Score]]) -> None:
    """The dev split's misses: each clip not heard whole, cut at an edge, or a short answer missed."""
    print("\nmisses (dev split):")
    for path, scores in results.items():
        for s in scores:
            if s.whole and s.first and s.last and s.answer is not False:
                continue
            c, p = s.played.clip, s.played
            turns = " | ".join(f"{t.start_ms}-{t.end_ms}ms{' dropped:' + t.dropped if t.dropped else ''}"
                               f"{' (half)' if t.superseded else ''} {t.transcript!r}" for t in s.turns) or "(no turn)"
            print(f"  {path:11} {c.name:34} {c.detail or (f'pause {c.pause_ms}ms' if c.pause_ms else ''):22} "
                  f"speech {p.speech_ms[0]}-{p.speech_ms[1]}ms  {c.text} → {turns}"
                  + (f"  [silence turns {s.silences}]" if s.silences else "")
                  + ("  [yes/no missed]" if s.answer is False else "")
                  + ("  [not asked]" if p.asked is False else ""))
