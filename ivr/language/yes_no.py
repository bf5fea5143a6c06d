"""Yes or no: what a caller's reply to a question the bot asked means.

Read from the whole reply, written in hiragana or katakana (Whisper writes ハイ as often as
はい), in standard Japanese and Kansai dialect (せや, ちゃう). いいです / 大丈夫です mean yes or no by
the question alone, so the dialogue says which kind of question it asked.
"""

from __future__ import annotations

import re

import jaconv

from ivr.language.normalize import nfkc

YES_WORDS = (
    "はい", "ええ", "うん", "そうです", "そう", "お願いします", "おねがいします", "お願い", "それで",
    "せや", "そや", "ええよ", "いいよ", "合ってます", "あってます", "正解", "オッケー", "OK", "yes",
)
NO_WORDS = ("いいえ", "違います", "ちがいます", "違う", "ちゃう", "ちゃいます", "ないです", "ありません",
            "もういい", "いらない", "いらん", "no")
# "That's fine": a yes to a confirmation (〜でよろしいですか: それで大丈夫です), a no thanks to an offer
# or to 「ほかにご質問はありますか」 (いいです、大丈夫です: nothing more). Which one only the question says.
# The whole reply, so that 〜でいいですか and どうしたらいいですか stay questions.
_FINE = re.compile(r"^(?:(?:はい|ええ|うん|それで|もう|いえ|いや)、?)?"
                   r"(?:いいです|大丈夫|だいじょうぶ|結構|けっこう)(?:です)?(?:よ|ね)?$")
# A bare いいです to a confirmation is neither: Whisper base writes a quick いいえ so, and not only in
# doubt: after 「〜でよろしいですか」 two dev voices' いいえ came back 「いいです。」 at confidence
# 0.90–0.94 (turns.py --after confirm, 20 and 10 dB) and the topic the caller refused was answered.
# A caller who meant yes is asked again, with the keys; はい、いいです and 大丈夫です still confirm.
_BARE_FINE = re.compile(r"^いいです(?:よ|ね)?$")
# A bare いいよ to a confirmation in words Whisper doubts is neither: Whisper base's spelling of a
# いいえ (dev4 #3013 at 20 dB: 「いいよ」 at 0.16 after 「さんじょうちょう、ですね？」, and the wrong town's day
# answered twice; alone after a confirmation a いいえ reads いいよ too, ``LeadIn.settle``). The caller
# is asked はい or いいえ again, with the keys; a clearly heard いいよ is still a yes.
_BARE_OK = re.compile(r"^いいよ$")
# Said いいよ, where Whisper wrote it so, came back at 0.82–0.92 (bench/replies.py --rows, 4 voices,
# clean / 20 / 10 dB: 4 of 12), the misheard いいえ at 0.16: a line well clear of both.
BARE_OK_CONFIDENCE = 0.4
# いいえ said quickly (いえ、大丈夫です), and いや written in kanji (Whisper's 「嫌じゃう」 for いや、ちゃう);
# only at the start: 家 and いえいえ sit mid-sentence, and 嫌 starts no other short reply.
NO_OPENINGS = ("いえ", "嫌")
# いや as a word of its own: not the end of タイヤ or ダイヤ (「タイヤを捨てたい」, a question, was taken
# for a no and answered 「どうぞ、ご用件をお話しください」).
_IYA = re.compile(r"(?<![ぁ-ゖ])いや")
# A reply of only おや or ねえ (ね, ねー) to a read-back: Whisper's steady spellings of two dev voices'
# いいえ (Kokoro jm_kumo; ojt-slow: dev3 and dev4 calls, clean and 20 dB, where ねえ was taken for a
# filler and the read-back said again until the call ran out of turns). Neither starts a yes; only to
# 〜ですね？, where a wrong no costs one re-ask. いいね and おやっ too: at 20 dB the dev calls' いいえ
# came back 「いいね!」 6 times and 「おやっ」 once, never a はい; to 〜でよろしいですか いいね is an odd yes.
# みえ (見え) and みな (みんな): the ojt voice's いいえ after 「〜でよろしいですか」 at 20 and 10 dB
# (turns.py --after confirm, sim and Twilio; call_success dev calls), never a yes's spelling.
# みなさん(は): the same voice's いいえ run on, after 「…ちょう、ですね？」 on clean dev calls (0.08, 0.10;
# call_success dev2 and dev4), each then asked again with the keys.
_SPELT_NO = re.compile(r"^(?:おや|ねえ|ねー|ね|いいね|みえ|見え|みな|みんな|みなさん(?:は)?)っ?$")
# A reply of only うっ or おん to a confirmation: Whisper's spellings of a lone うん decoded after
# 「〜でよろしいですか」 (two dev voices, clean and 10 dB, every time; after 「ほかにご質問は」 the
# same clips read うん). Never a no's spelling on dev; only to a confirmation, where a wrong yes
# answers the topic the bot had guessed and the caller can ask again.
_SPELT_YES = re.compile(r"^(?:うっ|おん)$")
# はい running on into a verb is 入る (はいります, はいれる) or Whisper's 「はいます」 for ちゃいます at
# 20 dB: not a yes. (はいっ is an emphatic yes, so っ is not among them.)
_ENTERS = re.compile(r"^はい(?:ま|り|る|れ|ら)")
# お願いします after a short, misheard はい: Whisper writes はい、お願いします as 「はようねがいします」.
# Only after three characters at most, so 「粗大ごみの申し込みをお願いします」 stays a request.
_PLEASE = re.compile(r"^.{0,3}?(?:お|を)?(?:願い|ねがい)します")


