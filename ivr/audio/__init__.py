"""Telephone audio: 8 kHz frames, μ-law, resampling, WAV files."""
