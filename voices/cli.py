"""``ivr voices build`` (pre-render the fixed replies) and ``ivr say`` (speak a text to a WAV)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ivr.config import get_settings

voices_app = typer.Typer(help="Pre-rendered prompts for speech synthesis.", no_args_is_help=True)
console = Console(soft_wrap=True)

SpeedOpt = Annotated[
    float | None, typer.Option("--speed", min=0.5, max=2.0, help="Speaking rate (default: IVR_TTS_SPEED).")
]


@voices_app.command("build")
def build_command(
    data: Annotated[Path | None, typer.Option("--data", help="Knowledge-base folder (default: IVR_DATA_DIR).")] = None,
    speed: SpeedOpt = None,
) -> None:
    """Synthesise every fixed prompt and FAQ answer not yet in the voices folder."""
    from ivr.knowledge.base import load_knowledge
    from ivr.language import user_dictionary
    from ivr.speech.tts import Synthesizer
    from voices.build import build
    from voices.cache import VoiceCache

    settings = get_settings()
    data_dir = data or settings.data_dir
    user_dictionary.install(data_dir, settings.cache_dir)  # this knowledge base's readings, before the voice key
    kb = load_knowledge(data_dir)
    synthesizer = Synthesizer(settings.tts_speed if speed is None else speed)
    cache = VoiceCache(settings.voices_dir or settings.cache_dir / "voices", synthesizer.voice)
    cache.load()
    report = build(kb, synthesizer, cache, progress=True)
    console.print(
        f"{report.units} sentences, {report.rendered} rendered in {report.seconds:.1f} s; "
        f"{len(cache)} files, {report.bytes_on_disk / 1e6:.1f} MB in {cache.folder}",
        highlight=False,
    )


def say(
    text: Annotated[str, typer.Argument(help="Japanese text to speak.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="WAV file to write.")],
    rate: Annotated[int, typer.Option("--rate", help="Sample rate of the file (the line is 8000).")] = 8000,
    ulaw: Annotated[bool, typer.Option("--ulaw", help="G.711 μ-law instead of 16-bit PCM.")] = False,
    speed: SpeedOpt = None,
) -> None:
    """Speak TEXT as the bot would on the line (8 kHz, the knowledge base's readings) into a WAV."""
    from ivr.audio import codec
    from ivr.speech.tts import Synthesizer

    settings = get_settings()
    pcm = Synthesizer(settings.tts_speed if speed is None else speed).synthesize(text)
    if not len(pcm):
        raise typer.BadParameter("nothing to say in TEXT", param_hint="TEXT")
    codec.write_wav(output, codec.resample(pcm, codec.SAMPLE_RATE, rate), rate, ulaw=ulaw)
    kind = "μ-law" if ulaw else "PCM16"
    console.print(f"{output}: {len(pcm) / codec.SAMPLE_RATE:.2f} s, {rate} Hz {kind}", highlight=False)
