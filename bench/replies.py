"""Replies to the bot's yes/no questions, heard by the recogniser: right, unclear or wrong.

    .venv/bin/python bench/replies.py [--voices ojt,ojt-fast,kokoro-jm_kumo,kokoro-jf_alpha]
        [--conditions clean,20,10] [--rows]

A caller asked 「ほかに、ご質問はありますか」, 「れいぞうこ、ですね？」 or 「職員におつなぎしましょうか」
answers yes or no in many ways (はい、そうです / ちゃいます / いや、ちゃう), or names something else
instead (洗濯機です, もう一回). Each reply is said in each voice on the bench's telephone line
(bench/turn_set.py: band, μ-law, hiss + rumble + hum at the SNR), and decoded as on a call: after
the question's own audio (the lead-in, ``ivr.speech.lead_in``), with the question as the prompt.
The questions take turns across replies and voices, so each condition meets each of them.

Figures per condition:
- yes/no replies: right, unclear (neither: the bot asks again) and WRONG (the opposite: a refused
  read-back confirmed, an offer of staff taken back);
- other replies: kept as text, dropped (heard as nothing), or taken for a yes or a no.

Replies to the read-back are then heard as the dialogue hears them: a reply the transcript leaves
unread is scored by its audio against the ways to say yes and no, and a no that wins is a no
(``ivr.dialogue.replies``); the last line gives those figures beside the transcript's alone.

Every reply here is dev data (written for this bench; the held-out short answers are in
bench/turn_set.py). ~4 min for 4 voices × 3 conditions on 2 cores, most of it Kokoro and Whisper.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from turn_set import CONDITIONS, _line, _voice  # noqa: E402

from ivr.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from ivr.dialogue.replies import replies_to_hear  # noqa: E402
from ivr.knowledge.base import load_knowledge  # noqa: E402
from ivr.language.entities import EntityExtractor  # noqa: E402
from ivr.language.yes_no import heard_no, yes_no  # noqa: E402
from ivr.speech.asr import Transcriber  # noqa: E402
from ivr.speech.forced_choice import ForcedChooser  # noqa: E402
from ivr.speech.lead_in import lead_in_for  # noqa: E402
from ivr.speech.tts import Synthesizer  # noqa: E402

REPLIES: list[tuple[str, bool | None]] = [  # what the caller says; True yes, False no, None neither
    ("はい", True), ("はいそうです", True), ("ええ", True), ("うん", True), ("そうです", True),
    ("お願いします", True), ("そうそう", True), ("はいお願いします", True),
    ("いいえ", False), ("いえ", False), ("いや", False), ("違います", False), ("ちゃいます", False),
    ("結構です", False), ("いいえ違います", False), ("いや、ちゃう", False),
    ("洗濯機です", None), ("冷蔵庫", None), ("燃えるごみ", None), ("二丁目です", None), ("もう一回", None),
    ("えーと", None), ("わかりません", None), ("青山です", None), ("ソファーです", None), ("電池", None),
]
QUESTIONS = ("ほかに、ご質問はありますか。", "れいぞうこ、ですね？", "職員におつなぎしましょうか。")
CONFIRMING = ("れいぞうこ、ですね？",)  # a read-back: 結構です / いいです mean yes to it (ivr.language.yes_no)
SEED = 5  # the line noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", default="ojt,ojt-fast,kokoro-jm_kumo,kokoro-jf_alpha")
    parser.add_argument("--conditions", default="clean,20,10")
    parser.add_argument("--rows", action="store_true", help="print every reply and what was heard")
    args = parser.parse_args()
    voices = [v for v in args.voices.split(",") if v]
    conditions = [c for c in args.conditions.split(",") if c in CONDITIONS]
    settings = Settings()
    asr = Transcriber.from_settings(settings, progress=False)
    tts = Synthesizer.from_settings(settings)
    for q in QUESTIONS:
        tts.synthesize(q)  # the lead-in is the question's cached audio, as on a call
    rng = np.random.default_rng(SEED)
    entities = EntityExtractor(load_knowledge(DEFAULT_DATA_DIR))
    chooser = ForcedChooser(asr.model)
    by_sound: collections.Counter[tuple[str, str]] = collections.Counter()  # read-back replies, as the dialogue hears
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    started = time.perf_counter()
    for n, ((text, meant), voice, condition) in enumerate(itertools.product(REPLIES, voices, conditions)):
        question = QUESTIONS[n // len(conditions) % len(QUESTIONS)]  # each condition meets every question
        clean = _voice(text, voice)
        pcm, _, _ = _line(clean, clean, condition, rng)
        result = asr.transcribe(pcm, question=question, lead_in=lead_in_for(question, tts))
        heard = result.text
        said = yes_no(heard, confirming=question in CONFIRMING, heard_confidence=result.confidence)
        if meant is None:
            outcome = "dropped" if not heard else ("taken as yes/no" if said is not None else "kept")
        else:
            outcome = "right" if said is meant else ("unclear" if said is None else "WRONG")
        counts[(condition, outcome)] += 1
        if question in CONFIRMING:
            forms = replies_to_hear(entities, heard)
            if said is None and forms and heard_no(chooser.choose(pcm, forms)):
                said = False
            by_sound[(condition, "text")] += outcome in ("right", "kept")
            by_sound[(condition, "text wrong")] += outcome == "WRONG"
            by_sound[(condition, "sound")] += said is meant if meant is not None else (said is None and bool(heard))
            by_sound[(condition, "wrong")] += meant is not None and said is not None and said is not meant
            by_sound[(condition, "n")] += 1
        if args.rows:
            print(f"  {text:12s} {voice:16s} {condition:5s} {question:16s} {heard!r:24s} {result.confidence:.2f} "
                  f"{outcome}", flush=True)
    print(f"\nreplies after a yes/no question, {len(voices)} voices ({', '.join(voices)})")
    print(f"{'cond':6s} {'yes/no: right':>14s} {'unclear':>8s} {'WRONG':>6s}   {'other: kept':>11s} {'dropped':>8s} "
          f"{'as yes/no':>9s}")
    for c in conditions:
        yn = sum(counts[(c, o)] for o in ("right", "unclear", "WRONG"))
        other = sum(counts[(c, o)] for o in ("kept", "dropped", "taken as yes/no"))
        yes_no_part = f"{counts[(c, 'right')]:>8d}/{yn:<5d} {counts[(c, 'unclear')]:>8d} {counts[(c, 'WRONG')]:>6d}"
        taken = counts[(c, "taken as yes/no")]
        other_part = f"{counts[(c, 'kept')]:>5d}/{other:<5d} {counts[(c, 'dropped')]:>8d} {taken:>9d}"
        print(f"{c:6s} {yes_no_part}   {other_part}")
    print("to the read-back 「れいぞうこ、ですね？」: right (yes/no as meant, other replies kept) by the text alone → "
          "with an unread reply's no heard by its sound; WRONG")
    for c in conditions:
        n, text, sound, was, wrong = (by_sound[(c, k)] for k in ("n", "text", "sound", "text wrong", "wrong"))
        print(f"{c:6s} {text:>3d}/{n} → {sound:>3d}/{n}   WRONG {was} → {wrong}")
    print(f"elapsed {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
