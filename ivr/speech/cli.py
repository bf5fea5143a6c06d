"""``ivr transcribe``: what the bot hears in a WAV file, with the bundled (or configured) Whisper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ivr.config import get_settings


def transcribe(
    files: Annotated[list[Path], typer.Argument(help="WAV file(s): any rate, PCM or μ-law; heard as 8 kHz.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    after: Annotated[str | None, typer.Option(
        "--after", help="The yes/no question the caller is answering (e.g. 職員におつなぎしましょうか。): "
                        "decoded as in a call after that question, where a short はい is kept.")] = None,
) -> None:
    """Transcribe WAV files as a telephone caller's turns (8 kHz, the hotline's domain prompt)."""
    from ivr.audio.codec import read_wav
    from ivr.language.readings import reading
    from ivr.speech.asr import Transcriber
    from ivr.speech.lead_in import lead_in_for
    from ivr.speech.tts import Synthesizer

    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
    settings = get_settings()
    transcriber = Transcriber.from_settings(settings)
    lead_in = None
    if after:  # the question as the bot says it, heard before each answer as in a call
        tts = Synthesizer(settings.tts_speed)
        tts.synthesize(after)
        lead_in = lead_in_for(after, tts)
    for path in files:
        result = transcriber.transcribe(read_wav(path), question=after, lead_in=lead_in)
        if as_json:
            typer.echo(json.dumps({"file": str(path), "text": result.text, "reading": reading(result.text),
                                   "dropped": result.dropped, "prompt_leak": result.prompt_leak,
                                   "audio_ms": result.audio_ms, "decode_ms": result.decode_ms},
                                  ensure_ascii=False))
        else:
            note = f"  (dropped: {result.dropped})" if result.dropped else ""
            typer.echo(f"{path}: {result.text}{note}")
