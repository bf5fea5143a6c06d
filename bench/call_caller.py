"""The scripted caller of the call-success bench: what a caller with a goal says next, and
whether the call reached the goal.

The caller reacts to the bot's last words as a person would: gives the area, the 丁目 or the
side of the road when asked, confirms a read-back of the right thing and rejects a wrong one,
presses the menu key the bot offers (and the 丁目 when a re-ask offers keys for it), repeats
the question when not understood or answered wrongly, confirms the callback number and gives
details, place and name for a ticket. The right outcome of a goal is what the bot does with the
same caller said as clean text (the reference run, through the real dialogue): the same answer,
or the same hand-off to staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from call_goals import Goal

from ivr.dialogue import prompts
from ivr.language.entities import chome_of
from ivr.language.readings import long_vowels, reading

MAX_EXTRA_TURNS = 3  # the caller's patience: this many turns more than the clean call needed, then the call fails
CALLER_NUMBER = "+81742000000"  # the number the calls come from (bench/calls.py's Twilio From)
CALLBACK_DIGITS = "0742000000"
TICKET_NUMBER = "受付番号は、"  # a ticket taken (or joined to the caller's open one) and its number said
ANYTHING_ELSE = prompts.ANYTHING_ELSE.rstrip("。")
_SENTENCE = re.compile(r"[^。？?]+[。？?]?")


@dataclass(frozen=True)
class Move:
    kind: str  # say | press
    text: str  # what is said, or the keys pressed


@dataclass(frozen=True)
class BotSaid:
    """One bot turn as a path reports it (the sim's records, the server's turn log, the text session)."""

    text: str
    action: str
    intent: str


def core(text: str) -> str:
    """A reply's first sentence, the part that carries the answer (「冷蔵庫は、家電リサイクル…」)."""
    m = _SENTENCE.match(text.strip())
    return m.group(0) if m else text


@dataclass(frozen=True)
class Target:
    """The right outcome of a goal: an answer (its intent and first sentence), a ticket or a transfer."""

    action: str  # answer | ticket | transfer | none (the clean call reached nothing: not scored)
    intent: str = ""
    answer: str = ""
    turns: int = 0  # caller turns the clean call took
    # (intent, first sentence) of the answer the same caller reaches by the keypad menu instead
    # (1 分け方, then 「蛍光灯です」: the item's own rule, 「蛍光灯は、有害ごみです。…」), as clean text:
    # just as right, and where a call ends up after 「ボタンでもお選びいただけます」 on a bad line.
    keypad: tuple[str, str] | None = None

    def reached(self, said: BotSaid, goal: Goal | None = None) -> bool:
        if self.action == "answer":
            if said.action == "answer" and self.keypad == (said.intent, core(said.text)):
                return True
            if said.action != "answer" or said.intent != self.intent:
                return False
            if core(said.text) == self.answer:
                return True
            # a collection day: an answer naming the caller's area and the category asked about is
            # right, also when it lists the area's other days with it (「赤膚町の収集日です。…」)
            return goal is not None and goal.kind == "day" and _mentions_all(goal, said.text)
        if self.action == "ticket":
            return TICKET_NUMBER in said.text
        if self.action == "transfer":
            return said.action == "transfer"
        return False


def target_of(history: list[BotSaid], turns: int) -> Target:
    """The first outcome the clean call reached."""
    for said in history:
        if said.action == "answer" and not said.text.startswith(prompts.GO_AHEAD):
            return Target("answer", said.intent, core(said.text), turns)
        if TICKET_NUMBER in said.text:
            return Target("ticket", said.intent, "", turns)
        if said.action == "transfer":
            return Target("transfer", said.intent, "", turns)
    return Target("none", turns=turns)


KIND_WORDS = {  # a topic read back in general words that still fit what the caller asked
    "item": ("分別", "分け方"), "day": ("収集日",), "oversize": ("大型ごみ",), "staff": ("職員",),
}


def _mentions_all(goal: Goal, text: str) -> bool:
    town = re.split(r"[一二三四五六七八九十]丁目|です", goal.replies.get("area", ""))[0]
    return bool(town) and town in text and any(k in text for k in goal.key)


