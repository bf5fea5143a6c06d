"""Pre-rendered bot prompts: built once by `ivr voices build`, played with no synthesis delay."""
