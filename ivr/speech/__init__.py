"""Speech: ASR (faster-whisper), endpointing (Silero VAD), TTS (pyopenjtalk)."""
