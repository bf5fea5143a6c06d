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
    state_dir: Path = Field(
        Path.home() / ".local" / "state" / "ivr-gomi",
        description="What the server writes and must keep: the ticket database (SQLite) and other state.",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL of the ticket store ('' → SQLite in WAL mode at <IVR_STATE_DIR>/ivr.db)."
    )
    retention_days: int = Field(
        90, description="Callers' numbers, names and transcripts purged after this many days; ticket facts stay."
    )
    minutes_per_call: float = Field(
        4.0, description="A staff member's minutes for a garbage question incl. wrap-up: contained calls × this "
        "= the staff hours saved in the figures.",
    )
    metrics_token: str = Field(
        "", description="Bearer token for GET /metrics from other hosts ('' → loopback clients only).",
    )
    cookie_secure: bool = Field(
        True, description="Staff-console cookies only over HTTPS; set false only for http://localhost trials."
    )
    notify_webhook_url: str = Field("", description="POST urgent tickets here as JSON ('' = off); retried.")
    smtp_host: str = Field("", description="Mail urgent tickets through this SMTP server ('' = no mail).")
    smtp_port: int = Field(25, description="SMTP port (587 with STARTTLS is usual inside a city network).")
    smtp_user: str = Field("", description="SMTP login ('' = none).")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_from: str = Field("ivr-gomi@localhost", description="Sender of the urgent-ticket mail.")
    smtp_to: str = Field("", description="Recipients of the urgent-ticket mail, comma-separated.")
    embedding_model: str = Field(
        "",
        description="'' for the bundled USE multilingual; or a local sentence-transformers model directory.",
    )

    # --- speech recognition -------------------------------------------------------------
    asr_model: str = Field(
        "",
        description="'' for the bundled Whisper base (assembled once into the cache); or a local CTranslate2 dir.",
    )
    asr_threads: int = Field(2, description="CPU threads per ASR worker; 2 fills this 2-core server.")
    asr_workers: int = Field(1, description="ASR workers shared by all calls; more only helps with more cores.")
    asr_queue: int = Field(16, description="Utterances waiting for ASR before new ones are refused (→ staff).")
    asr_prompt: bool = Field(True, description="Prime Whisper with a garbage-hotline sentence (CER 0.25 → ~0.19).")
    asr_hotwords: int = Field(
        10, description="Most-asked KB item names passed as Whisper hotwords (0 = off): understood 26 → 30/48 on dev."
    )

    # --- endpointing (20 ms frames) --------------------------------------------------------
    vad_threshold: float = Field(0.5, description="Silero speech probability that counts as speech.")
    preroll_ms: int = Field(400, description="Audio kept from before the VAD fires; it fires late and clips morae.")
    end_of_turn_silence_ms: int = Field(
        700, description="Silence that ends a caller turn; shorter cuts callers off mid-address."
    )
    min_utterance_ms: int = Field(
        80, description="Shorter bursts are clicks; a うん on a 20 dB line reads as voiced for only ~100 ms."
    )
    max_utterance_ms: int = Field(15000, description="A turn is cut here; Whisper reads 30 s windows, callers ramble.")
    no_input_timeout_ms: int = Field(8000, description="Silence after the bot finishes before a no-input turn.")
    barge_in_ms: int = Field(300, description="Caller speech this long over the bot's audio stops playback.")
    background_margin_db: float = Field(
        10.0, description="A turn's voice must be this far above the line's background; talk behind the caller is not."
    )

    # --- whole caller turns (pauses in mid-sentence) -------------------------------------------
    continuation_wait_ms: int = Field(
        1500, description="Silence after a clause left open (〜けど, 〜が, 〜て, 〇〇って, あの) before answering."
    )
    merge_window_ms: int = Field(
        2500, description="Speech resuming this soon after the caller stopped is the same turn (the reply stops)."
    )
    merge_reply_ms: int = Field(
        800, description="…unless the caller has already heard this much of the reply: then it is a new turn."
    )
    turn_log: Path | None = Field(
        None, description="Append one JSON line per caller turn (transcript included) here; off by default."
    )

    # --- the server (`ivr serve`) ------------------------------------------------------------
    host: str = Field("0.0.0.0", description="Address `ivr serve` listens on for HTTP and websockets.")
    port: int = Field(8000, description="HTTP port: Twilio webhooks, the media websocket, health.")
    public_url: str = Field(
        "", description="How Twilio reaches this server, e.g. https://ivr.example.jp ('' → the request's own URL)."
    )
    twilio_auth_token: str = Field(
        "", description="Twilio auth token: every webhook's X-Twilio-Signature is checked with it ('' → all refused)."
    )
    twilio_mode: str = Field("stream", description="'stream' (Media Streams, our ASR) or 'gather' (Twilio's ASR).")
    staff_available: str = Field(
        "hours", description="'hours' (office hours, and with AMI the queue), 'never' (tickets only), 'always'."
    )
    staff_number: str = Field("", description="Where Twilio transfers callers (<Dial>); '' → the staff queue.")
    max_calls: int = Field(
        16, description="Calls at once, phone and browser; past it a caller goes straight to staff (ASR would lag)."
    )
    shutdown_grace_s: float = Field(
        20.0, description="On SIGTERM, calls in progress may go on this long; then each is handed to staff (or a "
        "ticket) with an apology, and the server exits once they are off the line.",
    )
    webcall_token: str = Field(
        "", description="Shared token for the browser test call from other machines ('' → loopback or a staff login)."
    )
    staff_queue: str = Field("gomi-staff", description="Twilio <Enqueue> / Asterisk queue name for staff.")
    audiosocket_port: int = Field(0, description="Asterisk AudioSocket TCP port (0 = off; 9092 is usual).")
    ami_host: str = Field("", description="Asterisk manager host ('' = no AMI: transfers go back to the dialplan).")
    ami_port: int = Field(5038, description="Asterisk manager port.")
    ami_user: str = Field("", description="AMI user (manager.conf).")
    ami_secret: str = Field("", description="AMI secret (manager.conf).")
    ami_staff_context: str = Field("gomi-staff", description="Dialplan context a transfer Redirects the caller to.")

    # --- speech synthesis --------------------------------------------------------------------
    tts_speed: float = Field(1.0, description="Speaking rate (1.0 normal); older callers may want 0.9.")
    tts_workers: int = Field(
        0, description="Synthesis processes shared by all calls (0: one per core in gather mode without "
        "AudioSocket, where Twilio recognises speech and no core is Whisper's; else 1).",
    )
    voices_dir: Path | None = Field(
        None, description="Pre-rendered prompts (`ivr voices build`); default <IVR_CACHE_DIR>/voices."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are cached because the environment does not change inside a process."""
    return Settings()
