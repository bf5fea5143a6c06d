"""Town names on bad lines: what does the bot do with a town answer it heard wrong?

    .venv/bin/python bench/town_guesses.py [--split dev] [--conditions clean,20,10] [--errors]

The call-success goals' area answers (bench/call_goals.py: 「赤膚町です」), each said in three voices
on bench/bad_line.py lines and decoded as a call decodes them (after the area question's lead-in),
then given to a real call session that has just asked for the area. Each answer ends one way:
- **found**: the town is taken at once (right or wrong);
- **read back**: 「なかとみがおか、ですね？」, the caller confirms or refuses (right or wrong town);
- **asked again**: no town fits.
A right read-back costs the caller one はい; a wrong one costs a いいえ, the same turn as asking again,
and a wrong town taken at once gives a wrong answer. Tune on dev only; held-out is scored, its errors
never read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from call_goals import goals  # noqa: E402
from call_success import speak, voices  # noqa: E402
from slot_answers import POST_MS, PRE_MS, question  # noqa: E402

from escalation.staff import OfficeHoursStaffLine  # noqa: E402
from escalation.tickets import InMemoryTicketQueue  # noqa: E402
from ivr.config import get_settings  # noqa: E402
from ivr.dialogue.recovery import ConfirmTown  # noqa: E402
from ivr.dialogue.session import CallSession  # noqa: E402
from ivr.dialogue.state import Brain  # noqa: E402
from ivr.dialogue.turns import CallerTurn  # noqa: E402
from ivr.speech import lead_in as lead  # noqa: E402
from ivr.speech.asr import Transcriber  # noqa: E402
from ivr.speech.tts import Synthesizer  # noqa: E402

VOICES_PER_LINE = 3
SEED = 4242
ASKED_BY = "燃えるごみの日はいつですか"  # a question the bot answers only once it has the town
WHEN = datetime(2016, 6, 27, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # inside the schedule data's validity
OUTCOMES = ("found", "read_back", "asked_again", "read_back_wrong", "found_wrong")


def outcome(brain: Brain, heard: str, town: str) -> tuple[str, str]:
    """What a session that has just asked for the area does with ``heard``; and the town it took."""
    session = CallSession(brain, InMemoryTicketQueue(), OfficeHoursStaffLine(brain.kb.municipality.business_hours),
                          lambda: WHEN)

    async def run() -> None:
        await session.start()
        await session.handle(CallerTurn.speech(ASKED_BY))
        await session.handle(CallerTurn.speech(heard))

    asyncio.run(run())
    state = session.state
    if isinstance(state.pending, ConfirmTown):
        return ("read_back" if state.pending.town == town else "read_back_wrong"), state.pending.town
    if state.town:
        return ("found" if state.town == town else "found_wrong"), state.town
    return "asked_again", ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="dev", help="dev (dev to dev5 together), heldout")
    ap.add_argument("--conditions", default="clean,20,10")
    ap.add_argument("--errors", action="store_true", help="print every answer not found at once (dev only)")
    args = ap.parse_args()
    splits = ("dev", "dev2", "dev3", "dev4", "dev5") if args.split == "dev" else ("heldout",)
    settings = get_settings()
    asr = Transcriber.from_settings(settings)
    tts = Synthesizer(settings.tts_speed)
    brain = Brain.load(settings.data_dir)
    lines = [g.replies["area"] for split in splits for _, g in goals(split) if "area" in g.replies]
    asked = question("area", {})
    assert asked is not None
    tts.synthesize(asked)
    lead_in = lead.lead_in_for(asked, tts)
    vs = voices()
    print(f"{args.split}: {len(lines)} area answers × {VOICES_PER_LINE} voices")
    for condition in args.conditions.split(","):
        counts: Counter[str] = Counter()
        for n, said in enumerate(lines):
            town = brain.nlu.parse(said, date(2016, 6, 27)).area_town
            for k in range(VOICES_PER_LINE):
                voice = vs[(n + k * 2) % len(vs)]
                clip = speak(said, voice, condition, SEED + 97 * n + k, mobile=(n + k) % 2 == 1, split="")
                pcm = clip.pcm[max(0, clip.speech_start - PRE_MS * 8) : clip.speech_end + POST_MS * 8]
                heard = asr.transcribe(pcm, lead_in=lead_in).text
                way, taken = outcome(brain, heard, town)
                counts[way] += 1
                if way != "found" and args.errors and args.split == "dev":
                    print(f"    {condition:>5} {way:<15} {voice:<18} {said} → {heard} {taken}")
        print(f"  {condition:>5}: " + "  ".join(f"{way} {counts[way]}" for way in OUTCOMES), flush=True)


if __name__ == "__main__":
    main()
