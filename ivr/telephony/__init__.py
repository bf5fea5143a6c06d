"""Carriers: Twilio (webhooks, Media Streams) and Asterisk (AudioSocket, AMI)."""
