"""Town and item answers on bad lines: what does the bot do with an answer it heard wrong?

    .venv/bin/python bench/slot_guesses.py [--slot area|item] [--split dev] [--conditions clean,20,10] [--errors]

The call-success goals' area or item answers (bench/call_goals.py: 「赤膚町です」, 「ゲーム機です」),
each said in three voices on bench/bad_line.py lines and decoded as a call decodes them (a town
after the area question's lead-in, an item primed with the domain sentence and the hotwords, with
Whisper's confidence), then given to a real call session that has just asked for it. Each answer
ends one way:
- **found**: the town taken, the item answered at once (right or wrong);
- **read back**: 「なかとみがおか、ですね？」, the caller confirms or refuses (right or wrong);
- **asked again**: nothing fits.
A right read-back costs the caller one はい; a wrong one costs a いいえ, the same turn as asking again,
and a wrong thing found at once gives a wrong answer. Tune on dev only; held-out is scored, its
errors never read.
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
from ivr.dialogue.session import CallSession  # noqa: E402
from ivr.dialogue.state import Brain, ConfirmItem, ConfirmTown  # noqa: E402
from ivr.dialogue.turns import Action, BotTurn, CallerTurn  # noqa: E402
from ivr.speech import lead_in as lead  # noqa: E402
from ivr.speech.asr import Transcriber  # noqa: E402
from ivr.speech.tts import Synthesizer  # noqa: E402

VOICES_PER_LINE = 3
SEED = 4242
# A question the bot answers only once it has the town; one that makes it ask for the item.
ASKED_BY = {"area": "燃えるごみの日はいつですか", "item": "捨てたいものがあるんですけど"}
WHEN = datetime(2016, 6, 27, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # inside the schedule data's validity
OUTCOMES = ("found", "read_back", "asked_again", "read_back_wrong", "found_wrong")


def outcome(brain: Brain, slot: str, heard: str, confidence: float, meant: str) -> tuple[str, str]:
    """What a session that has just asked for ``slot`` does with ``heard``; and what it took."""
    session = CallSession(brain, InMemoryTicketQueue(), OfficeHoursStaffLine(brain.kb.municipality.business_hours),
                          lambda: WHEN)

    async def run() -> BotTurn:
        await session.start()
        await session.handle(CallerTurn.speech(ASKED_BY[slot]))
        return await session.handle(CallerTurn.speech(heard, confidence) if heard else CallerTurn.silence())

    reply = asyncio.run(run())
    state = session.state
    if isinstance(state.pending, (ConfirmTown, ConfirmItem)):
        pending, item = state.pending, state.pending.parse.item
        took = pending.town if isinstance(pending, ConfirmTown) else (item.name if item else "")
        return ("read_back" if took == meant else "read_back_wrong"), took
    took = state.town if slot == "area" else str(reply.slots.get("item") or "")
    if took or (slot == "item" and reply.action is Action.answer):
        return ("found" if took == meant else "found_wrong"), took
    return "asked_again", ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slot", default="area", choices=("area", "item"))
    ap.add_argument("--split", default="dev", help="dev (dev to dev5 together), heldout")
    ap.add_argument("--conditions", default="clean,20,10")
    ap.add_argument("--errors", action="store_true", help="print every answer not found at once (dev only)")
    args = ap.parse_args()
    splits = ("dev", "dev2", "dev3", "dev4", "dev5") if args.split == "dev" else ("heldout",)
    settings = get_settings()
    asr = Transcriber.from_settings(settings)
    tts = Synthesizer(settings.tts_speed)
    brain = Brain.load(settings.data_dir)
    lines = [g.replies[args.slot] for split in splits for _, g in goals(split) if args.slot in g.replies]
    asked = question(args.slot, {})
    assert asked is not None
    tts.synthesize(asked)
    lead_in = lead.lead_in_for(asked, tts) if args.slot in lead.SLOTS_AFTER_QUESTION else None
    vs = voices()
    print(f"{args.split}: {len(lines)} {args.slot} answers × {VOICES_PER_LINE} voices")
    for condition in args.conditions.split(","):
        counts: Counter[str] = Counter()
        for n, said in enumerate(lines):
            parsed = brain.nlu.parse(said, date(2016, 6, 27))
            meant = parsed.area_town if args.slot == "area" else (parsed.item.name if parsed.item else "")
            for k in range(VOICES_PER_LINE):
                voice = vs[(n + k * 2) % len(vs)]
                clip = speak(said, voice, condition, SEED + 97 * n + k, mobile=(n + k) % 2 == 1, split="")
                pcm = clip.pcm[max(0, clip.speech_start - PRE_MS * 8) : clip.speech_end + POST_MS * 8]
                result = asr.transcribe(pcm, lead_in=lead_in)
                way, taken = outcome(brain, args.slot, result.text, result.confidence, meant)
                counts[way] += 1
                if way != "found" and args.errors and args.split == "dev":
                    print(f"    {condition:>5} {way:<15} {voice:<18} {said} → {result.text} {taken}")
        print(f"  {condition:>5}: " + "  ".join(f"{way} {counts[way]}" for way in OUTCOMES), flush=True)


if __name__ == "__main__":
    main()
