"""`ivr serve`: the FastAPI app that carriers (Twilio, Asterisk) reach, and what calls share."""
