"""Normalise what a caller said before matching: width, fillers, dialect, endings.

Callers say えーと and あの, speak Kansai dialect (ほかしたいねんけど) and speech recognition
adds its own noise; matching works better on a plain standard form. The original text is
always kept beside it for display and logs.
"""

from __future__ import annotations

import re
import unicodedata

# Fillers at the start of a turn, with or without a pause after them.
FILLERS = (
    "えーっと", "えーと", "えっと", "ええと", "ええっと", "えー", "あのー", "あのう", "あの", "あー", "うーんと",
    "うーん", "うんと", "んーと", "んー", "まあ", "まぁ", "なんか", "ちょっと", "すみません", "すいません", "もしもし",
    "なんていうんかな", "なんていうか", "なんて言うか", "なんちゅうか", "なんというか", "ほんで", "そんで",
    "んーっと", "あーっと", "あのさ",
)
# What callers hang on a filler: あのですね, えーとね, あのな (only before a pause: あのな|んとか).
_FILLER_TAIL = r"(?:ですね|[ねなさ](?=[、,。.!！?？\s]|$))?"
# Words that are fillers only before a pause: 「その、」 but not 「その他」.
PAUSE_FILLERS = ("その", "ええ", "はい", "あ", "え", "ねえ", "ほら", "あれ", "そうですね")
# A preamble before the question says nothing of its topic (and its こと is no 琴):
# 「ちょっとお尋ねしたいんですけど」「聞きたいことがあるんやけど」「質問なんですが」.
# Said alone it is the whole turn (「ごみのことでちょっと聞きたいんですけど」, 「さっき電話したんですけど」):
# the caller is asked to go ahead, not told the bot heard nothing (recovery.filler_reply); before the
# question itself (「…けど、冷蔵庫は」) it is cut off as ever.
_PREAMBLE = re.compile(
    r"^(?:(?:ごみ|ゴミ)の(?:こと|件)で[、\s]*)?(?:ちょっと[、\s]*)?(?:(?:もう|あと)(?:一つ|ひとつ|1つ|一個)[、\s]*)?"
    r"(?:(?:お|ご)?(?:尋ね|たずね|聞き|きき|伺い|うかがい|質問|相談)(?:したい|たい|します|しても|です)?"
    r"(?:(?:こと)?が(?:ある|あります|あって))?(?:ん|の|な)?(?:です|やねん|だ|や)?(?:けど|けれど|けども|が)?"
    r"|(?:質問|問い合わせ|相談)(?:なん|なの)?(?:です|やねん|だ|や)?(?:けど|けれど|が)"
    r"|(?:さっき|先ほど|さきほど|この前|前に)?(?:電話|でんわ)(?:した|しました|させてもらった)(?:ん|もの)?"
    r"(?:です|やねん|だ|や)?(?:けど|けれど|けども|が)"
    r"|(?<=で)|(?<=ちょっと))(?:[、,。.\s]+|$)"  # the last two: 「ごみのことで（ちょっと）」 and no more
)
_LONGEST_FIRST = sorted(FILLERS, key=len, reverse=True)  # んーっと before んー: regex takes the first that fits
_ALL = "|".join(sorted(FILLERS + PAUSE_FILLERS, key=len, reverse=True))
_FILLER_AT_START = re.compile(
    r"^(?:(?:(?:" + "|".join(_LONGEST_FIRST) + r")[ー〜~]*" + _FILLER_TAIL
    + r"|(?:" + _ALL + r")[ー〜~]*(?=[、,。.!！?？\s]))[、,。.!！?？\s]*)+"
)
# Fillers no word contains, struck wherever ASR left them without a pause: 冷蔵庫をえーと捨てたい.
_FILLER_ANYWHERE = re.compile(r"(?:えーっと|えーと|えっと|あのー+|そのー+|うーん)" + _FILLER_TAIL + r"[、,\s]*")
_FILLER_AT_END = re.compile(r"(?:^|[、,\s])(?:" + _ALL + r")[ー〜~]*[、,。.!！?？\s]*$")
_FILLER_BEFORE_PAUSE = re.compile(r"(?<=[、。\s])(?:" + _ALL + r")[ー〜~]*[、,\s]+")