def _mentions(goal: Goal, text: str) -> bool:
    """A read-back names what the caller meant: a key word, something they said (an area), or
    the kind of question they asked (「品目の分別についてのご質問でよろしいですか」 for 傘は何ごみ)."""
    kana = _flat(reading(text))
    town = re.split(r"[一二三四五六七八九十]+丁目", goal.replies.get("area", ""))[0]  # 朱雀 of 朱雀三丁目です
    words = (*goal.key, *(v.removesuffix("です") for v in goal.replies.values()), *KIND_WORDS.get(goal.kind, ()),
             *([town] if town and "丁目" in goal.replies.get("area", "") else []))
    return not words or any(w in text or _flat(reading(w)) in kana for w in words)


def _flat(kana: str) -> str:
    """A reading with its long vowels gone, as a listener hears a name: 三条大路 reads サンジョーーージ
    as one word, 「さんじょうおうじ、ですね？」 サンジョーオージ word by word; both are サンジョジ. Compared
    as read, the caller refused its own town read back right (dev4, 2026-12-05)."""
    return long_vowels(kana).replace("ー", "")


def _first_sounds(area: str) -> str:
    """What a caller says when asked for a town's first sounds: 「青野町です」 → 「あおの、です」."""
    town = re.split(r"[町一二三四五六七八九十]|丁目|です", area)[0]
    return f"{reading(town)}、です" if town else area


@dataclass
class Caller:
    """One caller with one goal; ``next`` decides the next move from what the bot just said."""

    goal: Goal
    moves: list[Move] = field(default_factory=list)
    _last_answer: str = ""  # the last yes/no given, for 「はい、か、いいえ、でお答えください」
    _last_said: str = ""

    def first(self, keypad: bool = False) -> Move:
        """The opening question; ``keypad``: the goal's menu key instead (the keypad route)."""
        return self._press(self.goal.menu) if keypad else self._say(self.goal.ask)

    def _say(self, text: str) -> Move:
        self._last_said = text
        move = Move("say", text)
        self.moves.append(move)
        return move

    def _press(self, keys: str) -> Move:
        move = Move("press", keys)
        self.moves.append(move)
        return move

    def _yes(self, yes: bool) -> Move:
        self._last_answer = "はい" if yes else "いいえ"
        return self._say(self._last_answer)

    def _reply(self, slot: str) -> Move:
        return self._say(self.goal.replies.get(slot, self.goal.ask))

    def next(self, said: BotSaid) -> Move:  # noqa: PLR0911 — one rule per thing the bot can ask
        text = said.text
        if "何丁目" in text:  # offered the keys after a 丁目 not understood, presses it as for a yes/no
            number = chome_of(self.goal.replies.get("chome", ""))
            return self._press(str(number)) if prompts.CHOME_KEYS in text and number else self._reply("chome")
        if "どちらですか" in text and "ボタンなら" in text:
            return self._reply("side")
        if "はじめの" in text and "area" in self.goal.replies:  # 「町名の、はじめの何文字かだけでも」
            return self._say(_first_sounds(self.goal.replies["area"]))
        if "町名" in text and ("お住まい" in text or "見つかりません" in text or "郵便番号" in text):
            return self._reply("area")
        if "どのごみの収集日" in text:
            return self._reply("category")
        if "捨てたいもの" in text or "品物の名前" in text:
            return self._reply("item") if "item" in self.goal.replies else self._say(self.goal.ask)
        if "今おかけの" in text:
            return self._yes(True)
        if "お電話番号を" in text:
            return self._press(CALLBACK_DIGITS + "#")
        if "お名前" in text:
            return self._reply("name")
        if "場所を" in text and "職員" in text:
            return self._reply("place")
        if "詳しくお話しください" in text:
            return self._reply("details")
        if "職員におつなぎしましょうか" in text:
            return self._yes(True)  # a caller the bot cannot help takes the offer
        if "はいは1" in text or "はい、か、いいえ" in text:
            return self._press("1" if self._last_answer != "いいえ" else "2")
        if "ですね" in text or "でよろしいですか" in text:
            return self._yes(_mentions(self.goal, text))
        if self.goal.menu and "を押してください" in text and ("分け方" in text or "収集日" in text):
            return self._press(self.goal.menu)
        if text.rstrip("。").endswith(ANYTHING_ELSE) or "もう一度" in text or prompts.GO_AHEAD in text:
            return self._say(self.goal.ask)  # not understood, or answered wrongly: ask again
        return self._say(self._last_said or self.goal.ask)
