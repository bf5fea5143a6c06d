"""The deployment files agree with each other and with the bot, and the dialplan passes asterisklint.

No Asterisk runs here, so the dialplan is checked by asterisklint (a real dialplan checker; it
knows Asterisk up to 13, so functions added later are listed as known-new below), and every name
shared between compose.yaml, the Asterisk configs and the bot's code is checked to match: a typo
in a context or queue name would only show when the first caller is sent to staff.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ivr.config import Settings
from ivr.telephony import ami

DOCKER = Path(__file__).resolve().parent.parent / "docker"
ASTERISK = DOCKER / "asterisk"
NEWER_THAN_ASTERISKLINT = {"E_FUNC_MISSING: function 'UUID'"}  # func_uuid: Asterisk 16+


def sections(name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """An Asterisk .conf file as (section, [(key, value)]); sections and keys may repeat.

    Hand-written: configparser refuses repeated sections/keys, and asterisklint's parser is a
    style linter (it warns on ``key = value``, which Asterisk's own samples use)."""
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for raw in (ASTERISK / name).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if match := re.fullmatch(r"\[([^\]]+)\](\(.*\))?", line):
            out.append((match[1], []))
        elif line and out:
            key, _, value = re.split(r"\s*(=>|=)\s*", line, maxsplit=1)
            out[-1][1].append((key, value))
    return out


def values(name: str, section: str, key: str) -> list[str]:
    return [v for s, kv in sections(name) if s == section for k, v in kv if k == key]


def dialplan(context: str) -> str:
    return "\n".join(f"{k} => {v}" for s, kv in sections("extensions.conf") if s == context for k, v in kv)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def test_asterisklint_finds_nothing_wrong_in_the_dialplan():
    pytest.importorskip("asterisklint")
    run_asterisklint = "import os, sys; from asterisklint.main import main; sys.exit(main(sys.argv[1:], os.environ))"
    result = subprocess.run(
        [sys.executable, "-c", run_asterisklint, "dialplan-check", str(ASTERISK / "extensions.conf")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "ALINT_IGNORE": ""},
    )
    messages = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    unexpected = [m for m in messages if not any(known in m for known in NEWER_THAN_ASTERISKLINT)]
    assert unexpected == [], "\n".join(messages)


def test_the_bot_reaches_asterisk_and_asterisk_reaches_the_bot(compose):
    services = compose["services"]
    assert set(services) == {"asterisk", "bot", "postgres"}
    bot = services["bot"]["environment"]
    host, port = values("extensions.conf", "globals", "IVR_BOT")[0].split(":")
    assert host == "bot" and port == bot["IVR_AUDIOSOCKET_PORT"] == "9092"
    assert port in services["bot"]["expose"]
    assert "AudioSocket(${IVR_UUID},${IVR_BOT})" in dialplan("gomi-incoming")
    assert bot["IVR_AMI_HOST"] in services and values("manager.conf", "general", "port") == [bot["IVR_AMI_PORT"]]
    assert not any("5038" in str(p) for p in services["asterisk"]["ports"])  # AMI is not published
    assert services["postgres"]["image"] == "postgres:16"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert "@postgres:5432/" in bot["IVR_DATABASE_URL"]


def test_the_ami_user_has_the_bots_secret_and_only_the_rights_it_needs(compose):
    bot = compose["services"]["bot"]["environment"]
    user = bot["IVR_AMI_USER"]
    assert values("manager.conf", user, "secret") == ["__AMI_SECRET__"]
    assert "${AMI_SECRET" in bot["IVR_AMI_SECRET"]
    assert "${AMI_SECRET" in compose["services"]["asterisk"]["environment"]["AMI_SECRET"]
    assert values("manager.conf", user, "read") == ["call,user"]  # Hangup/Status; UserEvent
    assert values("manager.conf", user, "write") == ["call"]  # Redirect, Setvar, Status
    assert ami.UUID_VARIABLE in values("manager.conf", "general", "channelvars")[0].split(",")


def test_contexts_queue_and_variables_match_the_bots_settings_and_code(compose):
    bot = compose["services"]["bot"]["environment"]
    defaults = Settings.model_fields
    context = bot["IVR_AMI_STAFF_CONTEXT"]
    queue = bot["IVR_STAFF_QUEUE"]
    assert context == defaults["ami_staff_context"].default
    assert queue == defaults["staff_queue"].default
    assert dialplan(context).startswith("exten => s,1,")  # Redirect goes to <context>,s,1
    assert f"Queue({queue}," in dialplan(context)
    assert [s for s, _ in sections("queues.conf") if s == queue] == [queue]
    assert values("queues.conf", queue, "strategy") == ["ringall"]

    incoming = dialplan("gomi-incoming")
    assert f"Set({ami.UUID_VARIABLE}=${{UUID()}})" in incoming
    assert f"UserEvent({ami.CALL_EVENT},Uuid: ${{{ami.UUID_VARIABLE}}})" in incoming
    assert f'GotoIf($["${{{ami.RESULT_VARIABLE}}}" = "{ami.RESULT_END}"]?done)' in incoming
    assert incoming.index("TryExec(AudioSocket(") < incoming.index(f"Goto({context},s,1)")


def test_sip_endpoints_land_in_the_dialplan_and_staff_phones_are_queue_members():
    contexts = {s for s, _ in sections("extensions.conf")}
    endpoints = {s for s, kv in sections("pjsip.conf") if ("type", "endpoint") in kv or s.startswith("staff")}
    assert values("pjsip.conf", "trunk", "context") == ["gomi-incoming"]
    assert set(values("pjsip.conf", "staff-phone", "context")) <= contexts
    members = [m.split(",")[0] for m in values("queues.conf", "gomi-staff", "member")]
    assert members and all(m.startswith("PJSIP/") and m.removeprefix("PJSIP/") in endpoints for m in members)
    for module in ("app_audiosocket.so", "res_audiosocket.so", "func_uuid.so", "app_exec.so"):
        assert module in values("modules.conf", "modules", "require")


def test_every_placeholder_is_filled_from_the_env_file(compose):
    placeholders = {p for f in ASTERISK.glob("*.conf") for _, kv in sections(f.name) for _, v in kv
                    for p in re.findall(r"__([A-Z0-9_]+)__", v)}
    assert placeholders >= {"AMI_SECRET", "TRUNK_PASSWORD", "STAFF1_PASSWORD"}
    command = "\n".join(compose["services"]["asterisk"]["entrypoint"])
    example = {line.split("=", 1)[0] for line in (DOCKER / ".env.example").read_text().splitlines()
               if "=" in line and not line.startswith("#")}
    for name in placeholders:
        assert f"s|__{name}__|$${name}|g" in command, name
        assert name in compose["services"]["asterisk"]["environment"], name
    required = set(re.findall(r"\$\{([A-Z0-9_]+)(?::[?-])", (DOCKER / "compose.yaml").read_text()))
    assert required <= example, required - example