# Kansai and casual forms → standard forms, applied in this order: a longer or more specific
# form stands above what it contains (やねんけど above やねん; ほかして above てんけど, so
# ほかしてんけど becomes 捨てたのですが).
DIALECT = [
    ("なあかん", "ないといけない"), ("あんねん", "あるのです"), ("あるねん", "あるのです"),
    ("どないしよ", "どうしよう"), ("てもうて", "てしまって"), ("でもうて", "でしまって"), ("てもた", "てしまった"),
    ("んどる", "んでいる"), ("んどん", "んでいる"), ("っとる", "っている"), ("してはる", "している"),
    ("ちっさい", "小さい"), ("ちっちゃい", "小さい"), ("ようけ", "たくさん"), ("ようさん", "たくさん"),
    ("ぎょうさん", "たくさん"), ("めっちゃ", "とても"), ("たらええ", "たらいい"),
    # casual Tokyo forms: どうすんの, 開けんの, 壊れちゃった, 剥がさなきゃ, どうすりゃ
    ("すんの", "するの"), ("けんの", "けるの"), ("れんの", "れるの"), ("てんの", "ているの"), ("でんの", "でいるの"),
    ("ちゃった", "てしまった"), ("じゃった", "でしまった"), ("ちゃって", "てしまって"), ("じゃって", "でしまって"),
    ("なきゃ", "なければ"), ("すりゃ", "すれば"),
    ("ほかしたいねんけど", "捨てたいのですが"), ("ほかしたいんやけど", "捨てたいのですが"),
    ("ほかしたい", "捨てたい"), ("ほかす", "捨てる"), ("ほかして", "捨てて"), ("ほかしても", "捨てても"),
    ("ほったらええ", "捨てればいい"), ("放ったらええ", "捨てればいい"), ("てんけど", "たのですが"),
    ("なんぼ", "いくら"), ("あかん", "だめ"), ("あきません", "だめです"), ("ちゃう", "違う"),
    ("ええの", "いいの"), ("ええか", "いいか"), ("ええ?", "いい?"), ("でええ", "でいい"), ("てもええ", "てもいい"),
    ("やねんけど", "ですが"), ("やねん", "です"), ("やけど", "だけど"), ("ねんけど", "のですが"),
    ("んやけど", "のですが"), ("へんの", "ないの"), ("へん", "ない"), ("やろか", "でしょうか"),
    ("やろ", "でしょう"), ("でっか", "ですか"), ("まっか", "ますか"), ("おおきに", "ありがとう"),
    ("せやから", "だから"), ("せや", "そう"), ("そや", "そう"), ("ほんま", "本当"), ("かまへん", "かまわない"),
    ("なんやけど", "なのですが"), ("なんや", "なの"), ("どないしたら", "どうしたら"), ("どない", "どう"),
    ("知りたいねん", "知りたい"), ("教えてんか", "教えて"), ("しといて", "しておいて"),
]
# Whisper's spellings of a domain word it heard right but wrote wrong, put back before matching:
# 何曜日 written 何要び or 何様日 (g2p then reads 要 as カナメ, and the day question is lost), and
# a devoiced す (すてたい → [stetai]) written 「をしてたい」 or 「押してたい」: no caller wants to keep
# doing a thing or pushing it.
ASR_RESPELLINGS = [
    (re.compile(r"(何|なん|[月火水木金土日])(?:要|様|用|陽|洋|よう)(?:び|日|ひ|備|美)"), r"\1曜日"),
    # ごみ出しの要備 (曜日): no word, unlike 必要 / 不要 + 備品, which stay as written
    (re.compile(r"(?<![必不重主需])[要用](?:備|美)"), "曜日"),
    # 何用意ですか (何曜日): 何の用意 keeps its の, so 何用意 before です / か is no word either
    (re.compile(r"(何|なん)(?:用意|ようい)(?=で|か|[?？。]|$)"), r"\1曜日"),
    (re.compile(r"(?:を|押)してたい"), "を捨てたい"),  # 押してたい: the を run into the verb (掃除機を → 正直押)
    # ごみの日 written ごみの火 or プラの市 (ひ heard as し) before は / って / を教えて: a category's
    # day. ごみの火が出て, ごみの火を消して (a fire: staff and 119) and 火事 / 市場 stay as written.
    (re.compile(r"(ごみ|プラ)の[火市](?=[はもっ、。?？]|を(?:教|おし|知)|$)"), r"\1の日"),
]
_TRAILING = re.compile(r"[、。,.!！?？\s]+$")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w")
_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")


def nfkc(text: str) -> str:
    """Width and compatibility forms: ＡＢＣ１２３ → ABC123, ｶﾅ → カナ."""
    return unicodedata.normalize("NFKC", text or "")


