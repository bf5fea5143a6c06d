"""Console lines → caller turns: plain text is speech; /dtmf, /silence, /hangup are events."""

from __future__ import annotations

from ivr.dialogue.turns import CallerTurn

HELP = "/dtmf 1 (keypad), /silence (no input), /hangup, /quit — anything else is what the caller says"


class QuitCommand(Exception):
    pass


def to_turn(line: str) -> CallerTurn | None:
    """None for a blank line; raises ``QuitCommand`` for /quit and ValueError for a bad command."""
    text = line.strip()
    if not text:
        return None
    if not text.startswith("/"):
        return CallerTurn.speech(text)
    command, _, arg = text[1:].partition(" ")
    command = command.lower()
    if command == "dtmf":
        digits = arg.strip()
        if not digits or any(ch not in "0123456789*#" for ch in digits):
            raise ValueError("usage: /dtmf DIGITS (0-9, * and #)")
        return CallerTurn.dtmf(digits)
    if command == "silence":
        return CallerTurn.silence()
    if command == "hangup":
        return CallerTurn.hangup()
    if command in ("quit", "exit"):
        raise QuitCommand
    raise ValueError(f"unknown command /{command}; {HELP}")
