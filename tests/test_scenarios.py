"""Every YAML call scenario in tests/scenarios/ runs through a real call session."""

import asyncio
from pathlib import Path

import pytest

from simulator.runtime import Simulator
from simulator.scenarios import load_scenarios, run_scenario

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIOS = [(path, sc) for path in sorted(SCENARIO_DIR.glob("*.yaml")) for sc in load_scenarios(path)]


def test_there_are_at_least_40_scenarios():
    assert len(SCENARIOS) >= 40


@pytest.mark.parametrize(("path", "scenario"), SCENARIOS, ids=[f"{p.stem}:{s['name']}" for p, s in SCENARIOS])
def test_scenario(brain, path, scenario):
    result = asyncio.run(run_scenario(Simulator.from_brain(brain), scenario, str(path)))
    transcript = "\n".join(f"  caller: {c}\n  bot[{t.action}/{t.intent}]: {t.text}" for c, t in result.transcript)
    assert result.passed, "\n".join(str(m) for m in result.mismatches) + "\n" + transcript
