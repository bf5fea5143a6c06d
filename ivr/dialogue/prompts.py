"""Fixed prompts, written for the ear. ``ivr voices build`` pre-renders every one of them.

Kept together so staff can review the bot's whole voice in one place.
"""

from __future__ import annotations

from escalation.privacy import national_digits

GREETING = (
    "お電話ありがとうございます。{city}の、ごみの自動案内です。"
    "こちらは、自動音声のアシスタントがお答えしています。"
    "ごみの分け方や収集日について、ご用件をお話しください。"
)
MENU = (
    "ボタンでもお選びいただけます。分け方は1、収集日は2、大型ごみは3、持ち込みは4、"
    "職員とお話しになりたいときは0を押してください。"
)
ANYTHING_ELSE = "ほかに、ご質問はありますか。"
GO_AHEAD = "どうぞ、ご用件をお話しください。"
NOT_UNDERSTOOD = "申し訳ありません。うまく聞き取れませんでした。もう一度、短くお話しください。"
OFFER_STAFF = "うまくお答えできず、申し訳ありません。職員におつなぎしましょうか。"
ASK_AGAIN = "失礼しました。もう一度、ご用件をお話しください。"
CONFIRM_TOPIC = "{title}についてのご質問でよろしいですか。"
# The guess was "put me through to staff": 「職員と話したいについてのご質問」 is no Japanese.
CONFIRM_STAFF = "職員におつなぎしましょうか。"
# The keys too: a はい the line keeps unreadable (「。」) would otherwise be asked for again and again.
YES_OR_NO = "はい、か、いいえ、でお答えください。ボタンなら、はいは1、いいえは2です。"
UNCLEAR_YES_NO = "申し訳ありません。うまく聞き取れませんでした。" + YES_OR_NO
UNCLEAR_TICKET = "申し訳ありません。うまく聞き取れませんでした。もう一度お願いします。"

ASK_AREA = "お住まいの町名を教えてください。たとえば、{example}、のようにお話しください。"
ASK_WHOLE_TOWN = "{opening}で始まる町名は、{examples}など、いくつかあります。町名を、最後までお話しください。"
ASK_ITEM = "捨てたいものの名前を、ひとつ教えてください。"
ASK_CATEGORY = "どのごみの収集日ですか。たとえば、燃やせるごみ、のようにお話しください。"
ASK_CHOME = "{town}の、何丁目ですか。"
# Said when the 丁目 was not understood: a number is the word a noisy line mangles most (移動目 for
# 二丁目, twice in one dev call), and one key says it exactly.
CHOME_KEYS = "ボタンなら、丁目の数字を押してください。"
ASK_SIDE = "{town}は、場所によって収集日が違います。{options}のどちらですか。ボタンなら、{keys}を押してください。"
UNKNOWN_AREA_SHORT = "申し訳ありません。その町名が見つかりませんでした。"
UNKNOWN_ITEM = "申し訳ありません。その品物は、この自動案内の一覧にありませんでした。"
NOT_UNDERSTOOD_SHORT = "申し訳ありません。うまく聞き取れませんでした。"
SLOT_NOT_UNDERSTOOD = "うまくお答えできず、申し訳ありません。ここからは職員がお伺いします。"

