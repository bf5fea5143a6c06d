"""Shared test fixtures: paths to the committed data and to small real-data excerpts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NARA_DATA = ROOT / "faq_data" / "nara"
FIXTURE_5374 = FIXTURES / "5374"


@pytest.fixture(scope="session")
def nara_kb():
    """The committed Nara knowledge base, loaded once for the whole run."""
    from ivr.knowledge.base import load_knowledge

    return load_knowledge(NARA_DATA)


@pytest.fixture
def nara_copy(tmp_path: Path) -> Path:
    """A writable copy of the Nara knowledge base, for tests that break or re-import it."""
    dst = tmp_path / "nara"
    shutil.copytree(NARA_DATA, dst)
    return dst


@pytest.fixture(scope="session")
def brain(tmp_path_factory):
    """Knowledge base + NLU with the real bundled embedding model, built once per run."""
    from ivr.dialogue.state import Brain

    return Brain.load(NARA_DATA, "", tmp_path_factory.mktemp("cache"))
