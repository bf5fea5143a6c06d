"""NLU figures on the labelled set (tests/data/nlu.yaml) over the full Nara knowledge base.

Prints intent accuracy (overall, per split, per intent and per kind), item-category accuracy,
and per-utterance latency p50/p95 after warm-up. ``--calibrate`` fits the softmax temperature
on the dev split only (the held-out split is never tuned on) and prints a reliability table.

    .venv/bin/python bench/nlu.py [--split heldout] [--calibrate] [--errors] [--with-added]

The phrasings staff added in the console (phrasings_added.csv) are left out unless
``--with-added``: the figures stay those of the curated data, comparable from run to run, and a
caller's words added from a real call cannot quietly train on a held-out utterance.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.config import get_settings  # noqa: E402
from ivr.dialogue.state import Brain  # noqa: E402
from ivr.language import intents, lemmas, readings  # noqa: E402
from ivr.language.embeddings import get_embedder  # noqa: E402

TODAY = date(2016, 6, 27)
WARM_UP = 20


def load(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["utterances"]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def shares(groups: dict[str, list[bool]]) -> str:
    """「kind 0.97 (120), …」: the share right in each group."""
    return ", ".join(f"{k} {sum(v) / len(v):.2f} ({len(v)})" for k, v in sorted(groups.items()))


def forget_analyses() -> None:
    """Empty the per-text caches of readings and word analyses. Loading fills them with every
    training text, the dev split included, so without this the dev split is timed on cached
    analyses (~1 ms a turn less) while a caller's new words never are."""
    readings._known.clear()
    readings.reading.cache_clear()
    readings.morphemes.cache_clear()
    lemmas.content_lemmas.cache_clear()


