"""What the scripted callers of the call-success bench want, and what they say when asked.

Each goal is one call: the caller's opening question, and the answers they give when the bot
asks for something (the area, the 丁目, the side of a road, the category, the item, a ticket's
details, place and name). Written for this bench in the words callers use; nothing here trains or
tunes the bot. Goals alternate dev / held-out by position, so the halves share no call.
What counts as the right outcome is not written here: it is what the bot does with the same
call said as clean text (bench/call_caller.py's reference run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("item", "day", "staff", "oversize", "other")


@dataclass(frozen=True)
class Goal:
    kind: str  # item | day | staff | oversize | other
    ask: str  # the opening question
    key: tuple[str, ...] = ()  # words a read-back of the right thing contains (「れいぞうこ、ですね」 → 冷蔵庫)
    replies: dict[str, str] = field(default_factory=dict)  # slot → what the caller says when asked
    menu: str = ""  # the key for this goal when the bot offers its menu (1 分け方 2 収集日 3 大型 4 持ち込み 0 staff)


def _g(kind: str, ask: str, key: tuple[str, ...] = (), menu: str = "", **replies: str) -> Goal:
    return Goal(kind, ask, key, replies, menu)


GOALS: list[Goal] = [
    # item questions: the answer is the item's rule
    _g("item", "冷蔵庫を捨てたいんですけど", ("冷蔵庫",), "1", item="冷蔵庫です"),
    _g("item", "乾電池は何ごみですか", ("乾電池", "電池"), "1", item="乾電池です"),
    _g("item", "スプレー缶の捨て方を教えてください", ("スプレー缶",), "1", item="スプレー缶です"),
    _g("item", "ペットボトルはどうやって出せばいいですか", ("ペットボトル",), "1", item="ペットボトルです"),
    _g("item", "蛍光灯はどこに出せばいいですか", ("蛍光灯",), "1", item="蛍光灯です"),
    _g("item", "フライパンは燃えないごみですか", ("フライパン",), "1", item="フライパンです"),
    _g("item", "えーと、古い自転車をほかしたいんやけど", ("自転車",), "1", item="自転車です"),
    _g("item", "段ボールは何ごみになりますか", ("段ボール",), "1", item="段ボールです"),
    _g("item", "包丁の捨て方を教えてください", ("包丁",), "1", item="包丁です"),
    _g("item", "あの、テレビはどうしたらええの", ("テレビ",), "1", item="テレビです"),
    _g("item", "エアコンを処分したいんですけど", ("エアコン",), "1", item="エアコンです"),
    _g("item", "使い捨てカイロは何ごみですか", ("カイロ",), "1", item="カイロです"),
    _g("item", "傘は何ごみで出せばいいですか", ("傘",), "1", item="傘です"),
    _g("item", "割れたお皿はどうやって捨てればいいですか", ("皿", "陶器"), "1", item="お皿です"),
    _g("item", "天ぷら油の捨て方を教えてください", ("油",), "1", item="天ぷら油です"),
    _g("item", "ライターは何ごみですか", ("ライター",), "1", item="ライターです"),
    _g("item", "体温計は何ごみで出したらいいですか", ("体温計",), "1", item="体温計です"),
    _g("item", "古い本は資源ごみで出せますか", ("本",), "1", item="本です"),
    # collection days: the bot must ask the area (and 丁目 or the side of a road for split areas)
    _g("day", "燃えるごみの収集日はいつですか", ("燃やせるごみ",), "2", area="青野町です", category="燃えるごみです"),
    _g("day", "プラスチックの日は何曜日ですか", ("プラスチック",), "2", area="大宮町です", chome="五丁目です",
       category="プラスチックです"),
    _g("day", "燃えないごみの日を教えてください", ("燃やせないごみ",), "2", area="赤膚町です",
       category="燃えないごみです"),
    _g("day", "大宮町一丁目の燃えるごみの日を教えてください", ("燃やせるごみ",), "2", area="大宮町一丁目です",
       chome="一丁目です", side="大宮通りの北側です", category="燃えるごみです"),
    _g("day", "ごみの収集日を知りたいんですが", (), "2", area="青垣町です", chome="二丁目です",
       category="燃えるごみです"),
    _g("day", "西大寺北町の燃えるごみは何曜日ですか", ("燃やせるごみ",), "2", area="西大寺北町です",
       chome="三丁目です", category="燃えるごみです"),
    _g("day", "缶とびんの日はいつですか", ("再生資源", "缶", "びん"), "2", area="青山です", chome="四丁目です",
       category="缶とびんです"),
    _g("day", "油坂町の燃えるごみの日はいつですか", ("燃やせるごみ",), "2", area="油坂町です",
       side="大宮通りの南側です", category="燃えるごみです"),
    _g("day", "あの、古紙の回収日はいつですか", ("古紙", "再生資源", "新聞", "雑誌"), "2", area="赤膚町です",
       category="古紙です"),
    _g("day", "燃やせるごみは何曜日に出せばいいですか", ("燃やせるごみ",), "2", area="鶴舞西町です",
       category="燃えるごみです"),
    # staff cases: a callback ticket after hours (details, place, number read-back, name)
    _g("staff", "職員の人と話したいです", (), "0", details="ごみ置き場のことで相談があります",
       place="青野町の公民館の前です", name="山田です"),
    _g("staff", "ごみが収集されていないんですが", ("収集",), "0", details="燃えるごみが今朝持って行かれていません",
       place="大宮町三丁目の角のごみ置き場です", name="田中です"),
    _g("staff", "不法投棄を見つけたんですけど", ("不法投棄",), "0", details="道の横に冷蔵庫が捨てられています",
       place="赤膚町の池の近くです", name="佐藤です"),
    _g("staff", "ごみの出し方について苦情を言いたいんですが", ("苦情",), "0",
       details="近所の人が収集日を守らずにごみを出しています", place="青山二丁目です", name="鈴木です"),
    _g("staff", "担当の方につないでください", (), "0", details="引っ越しのごみについて聞きたいです",
       place="西大寺北町です", name="高橋です"),
    _g("staff", "ごみ置き場がカラスに荒らされて困っています", ("カラス",), "0",
       details="カラスがごみを散らかしています", place="鶴舞西町の集積所です", name="伊藤です"),
    # 大型ごみ: the booking is taken by staff (a ticket after hours)
    _g("oversize", "粗大ごみの申し込みをしたいです", ("大型ごみ",), "3", details="タンスを一つ出したいです",
       place="青野町です", name="中村です"),
    _g("oversize", "大型ごみを出したいんですけど", ("大型ごみ",), "3", details="ソファを出したいです",
       place="赤膚町です", name="小林です"),
    _g("oversize", "布団は大型ごみになりますか", ("布団",), "3", item="布団です"),
    _g("oversize", "あの、タンスを捨てたいんですが", ("タンス",), "3", item="タンスです"),
    _g("oversize", "大型ごみの手数料はいくらですか", ("大型ごみ",), "3", details="机を出したいです",
       place="青山です", name="加藤です"),
    _g("oversize", "ソファを処分したいんですけど", ("ソファ",), "3", item="ソファです"),
    # other topics a caller asks
    _g("other", "クリーンセンターにごみを持って行きたいんですが", ("持ち込み",), "4"),
    _g("other", "自分でごみを持ち込むことはできますか", ("持ち込み",), "4"),
    _g("other", "ごみの分け方のパンフレットがほしいんですけど", (), "1"),
    _g("other", "引っ越しで大量のごみが出るんですが", ("引っ越し",), "0", details="引っ越しのごみがたくさんあります",
       place="大宮町二丁目です", name="吉田です"),
    _g("other", "お店のごみはどうしたらいいですか", ("事業",), ""),
    _g("other", "パソコンを捨てたいんですけど", ("パソコン",), "1", item="パソコンです"),
]

# A second development set, written in session 15 (2026-12-04) in fresh words, items and towns, because
# the held-out calls scored far below the dev calls (0.70 against 0.96 clean): the dev set had been
# tuned on for many sessions. Always dev (errors readable); never mixed into the held-out half.
DEV2_GOALS: list[Goal] = [
    _g("item", "電子レンジって何ごみになるんですか", ("電子レンジ",), "1", item="電子レンジです"),
    _g("item", "あのー、掃除機を捨てたいんですけど", ("掃除機",), "1", item="掃除機です"),
    _g("item", "消火器はどうやって処分したらいいですか", ("消火器",), "1", item="消火器です"),
    _g("item", "古いタイヤは引き取ってもらえますか", ("タイヤ",), "1", item="タイヤです"),
    _g("item", "カセットボンベの出し方を教えてください", ("カセットボンベ",), "1", item="カセットボンベです"),
    _g("item", "電球は燃えないごみでいいですか", ("電球",), "1", item="電球です"),
    _g("item", "穴のあいた鍋はどうしたらいいですか", ("鍋",), "1", item="鍋です"),
    _g("item", "えっと、ぬいぐるみは何ごみですか", ("ぬいぐるみ",), "1", item="ぬいぐるみです"),
    _g("item", "卵のパックはプラスチックですか", ("卵",), "1", item="卵のパックです"),
    _g("item", "ペンキの残りってどう捨てたらええの", ("ペンキ",), "1", item="ペンキです"),
    _g("item", "使わなくなった携帯電話を捨てたいです", ("携帯電話",), "1", item="携帯電話です"),
    _g("item", "洗濯機を処分したいんやけど", ("洗濯機",), "1", item="洗濯機です"),
    _g("day", "びんの収集日を教えてください", ("びん", "再生資源"), "2", area="紀寺町です", category="びんです"),
    _g("day", "うちの地域の燃えるごみの日はいつですか", ("燃やせるごみ",), "2", area="五条町です",
       category="燃えるごみです"),
    _g("day", "あの、プラごみは何曜日に出したらいいですか", ("プラスチック",), "2", area="秋篠町です",
       category="プラスチックです"),
    _g("day", "池田町の燃えないごみの日はいつですか", ("燃やせないごみ",), "2", area="池田町です",
       category="燃えないごみです"),
    _g("day", "ごみの日が分からないんですけど", (), "2", area="学園北です", chome="一丁目です",
       category="燃えるごみです"),
    _g("day", "次の燃えるごみの日はいつですか", ("燃やせるごみ",), "2", area="三条町です",
       category="燃えるごみです"),
    _g("staff", "すみません、職員さんにかわってもらえますか", (), "0", details="収集のことで聞きたいことがあります",
       place="紀寺町です", name="木村です"),
    _g("staff", "ごみの回収に来てもらえなかったんですが", ("収集",), "0", details="昨日の燃えないごみが残っています",
       place="五条町の集積所です", name="林です"),
    _g("oversize", "ベッドを捨てたいんですけど", ("ベッド",), "3", item="ベッドです"),
    _g("oversize", "粗大ごみの出し方を教えてください", ("大型ごみ",), "3", details="自転車を出したいです",
       place="高畑町です", name="清水です"),
    _g("other", "ごみを直接持って行ってもいいですか", ("持ち込み",), "4"),
    _g("other", "会社のごみは出せますか", ("事業",), ""),
]
DEV2_BASE = 1000  # dev2 goals' indices start here, so their voices, noise and seeds differ from dev's

# A third, written after dev2's fixes were in (2026-12-05): split towns (丁目, a road's side), more
# dialect and fillers, other categories. Always dev.
DEV3_GOALS: list[Goal] = [
    _g("item", "保冷剤って燃えるごみでいいんですか", ("保冷剤",), "1", item="保冷剤です"),
    _g("item", "カミソリの刃はどうやって捨てるんですか", ("カミソリ",), "1", item="カミソリです"),
    _g("item", "一升びんはどこに出したらええの", ("一升びん", "びん"), "1", item="一升びんです"),
    _g("item", "ボタン電池を捨てたいんですが", ("ボタン電池",), "1", item="ボタン電池です"),
    _g("item", "使い終わった灯油はどうしたらいいですか", ("灯油",), "1", item="灯油です"),
    _g("item", "古新聞の出し方を教えてもらえますか", ("新聞",), "1", item="新聞です"),
    _g("item", "あのー、靴は何ごみになりますか", ("靴",), "1", item="靴です"),
    _g("item", "植木鉢を処分したいんやけど", ("植木鉢",), "1", item="植木鉢です"),
    _g("item", "ハンガーは何ごみですか", ("ハンガー",), "1", item="ハンガーです"),
    _g("item", "空き缶の捨て方を教えてください", ("缶",), "1", item="空き缶です"),
    _g("item", "えっと、乾燥剤は燃えるごみですか", ("乾燥剤",), "1", item="乾燥剤です"),
    _g("item", "古いゴルフクラブを捨てたいんです", ("ゴルフクラブ",), "1", item="ゴルフクラブです"),
    _g("day", "朱雀三丁目の燃えるごみの日を教えてください", ("燃やせるごみ",), "2", area="朱雀三丁目です",
       chome="三丁目です", category="燃えるごみです"),
    _g("day", "資源ごみの日はいつですか", ("再生資源",), "2", area="西九条町です", chome="二丁目です",
       category="資源ごみです"),
    _g("day", "燃えないごみっていつ出せばいいですか", ("燃やせないごみ",), "2", area="菅原町です",
       side="阪奈道路の北側です", category="燃えないごみです"),
    _g("day", "えっと、プラの日は何曜日やったかな", ("プラスチック",), "2", area="登美ヶ丘です",
       chome="五丁目です", category="プラスチックです"),
    _g("day", "明日は何のごみの日ですか", (), "2", area="柏木町です", category="燃えるごみです"),
    _g("day", "古紙はいつ回収してくれますか", ("古紙", "再生資源", "新聞", "雑誌"), "2", area="大安寺です",
       chome="三丁目です", category="古紙です"),
    _g("staff", "ごみ収集車の騒音について苦情があるんですが", ("苦情",), "0", details="朝早くから音がうるさいです",
       place="朱雀二丁目です", name="松本です"),
    _g("staff", "道にごみが捨てられているんです", ("不法投棄",), "0", details="空き地にタイヤが捨てられています",
       place="柏木町の空き地です", name="井上です"),
    _g("oversize", "マットレスを出したいんですけど", ("マットレス",), "3", item="マットレスです"),
    _g("oversize", "大型ごみの予約をお願いしたいんですが", ("大型ごみ",), "3", details="本棚を出したいです",
       place="朱雀です", name="森です"),
    _g("other", "自分の車でごみを運んでもいいですか", ("持ち込み",), "4"),
    _g("other", "引っ越しのごみはどうすればいいですか", ("引っ越し",), "0", details="家具がたくさんあります",
       place="西九条町です", name="池田です"),
]
DEV3_BASE = 2000

# A fourth, written 2026-12-05 after dev3's fixes: fresh items, towns split by a river or a road,
# polite and Kansai phrasings, a leaflet (集団資源回収) and 大型ごみ items said plainly. Always dev.
DEV4_GOALS: list[Goal] = [
    _g("item", "加湿器が壊れたんですけど、何ごみですか", ("加湿器",), "1", item="加湿器です"),
    _g("item", "スピーカーを捨てたいんですが", ("スピーカー",), "1", item="スピーカーです"),
    _g("item", "まな板はどないして捨てたらええの", ("まな板",), "1", item="まな板です"),
    _g("item", "庭の落ち葉はどうやって出せばいいですか", ("落ち葉",), "1", item="落ち葉です"),
    _g("item", "古いベルトを捨てたいんやけど", ("ベルト",), "1", item="ベルトです"),
    _g("item", "えーと、金づちは何ごみでしょうか", ("金づち",), "1", item="金づちです"),
    _g("item", "テレビのリモコンはどうしたらいいですか", ("リモコン",), "1", item="リモコンです"),
    _g("item", "チラシって資源ごみで出せますか", ("チラシ",), "1", item="チラシです"),
    _g("item", "電動ドリルを処分したいんですけど", ("電動ドリル",), "1", item="電動ドリルです"),
    _g("item", "浄水器のカートリッジは何ごみですか", ("浄水器",), "1", item="浄水器です"),
    _g("item", "あの、スノーボードって捨てられますか", ("スノーボード",), "1", item="スノーボードです"),
    _g("item", "衣装ケースを捨てたいんですけど", ("衣装ケース",), "1", item="衣装ケースです"),
    _g("day", "鶴舞東町の燃えるごみは何曜日ですか", ("燃やせるごみ",), "2", area="鶴舞東町です",
       category="燃えるごみです"),
    _g("day", "プラスチックごみの日を教えてもらえますか", ("プラスチック",), "2", area="三条大路です",
       chome="二丁目です", category="プラスチックです"),
    _g("day", "燃えないごみはいつ出したらええんですか", ("燃やせないごみ",), "2", area="鹿野園町です",
       side="岩井川の北側です", category="燃えないごみです"),
    _g("day", "七条東町ですけど、燃えるごみの日はいつですか", ("燃やせるごみ",), "2", area="七条東町です",
       category="燃えるごみです"),
    _g("day", "あのー、缶とびんの日はいつですか", ("再生資源", "びん", "缶"), "2", area="坊屋敷町です",
       category="缶とびんです"),
    _g("day", "ごみ出しの曜日を確認したいんですが", (), "2", area="中登美ヶ丘です", chome="二丁目です",
       category="燃えるごみです"),
    _g("staff", "収集の人の態度が悪かったんですけど", ("苦情",), "0", details="袋を投げていました",
       place="南京終町です", name="山本です"),
    _g("staff", "ごみ袋が破られてカラスに荒らされて困ってます", (), "0", details="集積所が散らかっています",
       place="法蓮町です", name="中村です"),
    _g("oversize", "ソファを処分したいんですが", ("ソファ",), "3", item="ソファです"),
    _g("oversize", "たんすを捨てたいんやけど、どうしたらええ", ("たんす",), "3", item="たんすです"),
    _g("other", "クリーンセンターに自分で持ち込めますか", ("持ち込み",), "4"),
    _g("other", "お店のごみはどうしたらいいですか", ("事業",), ""),
]
DEV4_BASE = 3000

# A fifth, written 2026-12-05 (session 17) after dev4's fixes: kitchen and household items not yet
# asked, towns split by a river, a national road or a street, 丁目 towns, and a missed collection and
# a dead animal for staff. Always dev.
DEV5_GOALS: list[Goal] = [
    _g("item", "炊飯器が壊れたんですけど、何ごみですか", ("炊飯器",), "1", item="炊飯器です"),
    _g("item", "ドライヤーを捨てたいんですが", ("ドライヤー",), "1", item="ドライヤーです"),
    _g("item", "土鍋はどうやって捨てたらいいですか", ("土鍋",), "1", item="土鍋です"),
    _g("item", "あの、湯たんぽって何ごみになりますか", ("湯たんぽ",), "1", item="湯たんぽです"),
    _g("item", "庭のホースを捨てたいんやけど", ("ホース",), "1", item="ホースです"),
    _g("item", "紙おむつはどうやって出したらいいですか", ("紙オムツ", "紙おむつ"), "1", item="紙おむつです"),
    _g("item", "えっと、花火の燃えかすは何ごみですか", ("花火",), "1", item="花火です"),
    _g("item", "延長コードって燃えないごみですか", ("延長コード",), "1", item="延長コードです"),
    _g("item", "古い石油ストーブを処分したいんですけど", ("石油ストーブ",), "1", item="石油ストーブです"),
    _g("item", "ポリタンクは何ごみで出せばええの", ("ポリタンク",), "1", item="ポリタンクです"),
    _g("item", "ゲーム機を捨てたいんですが、どうしたらいいですか", ("ゲーム機",), "1", item="ゲーム機です"),
    _g("item", "庭の土を捨てたいんですけど", ("土",), "1", item="土です"),
    _g("day", "尼辻町の燃えるごみの日を教えてください", ("燃やせるごみ",), "2", area="尼辻町です",
       side="国道24号線の西側です", category="燃えるごみです"),
    _g("day", "あのー、ペットボトルの日はいつですか", ("再生資源", "ペットボトル"), "2", area="今市町です",
       category="ペットボトルです"),
    _g("day", "燃やせないごみの日は何曜日ですか", ("燃やせないごみ",), "2", area="石木町です",
       side="富小川の西側です", category="燃えないごみです"),
    _g("day", "学園中に住んでるんですけど、プラの日はいつですか", ("プラスチック",), "2", area="学園中です",
       chome="三丁目です", category="プラスチックです"),
    _g("day", "ごみの収集日を教えてほしいんですが", (), "2", area="法華寺町です", category="燃えるごみです"),
    _g("day", "阿字万字町の燃えるごみは何曜日ですか", ("燃やせるごみ",), "2", area="阿字万字町です",
       side="ならまち大通りの北側です", category="燃えるごみです"),
    _g("staff", "今日ごみを持って行ってもらえなかったんですけど", ("収集",), "0",
       details="プラスチックのごみが残っています", place="今市町の集積所です", name="岡田です"),
    _g("staff", "道路で猫が死んでるんです", ("死",), "0", details="車にひかれた猫がいます",
       place="法華寺町の交差点です", name="藤田です"),
    _g("oversize", "物干し竿を捨てたいんですけど", ("物干し",), "3", item="物干し竿です"),
    _g("oversize", "ベビーカーはどうやって処分すればいいですか", ("ベビーカー",), "3", item="ベビーカーです"),
    _g("other", "年末は何日までごみを出せますか", ("年末",), ""),
    _g("other", "事務所のごみの出し方を教えてください", ("事業",), ""),
]
DEV5_BASE = 4000

SPLITS = ("dev", "heldout")


def goals(split: str) -> list[tuple[int, Goal]]:
    """The goals of ``split`` (dev, heldout, dev2–dev5 or all) with their index (dev: even; dev2–dev5:
    from 1000, 2000, 3000, 4000)."""
    if split == "dev2":
        return [(DEV2_BASE + i, g) for i, g in enumerate(DEV2_GOALS)]
    if split == "dev3":
        return [(DEV3_BASE + i, g) for i, g in enumerate(DEV3_GOALS)]
    if split == "dev4":
        return [(DEV4_BASE + i, g) for i, g in enumerate(DEV4_GOALS)]
    if split == "dev5":
        return [(DEV5_BASE + i, g) for i, g in enumerate(DEV5_GOALS)]
    return [(i, g) for i, g in enumerate(GOALS) if split in ("all", SPLITS[i % 2])]
