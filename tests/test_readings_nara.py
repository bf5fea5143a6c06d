"""What the TTS front end says for Nara's 町名 and garbage terms, with faq_data/nara/readings.csv.

The target is the reading stored in areas.csv, except where that stored reading was found to
be wrong (KB_ERRATA, each with its source): those are reported for staff to correct in
areas.csv, and the bot says the right one meanwhile.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyopenjtalk
import pytest
from pyopenjtalk.openjtalk import OpenJTalk

from ivr.language import readings, user_dictionary

NARA_DATA = Path(__file__).resolve().parent.parent / "faq_data" / "nara"

SPOKEN_KATAKANA = re.compile(r"[ァ-ヴー]+")  # what the TTS can say: no ヶ, no letters, no symbols

# Town → what residents say, where areas.csv stores something else (mostly an import artefact:
# the importer read the part before 町 alone and added チョー).
KB_ERRATA = {
    "高畑町": "タカバタケチョー",  # Wikipedia 高畑町; 角川日本地名大辞典
    "神功": "ジングー",  # narakanko-enjoy.com 神功
    "元興寺町": "ガンゴージチョー",  # Wikipedia 元興寺町
    "北御門町": "キタミカドチョー",  # narakanko-enjoy.com; 日本歴史地名大系
    "十輪院町": "ジューリンインチョー",  # 日本歴史地名大系; narakanko-enjoy.com
    "十輪院畑町": "ジューリンインハタチョー",  # 日本歴史地名大系
    "高天町": "タカマチョー",  # narakanko-enjoy.com; 日本歴史地名大系
    "神殿町": "コドノチョー",  # 角川日本地名大辞典 神殿
    "杏町": "カラモモチョー",  # narakanko-enjoy.com
    "山陵町": "ミササギチョー",  # 角川日本地名大辞典 (via 山陵町 articles)
    "西九条町": "サイクジョーチョー",  # 角川日本地名大辞典 西九条
    "中町": "ナカマチ",  # narakanko-enjoy.com: なかまち
    "南中町": "ミナミナカマチ",  # narakanko-enjoy.com
    "寺町": "テラマチ",  # narakanko-enjoy.com
    "杉ヶ町": "スルガマチ",  # 東京奈良県人会 難読地名
    "不審ヶ辻子町": "フシガズシチョー",  # ふしがづしちょう (町名表示板 blog)
    "二名": "ニミョー",  # 角川日本地名大辞典; narakanko-enjoy.com
    "中登美ヶ丘": "ナカトミガオカ",  # like 北・南・東・西登美ヶ丘; stored チュウトミガオカ
    "千丘ヶ丘": "チヨガオカ",  # inferred: a typo for 千代ヶ丘 (next to 西千代ヶ丘, same district)
    "奈良阪町": "ナラサカチョー",  # areas.csv folds the qualifier into the town (unclosed bracket)
    # import artefacts, to confirm with the city:
    "南紀寺町": "ミナミキデラチョー",  # like 東紀寺町・西紀寺町; stored ナンキデラ
    "大渕町": "オーブチチョー",  # 大渕 おおぶち (大渕池); stored オーフチ
    "油坂町": "アブラサカチョー",  # like 油坂地方町; stored アブラザカ
}


# How replies put a town (answers.py, prompts.py): the words after it can change its reading.
REPLY_CONTEXTS = ("{}の燃やせるごみ", "{}は、", "{}1丁目の", "{}の、何丁目ですか。")


def area_towns() -> dict[str, str]:
    """Town (as spoken: the part before an unclosed bracket) → reading stored in areas.csv."""
    with (NARA_DATA / "areas.csv").open(encoding="utf-8") as f:
        return {re.split(r"[（(]", row["town"])[0]: row["reading"] for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def nara_dictionary(tmp_path_factory) -> str:
    """The Nara dictionary installed in pyopenjtalk, as the bot installs it."""
    return user_dictionary.install(NARA_DATA, tmp_path_factory.mktemp("cache"))


def expected(town: str, stored: str) -> str:
    return KB_ERRATA.get(town, stored.replace("ヶ", "ガ"))  # ヶ is written, ガ is said


def test_every_nara_town_is_read_as_the_knowledge_base_says(nara_dictionary):
    assert nara_dictionary
    wrong = []
    for town, stored in sorted(area_towns().items()):
        said = pyopenjtalk.g2p(town, kana=True)
        in_replies = [pyopenjtalk.g2p(c.format(town), kana=True) for c in REPLY_CONTEXTS]
        if not SPOKEN_KATAKANA.fullmatch(said) or said != expected(town, stored):
            wrong.append(f"{town}: TTS {said}, knowledge base {stored}")
        wrong += [f"{town}: in a reply {r}" for r in in_replies if not r.startswith(said)]
    assert not wrong, f"{len(wrong)} town(s) read differently (fix faq_data/nara/readings.csv):\n" + "\n".join(wrong)


def test_errata_differ_from_the_dictionary_defaults_for_a_reason():
    towns = area_towns()
    assert set(KB_ERRATA) <= set(towns), "an erratum names a town that is no longer in areas.csv"


def test_user_dictionary_changes_readings(nara_dictionary, tmp_path):
    dic = user_dictionary.compile_dictionary(NARA_DATA / "readings.csv", tmp_path)
    dn = pyopenjtalk.OPEN_JTALK_DICT_DIR
    plain, nara = OpenJTalk(dn_mecab=dn), OpenJTalk(dn_mecab=dn, userdic=str(dic).encode())
    for text, before, after in [
        ("阿字万字町", "アゼマメマチ", "アゼマメチョー"),  # あぜまめちょう (Wikipedia): only 町 was wrong
        ("高畑町", "タカハタマチ", "タカバタケチョー"),
        ("食用油", "ショクヨーアブラ", "ショクヨーユ"),
        ("奈良市清美公社", "ナラシキヨミコーシャ", "ナラシセービコーシャ"),
        ("やすらぎの道東側", "ヤスラギノドートーガワ", "ヤスラギノミチヒガシガワ"),
    ]:
        assert pyopenjtalk.g2p(text, kana=True, jtalk=plain) == before
        assert pyopenjtalk.g2p(text, kana=True, jtalk=nara) == after


def test_terms_left_alone_where_the_dictionary_was_right(nara_dictionary):
    for text, said in [("粗大ごみ", "ソダイゴミ"), ("大型ごみ", "オーガタゴミ"), ("乾電池", "カンデンチ"),
                       ("蛍光管", "ケーコーカン"), ("町内会", "チョーナイカイ"), ("町名", "チョーメー"),
                       ("奈良町", "ナラマチ"), ("月ヶ瀬", "ツキガセ"), ("都祁", "ツゲ")]:
        assert pyopenjtalk.g2p(text, kana=True) == said


def test_nlu_readings_use_the_dictionary(nara_dictionary, tmp_path):
    assert readings.reading("高畑町") == "タカバタケチョー"
    assert readings.reading("食用油") == "ショクヨーユ"
    assert nara_dictionary in readings._cache_file(tmp_path).name  # the disk cache follows the dictionary


def test_readings_csv_is_well_formed():
    rows = user_dictionary.load_readings(NARA_DATA / "readings.csv")
    surfaces = [r.surface for r in rows]
    assert len(surfaces) == len(set(surfaces)), "a surface is listed twice"
    assert all(SPOKEN_KATAKANA.fullmatch(r.reading) for r in rows)


def test_bad_readings_csv_names_the_line(tmp_path):
    (tmp_path / "readings.csv").write_text("surface,reading,accent,kind,note\n高畑町,たかばたけ,,place,\n",
                                           encoding="utf-8")
    with pytest.raises(ValueError, match=r"readings.csv:2: reading"):
        user_dictionary.load_readings(tmp_path / "readings.csv")


def test_no_readings_csv_installs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(user_dictionary, "_installed", None)
    calls = []
    monkeypatch.setattr(pyopenjtalk, "update_global_jtalk_with_user_dict", calls.append)
    assert user_dictionary.install(tmp_path, tmp_path) == ""
    assert calls == [] and not (tmp_path / "userdict").exists()


# Misreadings the TTS front end makes of ordinary words in replies: 方 (かた) read ホー after の/な,
# 柄 (え) read ガラ, 月の1日 (ついたち) read イチニチ. Replies are written so they are read right.
MISREAD = {"ノホー(?!ム)": "方 read ホー", "ナホー(?!ム)": "方 read ホー", "ガラガ": "柄 read ガラ",
           "ツキノイチニチ": "1日 read イチニチ"}


def test_spoken_knowledge_base_text_avoids_known_misreadings():
    """Every answer, title, item note and category text as the TTS reads it (user dictionary on)."""
    import yaml

    user_dictionary.ensure_installed()
    faq = yaml.safe_load((NARA_DATA / "faq.yaml").read_text(encoding="utf-8"))["topics"]
    texts = [t["answer"] for t in faq if t.get("answer")] + [t["title"] for t in faq]
    with (NARA_DATA / "items.csv").open(encoding="utf-8") as fh:
        texts += [row["note"] for row in csv.DictReader(fh) if row["note"]]
    for cat in yaml.safe_load((NARA_DATA / "categories.yaml").read_text(encoding="utf-8"))["categories"]:
        texts += [cat[k] for k in ("how", "when", "bag") if cat.get(k)]
    found = sorted({(why, text[:40]) for text in set(texts) for pattern, why in MISREAD.items()
                    if re.search(pattern, readings.reading(text))})
    assert found == []


def test_stored_town_and_item_readings_are_spoken_katakana():
    """A read-back is spelt from the stored reading: a ヶ in it is silent in the TTS (三松ヶ丘
    stored ミマツヶオカ was read back 「みまつおか」)."""
    wrong = []
    for name in ("areas.csv", "items.csv"):
        with (NARA_DATA / name).open(encoding="utf-8") as f:
            wrong += [f"{name}: {row['name']} {row['reading']}" for row in csv.DictReader(f)
                      if not SPOKEN_KATAKANA.fullmatch(row["reading"])]
    assert not wrong, "\n".join(wrong)


def test_every_read_back_is_said_as_its_reading(nara_dictionary):
    """「〜、ですね？」 spells a town or an item in kana; the TTS must say that kana as the reading
    (あかはだちょう was said アカワダチョー: は inside a word read as the particle)."""
    from ivr.dialogue.read_back import say_item, spell_reading
    from ivr.dialogue.state import Brain
    from ivr.language.sound_guesses import town_said as _town_said

    brain = Brain.load(NARA_DATA)
    said = [(spell_reading(r), r) for r in _town_said(brain.nlu.entities).values()]
    said += [(say_item(item), item.reading) for item in brain.kb.items if item.reading]
    wrong = [f"{spelt}: {readings.reading(spelt)}, not {r}" for spelt, r in said
             if readings.long_vowels(readings.reading(spelt)) != readings.long_vowels(r)]
    assert not wrong, "\n".join(wrong)
    assert spell_reading("レーゾーコ") == "れいぞうこ" and spell_reading("アカハダチョー") == "アカハダチョー"
    assert spell_reading(_town_said(brain.nlu.entities)["三条大路"]) == "さんじょうおうじ"  # not さんじょうううじ


def test_every_item_name_is_said_whole(nara_dictionary):
    """Answers say the item's name (「IH調理器は、燃やせないごみです」): letters the dictionary
    cannot read are silent, so IH調理器 was said チョーリキ until readings.csv spelt them out."""
    with (NARA_DATA / "items.csv").open(encoding="utf-8") as f:
        names = [row["name"] for row in csv.DictReader(f)]
    silent = [f"{name}: {said}" for name in names
              if not SPOKEN_KATAKANA.fullmatch(said := pyopenjtalk.g2p(name, kana=True))]
    assert not silent, "\n".join(silent)


# Items whose stored reading (what callers are matched on, and what a read-back spells) differs
# from what the TTS says for the name, both being right.
ITEM_READ_OTHERWISE = {
    "鶏の骨": "callers say とりのほね; the TTS's ニワトリノホネ is right too",
    "高枝切りばさみ": "たかえだきりばさみ as sold; the TTS voices it ギリ, also heard",
}


def test_every_item_reading_is_how_its_name_is_said(nara_dictionary):
    """A wrong stored reading is matched against callers and spelt in read-backs: 油とり紙 stored
    アブラトリシ was read back 「あぶらとりし、ですね？」, 食用油 as しょくようあぶら (the hotline
    says しょくようゆ)."""
    with (NARA_DATA / "items.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    wrong = [f"{row['name']}: stored {row['reading']}, said {said}" for row in rows
             if row["name"] not in ITEM_READ_OTHERWISE
             and readings.long_vowels(said := pyopenjtalk.g2p(row["name"], kana=True))
             != readings.long_vowels(row["reading"])]
    assert not wrong, "\n".join(wrong)