# 灰 alone is a はい Whisper wrote in kanji (the domain prompt is about garbage); the item 灰 is asked
# about in words (灰は何ごみですか, 灰です).
ASH = "灰"

# How callers say yes and no, for scoring a reply Whisper could not write by its sound
# (``ivr.dialogue.replies``); True yes, False no. Only a no is taken from it: see there.
HEARD_FORMS = {"はい": True, "ええ": True, "うん": True, "そうです": True, "いいえ": False, "いえ": False,
               "ちがいます": False}


def heard_no(heard_as: str) -> bool:
    """The reply's audio sounded most like a way to say no (``HEARD_FORMS``; a yes is not taken)."""
    return HEARD_FORMS.get(heard_as) is False


def yes_no(text: str, *, confirming: bool = False, heard_confidence: float = 1.0) -> bool | None:
    """True for yes, False for no, None when it is neither (or both). ``confirming``: the
    question asked whether something is right (〜でよろしいですか), not whether the caller wants
    something (おつなぎしましょうか, ほかにご質問は); it decides what いいです / 大丈夫です mean.
    ``heard_confidence``: the recogniser's trust in ``text`` (a doubted bare いいよ, ``_BARE_OK``)."""
    t = _plain(text)
    if confirming and heard_confidence < BARE_OK_CONFIDENCE and _BARE_OK.match(t):
        return None
    no = (any(w in t for w in NO_WORDS) or _IYA.search(t) is not None or t.startswith(NO_OPENINGS)
          or (confirming and _SPELT_NO.match(t) is not None))
    yes = ((any(t.startswith(w) or t == w for w in YES_WORDS) or _PLEASE.match(t) is not None or t == ASH
            or (confirming and _SPELT_YES.match(t) is not None)) and not _ENTERS.match(t))
    if no and not t.startswith(("はい", "ええ", "うん")):
        return False
    if _FINE.match(t):  # 「はい、大丈夫です」 to 「ほかにご質問は」 closes the call too
        return (None if _BARE_FINE.match(t) else True) if confirming else False
    if yes:
        return True
    return None


def bare_fine(text: str) -> bool:
    """The whole reply is a bare いいです: to a confirmation neither yes nor no (``_BARE_FINE``), and
    what ``ivr.speech.lead_in.LeadIn.settle`` decodes again alone."""
    return _BARE_FINE.match(_plain(text)) is not None


def thats_fine(text: str) -> bool:
    """The whole reply is "that's fine" (いいです, もう大丈夫です, いえ、結構です): a never-mind that
    closes the call while a slot is asked (``ivr.dialogue.recovery.closes_call``), where 大丈夫
    inside a longer reply (「大丈夫?気がしそうです」, a town at 20 dB) closes nothing."""
    return _FINE.match(_plain(text)) is not None


def _plain(text: str) -> str:
    """The reply as both read it: NFKC, no punctuation around it, hiragana (Whisper writes ハイ as
    often as はい)."""
    return jaconv.kata2hira(nfkc(text).strip("、。!?！？ "))