# Recovery (recovery.py). {reading}: the item in kana, as the TTS says it plainly (れいぞうこ).
CONFIRM_ITEM = "{reading}、ですね？"
ITEM_REJECTED = "失礼しました。捨てたいものの名前を、もう一度、ひとつ教えてください。"
NOT_UNDERSTOOD_MENU = "申し訳ありません。うまく聞き取れませんでした。" + MENU
NOT_UNDERSTOOD_MENU_AGAIN = (  # the menu a second time in a row (a bad line offers it at once)
    "すみません、聞き取れませんでした。お手数ですが、ボタンでお選びください。分け方は1、収集日は2、"
    "大型ごみは3、持ち込みは4、職員とお話しになりたいときは0を押してください。"
)
NOT_UNDERSTOOD_AGAIN = "すみません、聞き取れませんでした。お手数ですが、ゆっくり、短くお話しください。"
UNCLEAR_YES_NO_KEYS = "お手数ですが、ボタンでお答えください。はいは1、いいえは2です。"
GO_AHEAD_SHORT = "ご用件を、どうぞ。"  # the go-ahead said a second time, shorter
GO_AHEAD_AGAIN = "はい。" + GO_AHEAD_SHORT
ONCE_MORE = "もう一度お伺いします。"
LINE_HEARD = "はい、聞こえております。"  # to 「もしもし、聞こえますか」, before what the bot had asked
TAKE_YOUR_TIME = "はい、ごゆっくりどうぞ。"  # to 「ちょっと待ってください」: the bot waits, asking nothing new
STILL_LISTENING = "はい。"  # before the question asked again after a turn of only えーと
ASK_AREA_AGAIN = (
    "申し訳ありません。その町名が見つかりませんでした。町名の、はじめの何文字かだけでも結構です。"
    "郵便番号がお分かりでしたら、7桁をボタンで押して、最後にシャープを押してください。"
)
POSTAL_CODE_UNKNOWN = "申し訳ありません。その郵便番号は、市内の町名に見つかりませんでした。"

# After an answer that says what is known (an old year's 年末年始): staff only if the caller wants.
OFFER_STAFF_AFTER_ANSWER = "くわしくは、職員におつなぎしましょうか。"
DECLINED_STAFF = "承知しました。ほかに、ご質問はありますか。"

# 年末年始 (year_end.yaml). {span}: 2026年末から2027年始; {who}: 市の収集課の地域, 青山;
# {start} {end} {day}: dates as said. The past forms are for a winter before the one asked about.
YEAR_END_HEAD = "{span}の、ごみの収集のお休みをご案内します。"
YEAR_END_CLOSED = "{who}は、{start}から{end}まで、収集がお休みです。"
YEAR_END_CLOSED_PAST = "{who}は、{start}から{end}まで、収集がお休みでした。"
YEAR_END_LAST_DAY = "年内の最後の収集は、{day}です。"
YEAR_END_FIRST_DAY = "年明けは、{day}から収集します。"
YEAR_END_RESUMES = "{day}からは、いつもの曜日どおりです。"
YEAR_END_SELF_HAUL = "{who}は、{start}から{end}まで、お休みです。"
YEAR_END_SELF_HAUL_PAST = "{who}は、{start}から{end}まで、お休みでした。"
SELF_HAUL_AT = "持ち込みの{place}"
SELF_HAUL = "持ち込み"
YEAR_END_NOT_YET = "{span}の収集の日程は、まだこの自動案内に入っていません。"
YEAR_END_KNOWN = "分かっている一番新しい日程は、{span}のもので、次のとおりでした。"
YEAR_END_MAY_DIFFER = "今回も同じとは限りません。"
YEAR_END_NONE = "年末年始の収集の日程は、この自動案内には入っていません。"

# 祝日, お盆, ゴールデンウィーク: from the collectors' holiday policies and suspensions.
# {period}: 祝日, お盆の間, ゴールデンウィーク; {who}: a collector's areas or the caller's town.
HOLIDAY_COLLECTED = "{period}も、いつもの曜日どおりに収集があります。"
HOLIDAY_COLLECTED_WHO = "{who}は、{period}も、いつもの曜日どおりに収集があります。"
HOLIDAY_SKIPPED = "{who}は、祝日は収集がお休みです。"
HOLIDAY_NEXT_DAY = "{who}は、祝日の収集は、次の日になります。"
HOLIDAY_SUSPENDED = "{who}は、{start}から{end}まで、収集がお休みです。"
HOLIDAY_NAMED_DAY = "{day}は、{holiday}です。"
HOLIDAY_YEAR_END_APART = "年末年始だけは、別の日程です。"
PERIOD_HOLIDAYS = "祝日"
PERIOD_OBON = "お盆の間"
PERIOD_GOLDEN_WEEK = "ゴールデンウィーク"

