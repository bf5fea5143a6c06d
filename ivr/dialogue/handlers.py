"""What each FAQ topic does: answer, ask for a missing slot, or hand over to staff.

Topics with a ``handler`` (collection_day, item_category …) build their answer from the
knowledge base; the others speak their written answer and act on their ``action``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ivr.dialogue import answers, prompts, seasons
from ivr.dialogue.state import AskSlot, Brain, CallState
from ivr.knowledge.models import Action as TopicAction
from ivr.knowledge.models import Area, Handler, Topic
from ivr.language.entities import chome_by_sound
from ivr.language.sound_guesses import side_by_sound
from ivr.language.town_parts import is_rest, side_of
from ivr.language.understand import Parse
from ivr.language.yes_no import yes_no

MAX_SLOT_TRIES = 2  # a slot not understood twice → staff, instead of asking a third time
RETRY_PREFIX = {"area": prompts.UNKNOWN_AREA_SHORT, "item": prompts.UNKNOWN_ITEM}
RETRY_TEXT = {"area": prompts.ASK_AREA_AGAIN}  # an area asked again: its first sounds or its postal code
RETRY_SUFFIX = {"chome": prompts.CHOME_KEYS}  # a 丁目 asked again: its number on the keypad too
READ_BACK_CONFIDENCE = 0.30  # session.CONFIRM_CONFIDENCE: a topic this sure is read back ("…についてのご質問で…")
TOWN_EXAMPLES = 3  # towns read out for an opening many share: enough to show the pattern, short to hear
ITEM_HANDLERS = {Handler.item_category}
AREA_HANDLERS = {Handler.collection_day, Handler.today_collection, Handler.next_collection}


@dataclass
class RunResult:
    text: str
    ask: AskSlot | None = None
    needs_staff: bool = False
    ticket: bool = False
    repeat: bool = False
    end: bool = False
    offer_staff: bool = False  # the text ends in 「職員におつなぎしましょうか」: a yes/no question


class TopicRunner:
    def __init__(self, brain: Brain, state: CallState) -> None:
        self.kb = brain.kb
        self.nlu = brain.nlu
        self.state = state
        self._previous: AskSlot | None = None

    def run(self, intent: str, today: date, previous: object = None) -> RunResult:
        """Act on ``intent`` with the slots the call has gathered (the session remembers each turn).

        ``previous``: what the bot was waiting for, so a repeated question counts its tries.
        """
        self._previous = previous if isinstance(previous, AskSlot) else None
        topic = self.kb.topic_by_id.get(intent)
        if topic is None:  # a DTMF shortcut to a topic this city's FAQ lacks
            return RunResult(prompts.GO_AHEAD)
        handler = topic.handler
        if handler is Handler.repeat:
            if not self.state.last_text:
                return RunResult(prompts.NOTHING_TO_REPEAT, repeat=True)
            said = self.state.last_text.removeprefix(topic.answer)  # asked twice: one 「もう一度申し上げます」
            return RunResult(f"{topic.answer}{said}", repeat=True)
        if handler is Handler.goodbye:
            return RunResult(topic.answer, end=True)
        if handler in ITEM_HANDLERS:
            return self._item(topic)
        if handler in AREA_HANDLERS:
            return self._schedule(topic, handler, today)
        if handler in (Handler.year_end, Handler.holidays):
            return self._season(handler, today)
        if topic.action is TopicAction.transfer or handler is Handler.operator:
            return RunResult(topic.answer, needs_staff=True)
        if topic.action is TopicAction.ticket:
            return RunResult(topic.answer, ticket=True)
        return RunResult(topic.answer)

    # --- slots ------------------------------------------------------------------------

    def asks_anew(self, pending: AskSlot, parse: Parse) -> bool:
        """Asked for the thing, the caller names a category and no thing: the question said again
        (「燃えないごみっていつ出せばいいですか」 heard 「もえないごみして、出せばいいですか」 after its first
        try, 「もういないごみにして…」, had been asked the thing's name), not a thing's name misheard.
        A guess at that category's own topic (its title names it) is then read back even from just
        under the read-back line: the category is what was said, twice (it scored 0.2998)."""
        if not (pending.slot == "item" and parse.category is not None and parse.item is None):
            return False
        topic = self.kb.topic_by_id.get(parse.intent)
        if topic is not None and parse.category.name in topic.title:
            parse.confidence = max(parse.confidence, READ_BACK_CONFIDENCE)
        return True

    def fill_pending(self, pending: AskSlot, parse: Parse) -> bool | None:
        """Fill the awaited slot from this turn; None when the turn did not fill it."""
        if pending.slot == "item" and parse.item is not None:
            self.state.item = parse.item
            return True
        if pending.slot == "category" and parse.category is not None:
            self.state.category = parse.category
            return True
        if pending.slot == "area" and parse.area_town and not parse.area_guessed:
            self.state.set_area(parse.area_town, parse.areas)
            return True
        if pending.slot in ("chome", "side"):
            rows = pending.choices
            chome = parse.chome
            if chome is None and pending.slot == "chome":
                chome = chome_by_sound(parse.text, [n for a in rows for n in a.chome_numbers()])
            if chome is not None:
                rows = [a for a in rows if chome in a.chome_numbers()] or rows
            rows = self.nlu.entities.narrow_by_side(rows, parse.text)
            if pending.slot == "side" and len(rows) == len(pending.choices):  # 北側 heard 期間側
                side = side_by_sound(parse.text, [side_of(a.qualifier) for a in rows])
                rows = [a for a in rows if side and side_of(a.qualifier) == side] or rows
            if len(rows) < len(pending.choices):
                self.state.set_area(self.state.town, rows)
                return True
        return None

    def pick_choice(self, pending: AskSlot, number: int) -> bool:
        """DTMF answer to a which-side question (1 for the first option, 2 for the second …) or to
        「何丁目ですか」 (the 丁目 itself: 2 is 二丁目, not the second row of the town's data);
        False when the key is no option."""
        if pending.slot == "chome":
            rows = [a for a in pending.choices if number in a.chome_numbers()]
            if rows:
                self.state.set_area(self.state.town, rows)
            return bool(rows)
        if 1 <= number <= len(pending.choices):
            self.state.set_area(self.state.town, [pending.choices[number - 1]])
            return True
        return False

    def answers_slot_of(self, topic_id: str, parse: Parse) -> bool:
        """Whether this turn names what ``topic_id`` needs (an area, an item, a category)."""
        topic = self.kb.topic_by_id.get(topic_id)
        if topic is None:
            return False
        if topic.handler in AREA_HANDLERS:
            return bool(parse.area_town)
        if topic.handler in ITEM_HANDLERS:
            return parse.item is not None
        return False

    def guess_from_entities(self, parse: Parse) -> str | None:
        """When the classifier is unsure, a lone entity still says what the caller wants."""
        if parse.item is not None and not parse.area_town:
            return "item_category"
        if parse.area_town and parse.date is not None:
            return "today_collection"
        if parse.area_town or parse.town_opening:  # 西大寺です: which 西大寺 is asked, then its days
            return "collection_day"
        return None

    def _ask(self, topic: Topic, slot: str, text: str, choices: list[Area] | None = None,
             plain: bool = False) -> RunResult:
        """``plain``: the text already says what was missing, and is not prefixed when asked again."""
        pending = self._previous
        tries = pending.tries + 1 if pending and pending.topic == topic.id and pending.slot == slot else 0
        if tries >= MAX_SLOT_TRIES:
            return RunResult(prompts.SLOT_NOT_UNDERSTOOD, needs_staff=True)
        if tries and not plain:
            text = RETRY_TEXT.get(slot) or RETRY_PREFIX.get(slot, prompts.NOT_UNDERSTOOD_SHORT) + text
            text += RETRY_SUFFIX.get(slot, "")
        return RunResult(text, ask=AskSlot(topic.id, slot, choices or [], tries))

    # --- handlers ---------------------------------------------------------------------

    def _question_words(self) -> str:
        """The caller's latest question: the season words (お盆, 年末) and a day named decide the
        answer, and a bare はい (to 「…についてのご質問でよろしいですか」) is not the question."""
        lines = [line.text for line in self.state.transcript if line.speaker == "caller"]
        return next((t for t in reversed(lines) if yes_no(t) is None), lines[-1] if lines else "")

    def _season(self, handler: Handler, today: date) -> RunResult:
        words = self._question_words()
        area = self.state.area
        if handler is Handler.holidays and not seasons.is_year_end_question(words, today):
            answer = seasons.holiday_answer(self.kb, today, words, area)
        else:
            answer = seasons.year_end_answer(self.kb, today, words, area)
        return RunResult(answer.text, offer_staff=answer.offer_staff)

    def _item(self, topic: Topic) -> RunResult:
        item = self.state.item
        if item is None:
            return self._ask(topic, "item", prompts.ASK_ITEM)
        return RunResult(answers.item_answer(self.kb, item, topic.answer))

    def _area(self, topic: Topic) -> RunResult | Area:
        """The caller's area, or the question that gets it."""
        if self.state.area is not None:
            return self.state.area
        rows = self.state.area_rows
        if not rows and (opening := self.state.town_opening):  # 西大寺です: 西大寺北町? 西大寺南町?
            towns = self.nlu.entities.openings.said(opening)[1]
            text = prompts.ASK_WHOLE_TOWN.format(opening=opening, examples="、".join(towns[:TOWN_EXAMPLES]))
            return self._ask(topic, "area", text, plain=True)
        if not rows:
            example = self.kb.areas[0].town if self.kb.areas else "青山"
            return self._ask(topic, "area", prompts.ASK_AREA.format(example=example))
        town = self.state.town
        if any(a.chome_numbers() for a in rows) and len({a.chome for a in rows}) > 1:
            return self._ask(topic, "chome", prompts.ASK_CHOME.format(town=town), rows)
        rows = sorted(rows, key=lambda a: is_rest(a.qualifier))  # 「それ以外」 after what it excludes
        labels = [a.qualifier for a in rows]
        if len(set(labels)) < len(labels) or not all(labels):
            # the data splits the town in a way a caller cannot name (by collector): staff
            return RunResult(f"{town}は、場所によって収集日が分かれていて、この自動案内では確かめられません。",
                             needs_staff=True)
        sides = [side_of(q) for q in labels]
        names = sides if len(set(sides)) == len(sides) else labels
        keys = "、".join(f"{n}は{i}" for i, n in enumerate(names, 1))
        text = prompts.ASK_SIDE.format(town=town, options="か、".join(names), keys=keys)
        return self._ask(topic, "side", text, rows)

    def _schedule(self, topic: Topic, handler: Handler, today: date) -> RunResult:
        category = self.state.category
        item = self.state.item
        # 「缶の日はいつ」: the caller may not know the thing's category, and hears whose day this is
        named = f"{answers.for_the_ear(item.name)}は、{category.name}です。" if (
            item is not None and category is not None and item.category == category.name) else ""
        if handler is not Handler.today_collection and category is not None and not category.scheduled:
            return RunResult(named + answers.no_day_answer(category))  # 「大型ごみの収集日は」: no town changes it
        area = self._area(topic)
        if isinstance(area, RunResult):
            return area
        if handler is Handler.collection_day:
            return RunResult(named + answers.collection_day_answer(self.kb, area, category, today, topic.answer))
        if handler is Handler.today_collection:
            day = self.state.day or today
            if (asked := self.state.day_category) is not None and self.state.day is not None:
                return RunResult(answers.category_day_answer(self.kb, area, asked, day, today))
            return RunResult(answers.day_answer(self.kb, area, day, today))
        # a day named with 次 (「今日出し忘れたんやけど次いつ」, or asked about earlier in the call): the next after it
        missed = self.state.day if self.state.day is not None and self.state.day <= today else None
        if category is None:
            if missed is not None and (answer := answers.after_missed_answer(self.kb, area, missed, today)):
                return RunResult(answer)
            return self._ask(topic, "category", prompts.ASK_CATEGORY)
        start = missed + timedelta(days=1) if missed is not None else today
        return RunResult(named + answers.next_answer(self.kb, area, category, today, start))
