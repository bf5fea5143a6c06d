"""Short replies while the bot waits for an answer: which close the call, and which are a no heard by sound.

A reply to 「れいぞうこ、ですね？」 is mostly a はい or an いいえ, and Whisper base writes a quick or
mumbled one as some other word (「リンス」 for the ojt-fast voice's いいえ, at 0.08, twice in one dev
call; 「いただきます」 for 違います). Such a reply, naming nothing, is scored by its audio against
the ways a caller says yes and no (``HEARD_FORMS``, ``ivr.speech.forced_choice``), and a no wins
only as a no: bench/replies.py's dev replies (26 replies, six voices, clean / 20 / 10 dB; 232
replies the transcript left unread), scored against these seven forms less each one's score on
silence: 29 of 45 unread no's heard as no, and no yes ever taken for one; as a yes, 15 of 64 would
have been wrong. So a sound-heard yes is not taken: an unread yes is asked again with the keys,
as before, since confirming a read-back the caller refused answers a thing they never asked about.
Non-answers taken for a no there (わかりません, a misheard 二丁目です) get the item asked again.
"""

from __future__ import annotations

import dataclasses
import re

from ivr.dialogue.state import AskSlot, Confirm, OfferStaff, Pending
from ivr.language.entities import EntityExtractor
from ivr.language.normalize import normalize
from ivr.language.sound_guesses import names_something
from ivr.language.understand import Parse
from ivr.language.yes_no import HEARD_FORMS, thats_fine, yes_no

REPLY_MAX_CHARS = 8  # longer than 「はい、お願いします」: the caller said more than a yes or a no
_ASKS = re.compile(r"(?:[?？]|ですか。?)\s*$")  # 「どこにあるのですか?」: a question, not an answer

# Words that end a call. Whisper's misreadings of a slot answer (「保聴です」 for 包丁です) look like
# 「以上です」 to the intent model; while a slot is asked for, only these make a goodbye.
# 大丈夫 / 結構 close only as the whole reply (``thats_fine``): 「大丈夫?気がしそうです」 (七条東町です at
# 20 dB) was a town answer, ended with a goodbye. So is 以上 (以上です), which also opened
# 「以上、左側です」, 七条東町です at 20 dB (dev4 call): the caller who had just been asked for the town was hung up on.
_CLOSING = re.compile("ありがと|失礼|しつれい|もういい|さようなら|切ります")
_THATS_ALL = re.compile(r"^以上(?:です|で|になります)?[。、!！]*$")
# A goodbye in words Whisper doubts, while the bot waits for an answer, is that answer misheard:
# dev2 #1016 over the phone path at 20 dB heard 学園北です, after 「きたむきちょう、ですね？」, as
# 「はぁぁぁ」 then 「さようなら」 at 0.14, and hung up. Said goodbyes Whisper wrote as goodbyes came back
# at 0.43–0.96 (ありがとう(ございました) / さようなら / 失礼します / もういいです, 4 voices, clean / 20 / 10 dB,
# after a read-back or an offer of staff: 47 of 60); the caller who did mean it can say it again.
DOUBTED_GOODBYE_CONFIDENCE = 0.3


def says_goodbye(text: str) -> bool:
    """The caller's own words of closing (not 大丈夫 / 結構, which also answer a question)."""
    return bool(_CLOSING.search(text) or _THATS_ALL.match(text))


def closes_call(text: str) -> bool:
    return says_goodbye(text) or thats_fine(text)


def asks(text: str) -> bool:
    return _ASKS.search(text) is not None


def not_a_goodbye(pending: Pending, parse: Parse) -> Parse:
    """A goodbye the classifier reads into a short misheard reply is none unless the caller closed
    the call in words: 「保聴です」 (包丁です) answers the slot asked; 「りね」 (いいえ) to
    「きでらちょう、ですね？」 is an unclear yes/no, asked again with the keys, never a hang-up; so is
    a bare いいです to a confirmation (Whisper's quick いいえ, ``yes_no``), which closes nothing there;
    and so is a goodbye in words Whisper doubts (``DOUBTED_GOODBYE_CONFIDENCE``): a hang-up on a
    caller still answering loses the call, a goodbye asked about again costs one turn."""
    fine_to_a_confirmation = isinstance(pending, Confirm) and not says_goodbye(parse.normalized)
    doubted = parse.heard_confidence < DOUBTED_GOODBYE_CONFIDENCE  # 学園北です heard 「さようなら」 at 0.14
    if parse.intent != "goodbye" or (closes_call(parse.normalized) and not fine_to_a_confirmation and not doubted):
        return parse
    if isinstance(pending, AskSlot):
        return dataclasses.replace(parse, intent=pending.topic)
    if isinstance(pending, (Confirm, OfferStaff)):
        return dataclasses.replace(parse, confidence=0.0)
    return parse


def replies_to_hear(entities: EntityExtractor, text: str) -> list[str]:
    """The yes and no forms to score a reply to a confirmation against: none when the transcript
    reads as a yes or a no already, names a thing, a category or a town, asks, closes the call,
    holds no word (えーと), or is longer than a reply."""
    said = normalize(text)
    if (not said or len(said) > REPLY_MAX_CHARS or yes_no(text, confirming=True) is not None
            or closes_call(said) or asks(text) or names_something(entities, said)):
        return []
    return list(HEARD_FORMS)
