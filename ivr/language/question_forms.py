"""Phrasings that say what kind of question a caller asks, whatever thing is named in it.

「〇〇は何ごみ」「〇〇って捨てられますか」「ごみの分け方を教えて」 ask about getting rid of a thing; 「家電
のことなんですけど」 brings up a kind of things. The router and the understanding read these forms
from the normalised text, before or beside the items and towns found in it.
"""

from __future__ import annotations

import re

WHICH_CATEGORY_WORDS = ("何ごみ", "なにごみ", "なんごみ", "何のごみ", "なんのごみ")
# how to get rid of a thing (〇〇を処分したい, 〇〇は何ごみ): when no item, category, town or date
# is heard in such a question, the thing itself was not heard, and the caller can be asked for it
DISPOSAL_WORDS = WHICH_CATEGORY_WORDS + ("捨て方", "捨てたい", "すてたい", "処分した", "処分する", "処分の仕方",
                                         "処分すれば", "捨てれば", "捨てたら", "すてたら",  # 〜ばいい, 〜たらええ
                                         "ほかした", "ほかす", "出せばいい", "出したらいい", "出せば良い")
# 「ごみの分け方を教えて」: sorting asked of no thing heard, which thing is the next question (not 分別してない,
# a neighbour's ways); with a thing named, no sign of getting rid of it (分け方のパンフレットがほしい)
SORTING_WORDS = ("分け方", "わけかた", "分別の", "分別を", "分別が", "分別に", "分別方法", "分別って")

# 「〇〇は大型ごみになりますか」「〇〇って燃えるごみで出せる？」: asks a category of one thing, 〇〇
_THING_IS_CATEGORY = re.compile(
    r"(?:^|[、。])(?P<thing>[^、。]{1,12}?)(?:は|って|も)、?[^、。]{0,8}?(?:ごみ|ゴミ|資源)(?:に|で|として)?"
    r"(?:なり|なる|出せ|出し|です|でしょう|でいい|ですか)"
)
GENERIC_THINGS = ("ごみ", "ゴミ", "もの", "物", "量", "何", "なに", "どれ", "この", "その",
                  "あの",  # a time is no thing: 「祝日って燃えるごみ出せる？」
                  "日", "朝", "晩", "夜", "時", "休み", "年末", "年始", "盆", "正月", "週", "月")


def thing_asked_of_a_category(normalised: str) -> str:
    """「人は大型ごみになりますか」 (布団, misheard): the one thing whose category the caller asks (人),
    so the category said is the question, not the thing; "" when no thing is named (「大量のごみは」「これは」)."""
    m = _THING_IS_CATEGORY.search(normalised)
    return m["thing"] if m is not None and not any(w in m["thing"] for w in GENERIC_THINGS) else ""


def asks_how_to_dispose(normalised: str) -> bool:
    """「〇〇を処分したいんですけど」「〇〇は何ごみ」「ごみの分け方を」: a question about getting rid of
    (or sorting) some thing; which thing is the next question."""
    return any(w in normalised for w in DISPOSAL_WORDS + SORTING_WORDS)


def asks_to_get_rid_of(normalised: str) -> bool:
    """何ごみ, 捨てたい, 捨てられますか, どうやって捨てる: with a thing named, a question about that thing,
    never a report of it or a request for it (``routing``)."""
    return any(w in normalised for w in DISPOSAL_WORDS) or asks_if_disposable(normalised)


def asks_if_disposable(normalised: str) -> bool:
    """「冷蔵庫って捨てられますか」「カレンダーってどうやって捨てるの」: whether or how the caller may get
    rid of a thing (the potential form, or how, asked), never a report of one dumped (捨てられてる,
    捨ててある), whose forms go on with て or た."""
    return _CAN_DISPOSE.search(normalised) is not None or _HOW_TO_DISPOSE.search(normalised) is not None


# 捨てられますか, すてれる？, 出せますか, 処分できますか, ほかせる: a disposal verb's potential form ending the
# clause; 「冷蔵庫って捨てられますか」 had been the dumping report (its examples name 冷蔵庫) and was transferred
_CAN_DISPOSE = re.compile(r"(?:捨て|すて|出|だ|処分|ほか)(?:られ|れ|せ|でき)(?:ます|る|ない|ません)"
                          r"(?:か|かね|の|ん(?:です|でしょう)か|でしょうか)?(?:$|[、。？?])")


# やって alone: ASR writes 「どうやって」 into the word before it (ベビーカーどうやって → デビーから窓、やって)
_HOW_TO_DISPOSE = re.compile(r"(?:どうやって|やって|どないして|どない|どう|どこに|どこへ|どこで|どのように)(?:して)?"
                             r"(?:捨て|すて|処分|ほか|出)")