TRANSFERRING = "担当の職員におつなぎします。そのまま、お待ちください。"
AFTER_HOURS = "ただいま、職員がお電話を受けられない時間です。職員から折り返しお電話しますので、ご用件をお伺いします。"
ASK_DETAILS = "ご用件を、詳しくお話しください。場所が関係するときは、町名もお願いします。"
ASK_PLACE = "職員が確かめに伺う場所を、町名と番地か、近くの目印でお話しください。"
ASK_PHONE = "折り返しのお電話番号を、お話しいただくか、ボタンで押してください。"
CONFIRM_CALLER_NUMBER = "折り返しのお電話番号は、今おかけの、{digits}、でよろしいですか。"
ASK_PHONE_AGAIN = "お電話番号を、市外局番から、もう一度お願いします。"
# no clear はい/いいえ to the caller's own number, asked again: that number is kept and the caller told so
NUMBER_KEPT = "今おかけのお電話番号に、折り返しお電話します。"
ASK_NAME = "最後に、お名前をお願いします。お名前を伏せたいときは、シャープを押してください。"
ASK_NAME_AGAIN = "お名前を、どうぞ。伏せたいときは、シャープを押してください。"
# {digits}: the ticket number digit by digit (say_digits): callers write digits down, not 千二十四
TICKET_TAKEN = "受け付けました。受付番号は、{digits}、です。職員から、折り返しお電話します。"
TICKET_JOINED = (
    "先ほどの受付に、今回のお話を追加しました。受付番号は、{digits}、です。職員から、折り返しお電話します。"
)
TICKET_FAILED = "申し訳ありません。ただいま受付の記録ができませんでした。職員におつなぎします。"
SYSTEM_ERROR = "申し訳ありません。システムの都合で、お答えできませんでした。"

SILENCE_FIRST = "もしもし。お電話が遠いようです。ご用件をお話しください。"
SILENCE_SECOND = "お声が聞こえません。職員とお話しになりたいときは、0を押してください。"
# no input after 「ちょっと待ってください」 (TAKE_YOUR_TIME): the line is open, the caller not hurried; alternating,
# never the same words twice in a row
HOLDING = ("お待ちしております。ご用意ができましたら、お話しください。",
           "お電話は、つながったままです。ごゆっくりどうぞ。")
SILENCE_TICKET = "お声が聞こえませんので、ここまでのお話を受け付けます。"
SILENCE_END = "お声が聞こえませんので、お電話を切らせていただきます。お電話ありがとうございました。"
CALL_TOO_LONG = "お話の途中ですが、お時間が長くなりましたので、ここからは職員がお伺いします。"
NOTHING_TO_REPEAT = "まだ、ご案内したことはありません。" + GO_AHEAD
GOODBYE = "お電話ありがとうございました。失礼いたします。"


DIGIT_SEPARATOR = "、"  # a pause between digits: the TTS then reads each one (イチ、ゼロ) instead of a number


def say_digits(number: str) -> str:
    """「1024」 → 「1、0、2、4」: read one by one."""
    return DIGIT_SEPARATOR.join(ch for ch in number if ch.isdigit())


def say_phone(number: str) -> str:
    """A phone number digit by digit in the groups callers know (090の1234の5678, 0742の34の1111).

    Carriers give the caller's number in E.164 (+81742…); a caller knows it as 0742…, so the
    country code is read as the trunk prefix 0."""
    digits = national_digits(number)
    if len(digits) == 11:
        groups = [digits[:3], digits[3:7], digits[7:]]
    elif len(digits) == 10 and digits[:2] in ("03", "06"):
        groups = [digits[:2], digits[2:6], digits[6:]]
    elif len(digits) == 10:
        groups = [digits[:4], digits[4:6], digits[6:]]
    else:
        groups = [digits]
    return "の、".join(say_digits(g) for g in groups if g)


def every_prompt() -> dict[str, str]:
    """Name → text of every fixed prompt (templates included), for pre-rendering."""
    return {k: v for k, v in globals().items() if k.isupper() and isinstance(v, str) and k != "DIGIT_SEPARATOR"}


def confirm_topic(title: str, handler: str | None) -> str:
    """The read-back of a middling-confidence guess of a topic (``operator``: the transfer topic)."""
    return CONFIRM_STAFF if handler == "operator" else CONFIRM_TOPIC.format(title=title)
