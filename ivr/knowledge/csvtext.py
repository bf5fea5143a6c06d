"""Read CSV files as real publishers ship them: BOM or not, CRLF, UTF-8 or cp932 (Shift-JIS)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

ENCODINGS = ("utf-8-sig", "cp932")  # every 5374 city seen so far uses one of these


class CsvReadError(ValueError):
    pass


def decode(raw: bytes, name: str = "") -> str:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvReadError(f"{name}: neither UTF-8 nor Shift-JIS (cp932)")


def read_rows(path: Path) -> list[list[str]]:
    """All records, multi-line quoted cells kept whole; blank records dropped."""
    text = decode(path.read_bytes(), path.name)
    return [
        [cell.strip() for cell in record]
        for record in csv.reader(io.StringIO(text, newline=""))
        if any(cell.strip() for cell in record)
    ]


def write_rows(path: Path, rows: list[list[str]]) -> None:
    """UTF-8 without BOM and LF endings, quoting only where needed (diff-friendly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerows(rows)