def goes_out_as_a_category(normalised: str) -> bool:
    """「資源ごみで出せますか」「燃えるごみとして出していいですか」: whether some thing may go out as a
    category, so the thing is what the question is about; when none is heard (「チラシって」 heard
    「知らせて」), which thing is the next question, not the category's rules or "not understood".
    A day asked (「燃えるごみに出せるのは何曜日」) is the category's own question."""
    return _AS_A_CATEGORY.search(normalised) is not None and _WHEN.search(normalised) is None


_AS_A_CATEGORY = re.compile(r"(?:ごみ|ゴミ|資源|プラ)(?:で|として|に)、?(?:出|だ|捨て|すて|ほか)"
                            r"(?:せ|し|さ|られ|れ|て|ても)")
_WHEN = re.compile(r"いつ|何曜|なんよう|曜日|何日|何時")


def names_a_kind_of_things(normalised: str) -> bool:
    """「家電のことなんですけど」: a kind of things brought up as the call's subject; which one is the
    next question, as for a disposal question whose thing was not heard."""
    return _KIND_OF_THINGS.match(normalised) is not None


# A kind of things, not one item, opening the call as its subject: 「家電のことなんですけど」 had been
# "not understood, say it again" (a clear sentence), where staff would ask which appliance.
_KIND_OF_THINGS = re.compile(r"^(?:家電|家具|電化製品|電気製品|家電製品)(?:のこと|について|の件|なんです)")


def asks_after_missing(normalised: str) -> bool:
    """「今日出し忘れたんやけど次いつ」: the caller missed a day's collection and asks when the next
    one is: a next-collection question about that day's categories, not what that day collects."""
    return missed_putting_out(normalised) or (any(w in normalised for w in MISSED_WORDS)
                                              and _NEXT_WHEN.search(normalised) is not None)


def missed_putting_out(normalised: str) -> bool:
    """「ごみ出すの忘れたんやけど」: a missed collection said, the next one not asked (but wanted)."""
    return any(w in normalised for w in MISSED_PUTTING_OUT)


MISSED_PUTTING_OUT = ("出し忘れ", "だし忘れ", "出しわすれ", "出しそびれ", "出しそこね", "出し損ね", "出しそこな",
                      "出すの忘れ", "出すのを忘れ", "出すん忘れ")
# 忘れた alone may be of anything (今日何の日か忘れた): with 次いつ, of putting out
MISSED_WORDS = MISSED_PUTTING_OUT + ("間に合わ", "忘れてしも", "忘れてもう", "忘れちゃ", "忘れて")
_NEXT_WHEN = re.compile(r"(?:次|つぎ|今度|こんど)(?:は|って|の(?:収集|回収)?(?:は|って)?)?(?:いつ|何曜|なんよう|何日)")


def names_a_part(normalised: str) -> bool:
    """「骨が金属なんですけど」「取っ手が木なんやけど」: what a part of the thing just talked about is made of. 骨
    alone is 鶏の骨's alias: said of the umbrella just answered, it is no new thing (it had been answered)."""
    return _PART_OF_IT.match(normalised) is not None


_PART_OF_IT = re.compile(r"^(?:その|それの|これの)?(?:骨|柄|持ち手|取っ手|本体|ふた|蓋|枠|脚|足|外側|中身?)"
                         r"(?:が|は|って|も)[、\s]*(?:金属|鉄|プラスチック|プラ|木|ガラス|布|アルミ|ステンレス|陶器|ゴム)")


HOLIDAY_TOPIC = "holiday_collection"
# お盆 is the Obon holidays or a tray (an item): a time word after it, or a question about
# collection without asking what kind of garbage it is, makes it the holidays
OBON = r"(?:お盆|おぼん|オボン)"
OBON_PERIOD = re.compile(OBON + r"(?:の間|のあいだ|の期間|期間|休み|やすみ|中|の時|のとき|の頃|のころ|明け|あけ|の週"
                         r"|の連休|の時期|時期|の日|前|の前)")
OBON_COLLECTION_WORDS = ("収集", "回収", "しゅうしゅう", "かいしゅう", "ごみの日", "来る", "来ます", "来て",
                         "来は", "くる", "やって", "休み", "やすみ")
OBON_ITEM_WORDS = WHICH_CATEGORY_WORDS + ("捨て", "すて", "ほか", "処分", "分別", "出し方", "割れ", "木の",
                                          "プラスチックの")


def asks_about_obon(text: str) -> bool:
    """「お盆の間も収集ある？」「お盆も来てくれる？」 ask about the Obon holidays;
    「お盆は何ごみ」「木のお盆を捨てたい」 about a tray."""
    if not re.search(OBON, text) or any(w in text for w in OBON_ITEM_WORDS):
        return False
    return bool(OBON_PERIOD.search(text)) or any(w in text for w in OBON_COLLECTION_WORDS)
