"""An opening many towns share, said in place of a town (西大寺, 学園前, さいだいじ): found, and
never taken for one of its towns."""

import pytest

from ivr.language.town_openings import TownOpenings

READINGS = {
    "西大寺町": "サイダイジチョー", "西大寺北町": "サイダイジキタマチ", "西大寺南町": "サイダイジミナミマチ",
    "学園北": "ガクエンキタ", "学園南": "ガクエンミナミ", "学園朝日町": "ガクエンアサヒチョー",
    "学園朝日元町": "ガクエンアサヒモトマチ", "青山": "アオヤマ", "青垣町": "アオガキチョー",
    "東九条町": "ヒガシクジョーチョー", "東紀寺町": "ヒガシキデラチョー",
}


@pytest.fixture(scope="module")
def openings() -> TownOpenings:
    return TownOpenings(READINGS)


@pytest.mark.parametrize(("said", "opening", "first"), [
    ("西大寺です", "西大寺", "西大寺町"),
    ("西大寺の燃えるごみの日は", "西大寺", "西大寺町"),
    ("学園前の燃えるごみ", "学園", "学園北"),  # the station's name: its 学園 opens the towns
    ("学園朝日のあたりです", "学園朝日", "学園朝日町"),  # the longest opening said wins
    ("さいだいじです", "さいだいじ", "西大寺町"),  # as ASR may write it
])
def test_an_opening_said_alone_is_found_with_its_towns(openings, said, opening, first):
    found, towns = openings.said(said)
    assert found == opening and towns[0] == first and len(towns) >= 2


@pytest.mark.parametrize("said", [
    "西大寺北町です",  # a whole town
    "青山です",  # one town: no opening
    "青です",  # 青 opens 青山 and 青垣町, but one kanji opens too much
    "東です", "ひがしです",  # 東九条町, 東紀寺町: a direction, not a place
    "新西大寺です",  # inside another word
])
def test_no_opening_where_a_town_or_a_word_was_said(openings, said):
    assert openings.said(said) == ("", [])


def test_nara_西大寺_is_asked_not_answered_as_西大寺北町(brain):
    """「西大寺です」 had been heard as 西大寺北町 by its sound (79) and that town's days answered."""
    ents = brain.nlu.entities.extract("西大寺です")
    assert ents.town_opening == "西大寺" and ents.area_town == ""
    assert brain.nlu.entities.extract("西大寺東町です").area_town == "西大寺東町"
