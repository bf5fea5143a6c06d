"""The one settings object: every tunable is an ``IVR_``-prefixed environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PACKAGE_ROOT / "faq_data" / "nara"


class Settings(BaseSettings):
    """Runtime configuration, read once per process from the environment (and ``.env``)."""

    model_config = SettingsConfigDict(env_prefix="IVR_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Knowledge-base folder (faq_data/<city>); another city's import works too.",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "ivr-gomi",
        description="Derived data kept between runs (kana readings, example embeddings); safe to delete.",
    )
    embedding_model: str = Field(
        "",
        description="'' for the bundled USE multilingual; or a local sentence-transformers model directory.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are cached because the environment does not change inside a process."""
    return Settings()
