"""Reading overrides for place names and garbage terms, as a pyopenjtalk user dictionary.

The bundled dictionary reads Nara's 町 as マチ (Nara says チョー), 高畑 as タカハタ (the town is
タカバタケ) and 食用油 as ショクヨーアブラ. Speech synthesis and the NLU's kana readings both go
through pyopenjtalk, so one dictionary fixes both: ``<data_dir>/readings.csv`` is compiled
into a MeCab user dictionary under the cache dir (named by a hash of the CSV, so it is only
rebuilt when the CSV changes) and installed into pyopenjtalk once per process, before any
g2p or synthesis. Without a readings.csv nothing is installed.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

READINGS_FILE = "readings.csv"
COLUMNS = ["surface", "reading", "accent", "kind", "note"]
DICTIONARY_FORMAT = 1  # bump when entries are compiled differently (costs and POS are hashed already)

# MeCab word costs (lower is preferred). The bundled dictionary's nouns cost ~5000-8000.
PLACE_COST = 2000  # a whole place name must win over any split of it into dictionary words
NOUN_COST = 3000  # a term must beat the split that misreads it, but not swallow longer words
SUFFIX_COST = 5000  # under the bundled 町 suffix (マチ, 7725) and 町 the noun before の (三棟町の…);
# a 町 standing alone (町の中, その町) stays マチ

# kind → the naist-jdic part of speech (the 4 POS columns) and accent-combination rule.
KINDS: dict[str, tuple[str, str]] = {
    "place": ("名詞,固有名詞,地域,一般", "C1"),
    "noun": ("名詞,一般,*,*", "C1"),
    "suffix": ("名詞,接尾,地域,*", "C3"),
}
COSTS = {"place": PLACE_COST, "noun": NOUN_COST, "suffix": SUFFIX_COST}
_SMALL_KANA = set("ァィゥェォャュョヮ")
_SPOKEN_KATAKANA = re.compile(r"[ァ-ヴー]+")  # not ヵ/ヶ (written, never read as such) nor ・


@dataclass(frozen=True)
class Reading:
    surface: str
    reading: str  # katakana as spoken, long vowels as ー (the form g2p gives)
    accent: int  # accent nucleus (mora index, 0 = flat)
    kind: str
    line: int


def morae(kana: str) -> int:
    """Mora count: small ャュョ… share a mora with the kana before them; ー, ッ, ン count."""
    return sum(1 for ch in kana if ch not in _SMALL_KANA)


def default_accent(surface: str, reading: str) -> int:
    """Accent when the CSV leaves it empty: X町 falls after X (オーミヤ＼チョー), like the
    bundled 町 suffix does; other names and terms are flat, the commonest pattern."""
    if surface.endswith("町") and reading.endswith(("チョー", "マチ")):
        return morae(reading) - 2
    return 0


def load_readings(path: Path) -> list[Reading]:
    """Rows of readings.csv; a bad row raises ValueError naming its line."""
    out: list[Reading] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        header = next(rows, [])
        if [h.strip() for h in header[:2]] != COLUMNS[:2]:
            raise ValueError(f"{path.name}:1: header must start with {','.join(COLUMNS)}")
        for line, row in enumerate(rows, start=2):
            cells = dict(zip(COLUMNS, (c.strip() for c in row), strict=False))
            surface, kana = cells.get("surface", ""), cells.get("reading", "")
            if not surface or surface.startswith("#"):
                continue
            if not _SPOKEN_KATAKANA.fullmatch(kana):
                raise ValueError(f"{path.name}:{line}: reading: must be katakana (long vowels as ー)")
            kind = cells.get("kind") or "place"
            if kind not in KINDS:
                raise ValueError(f"{path.name}:{line}: kind: one of {', '.join(KINDS)}")
            accent = cells.get("accent", "")
            if accent and not (accent.isdigit() and int(accent) <= morae(kana)):
                raise ValueError(f"{path.name}:{line}: accent: a mora number from 0 to {morae(kana)}")
            out.append(Reading(surface, kana, int(accent) if accent else default_accent(surface, kana), kind, line))
    return out


def mecab_rows(readings: list[Reading]) -> list[list[str]]:
    """naist-jdic rows; empty context ids let mecab-dict-index derive them from the POS."""
    rows = []
    for r in readings:
        pos, chain = KINDS[r.kind]
        rows.append([r.surface, "", "", str(COSTS[r.kind]), *pos.split(","), "*", "*", r.surface,
                     r.reading, r.reading, f"{r.accent}/{morae(r.reading)}", chain])
    return rows


def csv_hash(path: Path) -> str:
    """Names the compiled dictionary: the CSV, the pyopenjtalk build and how entries are made."""
    key = f"{DICTIONARY_FORMAT}\n{COSTS}\n{KINDS}\n{version('pyopenjtalk-plus')}\n".encode() + path.read_bytes()
    return hashlib.sha256(key).hexdigest()[:16]


@contextlib.contextmanager
def _quiet_c_output() -> Iterator[None]:
    """mecab-dict-index prints progress bars from C; silence fds 1 and 2 while it runs."""
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def compile_dictionary(csv_path: Path, cache_dir: Path) -> Path:
    """The compiled .dic for ``csv_path``, built only if this CSV version has none yet."""
    import pyopenjtalk

    out = Path(cache_dir) / "userdict" / f"readings-{csv_hash(csv_path)}.dic"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_suffix(f".{os.getpid()}.csv")
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    with source.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(mecab_rows(load_readings(csv_path)))
    try:
        with _quiet_c_output():
            pyopenjtalk.mecab_dict_index(str(source), str(tmp))
        tmp.replace(out)  # atomic: a concurrent process sees the whole file or none
    finally:
        source.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return out


_lock = threading.Lock()
_installed: str | None = None  # None: not decided yet; "": decided, no dictionary; else its hash
_listeners: list[Callable[[], None]] = []


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` after a different dictionary is installed (readings caches forget)."""
    _listeners.append(callback)


def install(data_dir: Path, cache_dir: Path) -> str:
    """Install ``data_dir``'s readings.csv into pyopenjtalk; returns its hash ('' if none).

    Idempotent: the same CSV installs once per process. Call it before building models when
    the knowledge base is not the configured one (``ivr sim --data``).
    """
    global _installed, installed_from
    import pyopenjtalk

    installed_from = (Path(data_dir), Path(cache_dir))
    csv_path = Path(data_dir) / READINGS_FILE
    with _lock:
        digest = csv_hash(csv_path) if csv_path.exists() else ""
        if digest == _installed:
            return digest
        if digest:
            dic = compile_dictionary(csv_path, cache_dir)
            pyopenjtalk.update_global_jtalk_with_user_dict([{"dic_path": str(dic), "is_reading_protected": True}])
        elif _installed:
            pyopenjtalk.unset_user_dict()
        changed = _installed is not None
        _installed = digest
    if changed:
        for callback in _listeners:
            callback()
    return digest


installed_from: tuple[Path, Path] | None = None  # (data_dir, cache_dir) last installed: for worker processes


def ensure_installed() -> str:
    """The installed dictionary's hash, installing the configured data dir's on first use."""
    if _installed is not None:
        return _installed
    from ivr.config import get_settings

    settings = get_settings()
    return install(settings.data_dir, settings.cache_dir)


def installed_hash() -> str | None:
    """Hash of the installed dictionary; '' for none, None before anything was decided."""
    return _installed
