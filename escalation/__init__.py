"""Handing calls to staff: transfers, the ticket queue for callbacks, office hours."""
