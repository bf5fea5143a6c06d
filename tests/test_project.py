"""Project-level promises: the README's commands, settings documentation, lint."""

import re
import shutil
import subprocess
import sys

from conftest import ROOT
from ivr.config import Settings


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_has_two_commands_and_ci_runs_the_second_verbatim():
    commands = _quick_start_commands()
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"IVR_{name.upper()}" in readme, name


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin")) or shutil.which("ruff")
    if ruff is None:  # ruff ships with the [test] extra; run it as a module otherwise
        cmd = [sys.executable, "-m", "ruff", "check", str(ROOT)]
    else:
        cmd = [ruff, "check", str(ROOT)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_grows_into_two_ideas():
    """The guide: past ~400 lines a module probably holds two ideas."""
    for path in ROOT.glob("ivr/**/*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"


def test_nothing_reads_the_shared_folder():
    for path in [*ROOT.glob("ivr/**/*.py"), *ROOT.glob("tests/**/*.py")]:
        if path.name == "test_project.py":  # this file names the pattern itself
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\.\./shared|/work/shared", text), path