def has_words(text: str) -> bool:
    """Whether a transcript holds any kana, kanji, letter or digit: Whisper sometimes writes only
    「。」 or 「?」 for a turn it could not read (babble after a yes/no question at 20 dB)."""
    return _WORD.search(text) is not None


def strip_fillers(text: str) -> str:
    text = _strip_fillers(text)
    return "" if _LINE_CHECK.match(text) else text


def _strip_fillers(text: str, hold: bool = True) -> str:
    text = _FILLER_AT_START.sub("", text)
    text = _FILLER_BEFORE_PAUSE.sub("", text)
    text = _FILLER_ANYWHERE.sub("", text)
    previous = None
    while previous != text:  # 「…、そのー」: trailing fillers, one by one
        previous, text = text, _FILLER_AT_END.sub("", text).rstrip("、, ")
    text = _FILLER_AT_START.sub("", text)  # 「えー、あのですね、ちょっとお尋ねしたいんですが、えっと…」:
    text = _FILLER_AT_START.sub("", _PREAMBLE.sub("", _THANKS_THEN.sub("", text)))  # fillers, the preamble, fillers
    return _FILLER_AT_START.sub("", _HOLD.sub("", text)) if hold else text  # 「ちょっと待ってね、えーと、冷蔵庫」


# 「ありがとう、あと布団は」: thanks for the answer, then another question; read as a goodbye it had ended the call
_THANKS_THEN = re.compile(r"^(?:ありがとう(?:ございます|ございました)?|どうも(?:ありがとう)?|助かりました|わかりました|"
                          r"分かりました|了解です|なるほど)[、。!！\s]+(?=あと|それと|それから|ほな|ほんなら|じゃあ|ちなみに|もう一つ"
                          r"|もうひとつ)")


# 「ちょっと待ってください」: the caller goes to look (at the label, for the letter); as a whole turn it had been
# "not understood, say it shorter". Now a filler turn, answered 「はい、ごゆっくりどうぞ。」 (recovery.filler_reply).
_HOLD = re.compile(r"^(?:少し|少々|しばらく|ちょい)?[、\s]*(?:お待ちください|(?:待|ま)って"
                   r"(?:ください|下さい|て(?:ください)?|もらえますか|もらっていいですか|くれる|くれますか)?(?:ね|な)?)"
                   r"(?:[?？。、!！\s]+|$)")  # not the 待って of 「待ってたのに来ない」


def asks_to_hold(text: str) -> bool:
    said = _strip_fillers(nfkc(text).strip(), hold=False)
    return bool(said) and _HOLD.fullmatch(said) is not None


# 「もしもし、聞こえますか」: the caller checks the line, asking nothing. As a whole turn it had been
# out of scope (「そのご用件には、お答えできません。…代表電話におかけください」): now it is a filler turn,
# answered 「はい、聞こえております。」 and what the bot had asked (recovery.filler_reply).
_LINE_CHECK = re.compile(r"^(?:お?(?:声|こえ)(?:は|が)?[、\s]*)?(?:聞こえ|きこえ)"
                         r"(?:ます|てます|ています|てる|る|とる|てん)(?:か|かね|の|やろか)?[?？。、\s]*$")


def checks_the_line(text: str) -> bool:
    return _LINE_CHECK.match(_strip_fillers(nfkc(text).strip())) is not None


def standardise_dialect(text: str) -> str:
    for src, dst in DIALECT:
        if src in text:
            text = text.replace(src, dst)
    return text


def normalize(text: str, dialect: bool = True) -> str:
    """The matching form of a caller's words: NFKC, no fillers, standard Japanese, tidy ends.

    Long vowels stay (ー is part of ごみ words like スプレー); readings handle their spelling.
    ``dialect=False`` keeps the caller's own verbs: entity search wants 「土ほかしたい」, where
    the standard 「土捨てたい」 would glue the item to a kanji verb.
    """
    text = _SPACES.sub(" ", nfkc(text)).strip()
    text = text.replace("ゴミ", "ごみ").replace("塵", "ごみ")
    for wrong, right in ASR_RESPELLINGS:
        text = wrong.sub(right, text)
    text = strip_fillers(text)
    if dialect:
        text = standardise_dialect(text)
    text = _TRAILING.sub("", text)
    return text.strip()


def kanji_digits(text: str) -> str:
    """三日 → 3日 for date parsing; 十 forms are handled by the date parser itself."""
    return text.translate(_KANJI_DIGITS)
