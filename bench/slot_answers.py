"""Slot answers on bad lines: is a town, 丁目, category or item name heard better after its question?

    .venv/bin/python bench/slot_answers.py [--split dev] [--conditions clean,20,10] [--errors]

The call-success goals' slot answers (bench/call_goals.py: 「青山です」, 「四丁目です」, 「燃えるごみです」,
「傘です」), each said in three voices on bench/bad_line.py lines, decoded three ways:
- **alone**: as a turn with no question pending (the domain prompt and the knowledge base's hotwords);
- **after**: after the last unit of the question that asked for it, in the bot's voice, with the
  question's text forced as the prefix (ivr/speech/lead_in.py);
- **bot**: what ``Transcriber.transcribe`` does now with that lead-in (``SLOTS_AFTER_QUESTION`` slots
  only get it; an answer repeating the question's example is checked against the turn alone).
A line counts when the slot parsed from the transcript is the one parsed from the clean text.
Tune on dev only; held-out is scored, its errors never read.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from call_goals import goals  # noqa: E402
from call_success import speak, voices  # noqa: E402

from ivr.config import get_settings  # noqa: E402
from ivr.dialogue import prompts  # noqa: E402
from ivr.dialogue.state import Brain  # noqa: E402
from ivr.speech import lead_in as lead  # noqa: E402
from ivr.speech.asr import Transcriber, to_whisper_audio  # noqa: E402
from ivr.speech.tts import Synthesizer  # noqa: E402

SLOTS = ("area", "chome", "category", "item")
VOICES_PER_LINE = 3
SEED = 777
TODAY = date(2026, 11, 27)
PRE_MS, POST_MS = 200, 300  # the endpointer's cut around the voice, roughly


def question(slot: str, replies: dict[str, str]) -> str | None:
    """What the bot says to ask for ``slot`` (the area question's example as the bot gives it)."""
    if slot == "item":
        return prompts.ASK_ITEM
    if slot == "area":
        return prompts.ASK_AREA.format(example="青垣町")
    if slot == "category":
        return prompts.ASK_CATEGORY
    if slot == "chome":
        return prompts.ASK_CHOME.format(town=re.split("です", replies["area"])[0])
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="dev", choices=("dev", "heldout", "all"))
    ap.add_argument("--conditions", default="clean,20,10")
    ap.add_argument("--errors", action="store_true", help="print misread lines (dev only)")
    args = ap.parse_args()
    settings = get_settings()
    asr = Transcriber.from_settings(settings)
    tts = Synthesizer(settings.tts_speed)
    nlu = Brain.load(settings.data_dir).nlu

    def slot_of(slot: str, text: str) -> object:
        p = nlu.parse(text, TODAY)
        return {"item": p.item.name if p.item else None, "area": p.area_town or None,
                "category": p.category.name if p.category else None, "chome": p.chome}[slot]

    lines = [(slot, said, q) for _, g in goals(args.split) for slot, said in g.replies.items()
             if (q := question(slot, g.replies)) is not None]
    vs = voices()
    print(f"{args.split}: {len(lines)} slot answers × {VOICES_PER_LINE} voices")
    for condition in args.conditions.split(","):
        right: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for n, (slot, said, q) in enumerate(lines):
            tts.synthesize(q)
            lead_in = lead.lead_in_for(q, tts)
            assert lead_in is not None
            meant = slot_of(slot, said)
            for k in range(VOICES_PER_LINE):
                voice = vs[(n + k * 2) % len(vs)]
                clip = speak(said, voice, condition, SEED + 97 * n + k, mobile=(n + k) % 2 == 1, split="")
                pcm = clip.pcm[max(0, clip.speech_start - PRE_MS * 8) : clip.speech_end + POST_MS * 8]
                both = asr._decode(to_whisper_audio(lead_in.before(pcm)), None, prefix=lead_in.text)
                after = lead_in.answer("".join(both.texts))
                alone = asr.transcribe(pcm).text
                heard = {
                    "alone": alone,
                    "after": after if after is not None else alone,  # the prefix dropped: the turn alone
                    "bot": asr.transcribe(pcm, lead_in=lead_in if slot in lead.SLOTS_AFTER_QUESTION else None).text,
                }
                for way, text in heard.items():
                    ok = slot_of(slot, text) == meant
                    right[slot, way].append(ok)
                    if not ok and args.errors and args.split == "dev":
                        print(f"    {condition} {way:<5} {voice:<18} {said} → {text}")
        for way in ("alone", "after", "bot"):
            per = "  ".join(f"{s} {sum(right[s, way])}/{len(right[s, way])}" for s in SLOTS if right[s, way])
            print(f"  {condition:>5} {way:<5}: {per}", flush=True)


if __name__ == "__main__":
    main()
