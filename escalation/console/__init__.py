"""The staff console: the web pages staff work the callback queue in, and its REST API.

``create_console(store, accounts, secret_key=…)`` builds a FastAPI sub-application that
``ivr serve`` mounts under ``/staff``; see ``escalation/console/app.py``.
"""

from escalation.console.app import create_console

__all__ = ["create_console"]
