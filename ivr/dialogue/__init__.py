"""The transport-agnostic call dialogue: caller turns in, bot turns out."""
