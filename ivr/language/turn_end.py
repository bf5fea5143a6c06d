"""Can a caller's turn end here? Read from the last words of what was heard so far.

Japanese callers pause in mid-sentence after a clause: 「冷蔵庫を買い替えたんですけど、（0.9 s）
古いのはどうしたらいいですか」. An end-of-turn rule that only counts silence cuts such a question
in two, and each half gets its own (wrong) answer. The grammar says which pauses are mid-sentence:
a conjunctive particle (けど, が, て, ので, から, し), a topic or case particle left hanging (は,
って, を, に, の), a listing particle (とか, や) or a filler (あの, えーと) cannot end a question,
while a sentence-final particle (か, よ, ね, の) or a finished predicate (です, ます, たい, いい)
can. The analysis is pyopenjtalk's, the same one that gives the understanding its readings.
"""

from __future__ import annotations

from enum import StrEnum

from ivr.language.normalize import nfkc
from ivr.language.readings import word_classes


class TurnEnding(StrEnum):
    continues = "continues"  # the sentence is not finished: wait longer before answering
    complete = "complete"  # a finished sentence: answer as soon as the silence says so
    open = "open"  # a bare word or phrase (an area name, an item): could be either


# First subdivisions of 助詞 (particles) after which a Japanese sentence goes on.
_HANGING_PARTICLES = {"接続助詞", "係助詞", "格助詞", "連体化", "並立助詞", "副助詞", "副助詞／並立助詞", "副詞化"}
_QUOTE_TOPIC = {"って", "て"}  # 〇〇って: a topic (ペットボトルって…), tagged 終助詞 by the dictionary
_FINAL_FORMS = {"基本形", "命令ｅ", "命令ｉ", "命令ｒｏ", "命令ｙｏ"}  # a predicate that can close a sentence


def turn_ending(text: str) -> TurnEnding:
    """Whether ``text`` (a transcript, maybe partial) can be a whole caller turn."""
    words = [w for w in word_classes(nfkc(text).strip()) if w[1] != "記号"]
    if not words:
        return TurnEnding.open
    surface, pos, group, form = words[-1]
    if pos == "フィラー" or pos == "接続詞":
        return TurnEnding.continues  # あの、 / えーと / それで: the question is still to come
    if pos == "助詞":
        if surface in _QUOTE_TOPIC:
            return TurnEnding.continues
        if group in _HANGING_PARTICLES:
            return TurnEnding.continues
        return TurnEnding.complete  # 終助詞 and か: ですか, よね, いいの
    if pos == "助動詞" or (pos in ("動詞", "形容詞") and form in _FINAL_FORMS):
        return TurnEnding.complete  # です, ます, たい, 出せる, いい
    if pos == "動詞" and group == "非自立":
        return TurnEnding.complete  # 教えてください
    return TurnEnding.open
