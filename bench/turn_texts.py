"""What the callers of the turn-integrity bench say (bench/turn_set.py makes the audio).

Written for this bench, about garbage, in the words callers use. Every list is split by
position: even entries are the dev half, odd entries the held-out half, so the two halves never
share a sentence. Nothing here is used to train or tune the bot.
"""

from __future__ import annotations

# (a) One question said in two pieces with a pause after a clause-final form: 〜けど / 〜が / 〜ので /
# 〜から / 〜て / a topic 〇〇って or 〇〇は / a filler. The caller has not finished at the pause.
PAUSE_PAIRS: list[tuple[str, str]] = [
    ("冷蔵庫を買い替えたんですけど、", "古いのはどうしたらいいですか"),
    ("あの、引っ越しをするんですが、", "大量のごみはどうしたらいいですか"),
    ("乾電池がたくさんあるので、", "何ごみで出せばいいですか"),
    ("スプレー缶って、", "穴を開けてから出すんですか"),
    ("えーと、布団を捨てたいんですけど、", "大型ごみになりますか"),
    ("自転車が古くなったので、", "処分の仕方を教えてください"),
    ("ペットボトルは、", "キャップを外して出すんですか"),
    ("蛍光灯が切れたんですけど、", "何ごみの日に出せばいいですか"),
    ("包丁を捨てるときは、", "どうやって出したらいいですか"),
    ("青野町に住んでるんですけど、", "燃えるごみの日はいつですか"),
    ("あの、大型ごみを出したいので、", "申し込みの方法を教えてください"),
    ("テレビが壊れたから、", "市で引き取ってもらえますか"),
    ("えーと、段ボールは、", "何曜日に出したらいいですか"),
    ("使い終わったカイロって、", "燃えるごみでいいですか"),
    ("フライパンを捨てたくて、", "何ごみか知りたいんですが"),
    ("あの、年末年始は、", "ごみの収集はありますか"),
    ("電子レンジが動かなくなったので、", "どう処分したらいいですか"),
    ("割れたお皿は、", "どうやって捨てればいいですか"),
    ("大宮町五丁目なんですが、", "プラスチックの日は何曜日ですか"),
    ("エアコンを取り替えるんですけど、", "古いのは市で回収してもらえますか"),
    ("庭の草を刈ったので、", "何ごみで出せばいいですか"),
    ("えーと、傘って、", "何ごみになりますか"),
    ("缶と瓶は、", "同じ日に出してもいいですか"),
    ("クリーンセンターに持っていきたいんですけど、", "受付は何時までですか"),
    ("古い本がたくさんあるので、", "資源ごみで出せますか"),
    ("あの、ライターは、", "中身を使い切ってから出すんですか"),
    ("洗濯機を買い替えたので、", "古いのはどうしたらいいですか"),
    ("赤膚町なんですけど、", "燃えないごみの日を教えてください"),
    ("天ぷら油が残ってるんですが、", "どうやって捨てたらいいですか"),
    ("ソファを処分したいので、", "大型ごみの出し方を教えてください"),
    ("体温計が壊れたんですけど、", "何ごみで出せばいいですか"),
    ("えーと、空き缶は、", "つぶしてから出したほうがいいですか"),
    ("ストーブの灯油が残ってるんですけど、", "どうしたらいいですか"),
    ("古いパソコンがあるから、", "捨て方を教えてください"),
]

# (b) Questions that open on a short or soft mora, said by a caller who starts quietly.
SOFT_STARTS = [
    "お皿は何ごみですか",
    "あの、乾電池は何ごみですか",
    "えっと、スプレー缶の出し方を教えてください",
    "大型ごみの出し方を教えてください",
    "奥の部屋の古いタンスを捨てたいです",
    "お布団は何ごみになりますか",
    "青野町の燃えるごみの日はいつですか",
    "置き傘を捨てたいんですけど",
    "えーと、ペットボトルの日はいつですか",
    "あの、蛍光灯は何ごみですか",
    "お鍋は燃えないごみですか",
    "大きい段ボールはどうしたらいいですか",
]

# (c) Sentences whose middle is said quietly for a moment (the caller turns away from the phone).
LEVEL_DIPS = [
    "乾電池は何ごみの日に出せばいいですか",
    "冷蔵庫を捨てたいんですけどどうしたらいいですか",
    "赤膚町の燃えないごみの日を教えてください",
    "ペットボトルはどうやって出せばいいですか",
    "古い自転車を処分したいんですが",
    "スプレー缶は穴を開けて出すんですか",
    "包丁の捨て方を教えてください",
    "蛍光灯は何ごみになりますか",
    "大型ごみの申し込み方法を教えてください",
    "使い捨てカイロは何ごみですか",
    "プラスチックの日は何曜日ですか",
    "布団は大型ごみで出せますか",
]

# (d) Whole sentences from a caller who is quiet throughout (−10 dB and −20 dB, alternating).
QUIET = [
    "明日は何ごみの日ですか",
    "電池は何ごみですか",
    "燃えるごみの収集日はいつですか",
    "カセットボンベの捨て方を教えてください",
    "古い扇風機を捨てたいです",
    "段ボールはいつ出したらいいですか",
    "瓶の出し方を教えてください",
    "青野町のプラスチックの日はいつですか",
    "割れたガラスはどうやって出せばいいですか",
    "掃除機は大型ごみですか",
    "ハンガーは何ごみですか",
    "新聞紙は何曜日に出せばいいですか",
]

# (e) Short answers to 「ほかに、ご質問はありますか」, with the yes/no they mean there (after a
# confirmation, turns.py --after confirm, 結構です and 大丈夫です mean yes: turn_score reads them so).
SHORT_ANSWERS: list[tuple[str, bool]] = [
    ("はい", True),
    ("ええ", True),
    ("いいえ", False),
    ("ちがいます", False),
    ("うん", True),
    ("そうです", True),
    ("結構です", False),
    ("大丈夫です", False),
    ("お願いします", True),
    ("はい、お願いします", True),
]

# A question the bot is unsure of, so it asks 「燃やせるごみの出し方についてのご質問で
# よろしいですか」: said before a short answer scored as the reply to a confirmation (turns.py
# --after confirm) when the bot has not just asked one. Not scored.
PRELUDE = "燃やすごみのことなんですけど"
