"""Japanese telephone voice bot for municipal garbage hotlines."""

__version__ = "0.1.0"
