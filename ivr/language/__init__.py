"""Japanese language helpers: readings, normalisation, entity and intent understanding."""
