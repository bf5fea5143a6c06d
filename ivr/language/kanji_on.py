"""On'yomi of single kanji, for reading a word ASR spelt with homophone kanji.

Whisper writes what it hears with kanji that carry the sound (体温計 as 台温計, 不法投棄 as
武法統規). g2p reads such a non-word character by character, often with a name or kun reading
(台温計 タイユタカケー), so the sound the caller made is lost. The Sino-Japanese reading of
each character gets it back. pyopenjtalk's dictionary gives no per-character on'yomi and
pykakasi is GPL, so the table (``data/kanji_on.tsv``) is derived from the Unicode Unihan
database (kJapaneseOn, JIS X 0208 kanji; Unicode License), regenerated with:

    python -m ivr.language.kanji_on Unihan_Readings.txt Unihan_OtherMappings.txt
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from functools import lru_cache
from pathlib import Path

import jaconv

from ivr.language.readings import long_vowels

# a run of kanji short enough to be one word (longer ones are names and compounds of words)
KANJI_RUN = re.compile(r"(?<![\u4e00-\u9fff])[\u4e00-\u9fff]{2,4}(?![\u4e00-\u9fff])")
TABLE = Path(__file__).with_name("data") / "kanji_on.tsv"
READINGS_PER_KANJI = 3  # Unihan lists the common on'yomi first; later ones are rare (法 ホッ)
MAX_COMBINATIONS = 64  # a four-kanji run of three readings each is 81: enough for a whole word


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            kanji, readings = line.split("\t")
            out[kanji] = tuple(readings.split())
    return out


def on_readings(kanji: str) -> tuple[str, ...]:
    """Katakana on'yomi of one kanji, commonest first; () when the table has none."""
    return _table().get(kanji, ())


def run_readings(run: str) -> list[str]:
    """Every reading of a kanji run as one on'yomi per character, long vowels as ー; [] when a
    character has none or the combinations would run past ``MAX_COMBINATIONS``."""
    per_char = [on_readings(ch) for ch in run]
    if not all(per_char):
        return []
    if math.prod(len(options) for options in per_char) > MAX_COMBINATIONS:
        return []
    return sorted({long_vowels("".join(parts)) for parts in itertools.product(*per_char)})


def build(readings_txt: Path, other_mappings_txt: Path) -> str:
    """The table's text from two Unihan files: kJapaneseOn of each JIS X 0208 kanji."""
    jis = {line.split("\t")[0] for line in other_mappings_txt.read_text(encoding="utf-8").splitlines()
           if "\tkJis0\t" in line}
    rows = ["# kanji\ton'yomi (katakana, commonest first). From Unicode Unihan kJapaneseOn, JIS X 0208 kanji.",
            "# Unicode License v3: https://www.unicode.org/license.txt"]
    for line in readings_txt.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] != "kJapaneseOn" or parts[0] not in jis:
            continue
        code, _, value = parts
        if not value:
            continue
        kana = [jaconv.hira2kata(jaconv.alphabet2kana(r.lower())) for r in value.split()[:READINGS_PER_KANJI]]
        rows.append(f"{chr(int(code[2:], 16))}\t{' '.join(kana)}")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    TABLE.write_text(build(Path(sys.argv[1]), Path(sys.argv[2])), encoding="utf-8")