def calibrate(brain: Brain, rows: list[dict]) -> float:
    """Temperature minimising the dev split's negative log-likelihood (grid search).

    The dev split is also in faq_data's phrasings.csv (training data), so the temperature is
    fitted with a classifier trained on the FAQ examples alone, which has not seen it.
    """
    settings = get_settings()
    clf = intents.IntentClassifier(brain.kb.topics, get_embedder(settings.embedding_model), brain.nlu.prepare,
                                   cache_dir=settings.cache_dir)
    classes = clf.classes
    margins, truth = [], []
    for row in rows:
        if row.get("intent") not in classes:
            continue
        margins.append(clf.margins(*brain.nlu.prepare(row["text"])))
        truth.append(classes.index(row["intent"]))
    m = np.stack(margins)
    best_t, best_nll = 1.0, float("inf")
    for t in np.geomspace(0.02, 2.0, 200):
        z = m / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(truth)), truth].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def reliability(results: list[tuple[float, bool]]) -> None:
    bins = [(0.0, 0.3), (0.3, 0.55), (0.55, 0.8), (0.8, 0.95), (0.95, 1.01)]
    print("  confidence bin   n   accuracy")
    for lo, hi in bins:
        hits = [ok for c, ok in results if lo <= c < hi]
        if hits:
            print(f"  [{lo:.2f},{min(hi, 1):.2f})  {len(hits):4d}   {sum(hits) / len(hits):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "nlu.yaml")
    ap.add_argument("--split", choices=["dev", "heldout", "all"], default="all")
    ap.add_argument("--calibrate", action="store_true", help="fit the temperature on the dev split and use it")
    ap.add_argument("--errors", action="store_true", help="list the misclassified utterances")
    ap.add_argument("--without-dev", action="store_true",
                    help="train without phrasings.csv, so the dev split is unseen: for tuning decisions on dev")
    ap.add_argument("--with-added", action="store_true",
                    help="also train on the phrasings staff added in the console (phrasings_added.csv)")
    args = ap.parse_args()

    settings = get_settings()
    started = time.perf_counter()
    brain = Brain.load(settings.data_dir, settings.embedding_model, settings.cache_dir)
    added = brain.kb.added_phrasings
    if args.without_dev or (added and not args.with_added):
        from ivr.language.understand import Understanding

        keep = added if args.with_added else []
        brain.kb.phrasings = keep if args.without_dev else [p for p in brain.kb.phrasings if p not in added] + keep
        brain = Brain(brain.kb, Understanding(brain.kb, get_embedder(settings.embedding_model), settings.cache_dir))
    print(f"console-added phrasings: {len(added)} " + ("(trained on: --with-added)" if args.with_added
                                                      else "(left out; --with-added trains on them)"))
    print(f"models loaded in {time.perf_counter() - started:.1f} s "
          f"({len(brain.kb.items)} items, {len(brain.kb.areas)} areas, {len(brain.kb.topics)} topics)")
    rows = load(args.data)
    if args.calibrate:
        t = calibrate(brain, [r for r in rows if r["split"] == "dev"])
        print(f"fitted CONFIDENCE_TEMPERATURE on dev: {t:.3f} (was {intents.CONFIDENCE_TEMPERATURE})")
        intents.CONFIDENCE_TEMPERATURE = t

    for row in rows[:WARM_UP]:  # warm BLAS and the code paths before timing
        brain.nlu.parse(row["text"], TODAY)
    forget_analyses()
    splits = ["dev", "heldout"] if args.split == "all" else [args.split]
    for split in splits:
        subset = [r for r in rows if r["split"] == split]
        latencies: list[float] = []
        per_intent: dict[str, list[bool]] = defaultdict(list)
        per_kind: dict[str, list[bool]] = defaultdict(list)
        item_kind: dict[str, list[bool]] = defaultdict(list)
        item_hits: list[bool] = []
        calib: list[tuple[float, bool]] = []
        errors: list[str] = []
        for row in subset:
            t0 = time.perf_counter()
            parse = brain.nlu.parse(row["text"], TODAY)
            latencies.append((time.perf_counter() - t0) * 1000)
            if "intent" in row:  # item-only rows (nlu_items.yaml) count for item category alone
                ok = parse.intent == row["intent"]
                per_intent[row["intent"]].append(ok)
                per_kind[row.get("kind", "?")].append(ok)
                calib.append((parse.confidence, ok))
                if not ok:
                    errors.append(f"  {row['intent']:>20} → {parse.intent:<20} {parse.confidence:.2f}  {row['text']}")
            if row.get("category"):
                got = parse.item.category if parse.item else None
                item_hits.append(got == row["category"])
                item_kind[row.get("kind", "?")].append(got == row["category"])
                if got != row["category"]:
                    errors.append(f"  {'item ' + row['category']:>20} → {got!s:<20}       {row['text']}")
        n = len(subset)
        labelled = sum(len(v) for v in per_intent.values())
        note = " (also training data: phrasings.csv)" if split == "dev" else " (never trained or tuned on)"
        note = " (not trained on: --without-dev)" if split == "dev" and args.without_dev else note
        print(f"\n== {split}: {n} utterances{note if labelled else ''}")
        if labelled:
            print(f"intent accuracy: {sum(sum(v) for v in per_intent.values()) / labelled:.3f}")
        if item_hits:
            print(f"item-category accuracy: {sum(item_hits) / len(item_hits):.3f} ({len(item_hits)} utterances)")
        print(f"latency per utterance: p50 {percentile(latencies, 50):.2f} ms, p95 {percentile(latencies, 95):.2f} ms,"
              f" max {max(latencies):.2f} ms")
        if labelled:
            print("per kind: " + shares(per_kind))
            weak = sorted((sum(v) / len(v), k, len(v)) for k, v in per_intent.items())
            print("per intent (lowest first): " + ", ".join(f"{k} {a:.2f}/{n_}" for a, k, n_ in weak[:12]))
            print("confused pairs: " + ", ".join(f"{a}→{b} ×{c}" for (a, b), c in Counter(
                (e.split("→")[0].strip(), e.split("→")[1].split()[0]) for e in errors if "item " not in e
            ).most_common(8)))
            reliability(calib)
        else:
            print("per kind (item category): " + shares(item_kind))
        if args.errors:
            print("\n".join(errors))
    print(f"\nmedian parse {statistics.median(latencies):.2f} ms on this machine ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
