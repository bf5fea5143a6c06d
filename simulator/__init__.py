"""The text-mode call simulator: drive a whole call from a console, a pipe or a YAML script."""
