"""The hotline's knowledge base: typed models, loading/validation, schedules, import/export."""
