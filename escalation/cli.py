"""``ivr db``, ``ivr tickets`` and ``ivr staff``: the ticket database from a shell.

For the operator's jobs that have no place in the staff console: migrating a PostgreSQL database,
a quick look at the queue over SSH, the CSV the office opens in Excel, the first admin account.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from escalation.accounts import StaffAccounts
    from escalation.store import TicketStore

db_app = typer.Typer(help="The ticket database: migrations.", no_args_is_help=True)
tickets_app = typer.Typer(help="Callback tickets: list, show, export, purge.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts for the console and the REST API.", no_args_is_help=True)

T = TypeVar("T")
PASSWORD_ENV = "IVR_STAFF_PASSWORD"  # lets scripts (docker entrypoints, provisioning) set a password unprompted
CSV_COLUMNS = (
    "number", "status", "urgency", "reason", "topic", "area", "item", "summary", "caller_number",
    "callback_number", "caller_name", "complete", "created_at", "due_at", "assignee", "overdue", "purged_at",
)


def _store() -> TicketStore:
    from escalation.store import TicketStore
    from ivr.config import get_settings

    return _or_exit(lambda: TicketStore.from_settings(get_settings()))


def _or_exit(open_it: Callable[[], T]) -> T:
    """A database not yet migrated is an operator's step, not a crash: say which one, exit 1."""
    from escalation.db import SchemaNotReady

    try:
        return open_it()
    except SchemaNotReady as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _local(t: datetime | None) -> str:
    """Staff read times in the server's zone (Japan), to the minute, as Excel parses them."""
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else ""


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the ticket database to this version's schema (IVR_DATABASE_URL, or SQLite)."""
    from escalation.db import display_url, settings_url, upgrade
    from ivr.config import get_settings

    url = settings_url(get_settings())
    before, after = upgrade(url)
    if before == after:
        typer.echo(f"{display_url(url)}: already at revision {after}")
    else:
        typer.echo(f"{display_url(url)}: upgraded from {before or 'an empty database'} to revision {after}")


@tickets_app.command("list")
def tickets_list(
    status: str = typer.Option("", "--status", help="open, claimed, called_back, resolved or closed ('' = all)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array with every field."),
) -> None:
    """Tickets, urgent first, then the soonest due."""
    store = _store()
    try:
        records = store.query(status=status or None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from exc
    finally:
        store.dispose()
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in records], ensure_ascii=False, indent=1))
        return
    if not records:
        typer.echo("no tickets")
    for r in records:
        flag = "!" if r.overdue else " "
        typer.echo(f"{r.number:>6} {flag} {r.status:<11} {r.urgency:<6} {r.reason:<15} due {_local(r.due_at)}  "
                   f"{r.assignee or '-':<10} {r.summary[:40]}")


@tickets_app.command("show")
def tickets_show(
    number: str = typer.Argument(..., help="The ticket number the caller was told (e.g. 1001), or its id."),
    as_json: bool = typer.Option(False, "--json", help="Every field as JSON."),
) -> None:
    """One ticket: details, transcript, notes and audit trail."""
    store = _store()
    try:
        record = store.find_by_number(number)
        if record is None and number.strip().isdigit():
            record = store.get(int(number))
    finally:
        store.dispose()
    if record is None:
        typer.echo(f"no ticket {number}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(record.to_json(), ensure_ascii=False, indent=1))
        return
    r = record
    typer.echo(f"ticket {r.number} (id {r.id}): {r.status}{' OVERDUE' if r.overdue else ''}, {r.urgency}, {r.reason}")
    for label, value in (("topic", r.topic), ("area", r.area), ("item", r.item), ("caller", r.caller_number),
                         ("callback", r.callback_number), ("name", r.caller_name), ("summary", r.summary),
                         ("created", _local(r.created_at)), ("due", _local(r.due_at)),
                         ("assignee", r.assignee or ""), ("complete", "yes" if r.complete else "no"),
                         ("purged", _local(r.purged_at)), ("calls", ", ".join(r.call_ids))):
        if value:
            typer.echo(f"  {label:<9} {value}")
    if r.transcript:
        typer.echo("transcript:")
        for line in r.transcript:
            typer.echo(f"  {line.speaker}: {line.text}")
    if r.notes:
        typer.echo("notes:")
        for note in r.notes:
            typer.echo(f"  {_local(note.at)} {note.author}: {note.text}")
    typer.echo("audit:")
    for a in r.audit:
        typer.echo(f"  {_local(a.at)} {a.actor:<10} {a.action:<12} {a.detail}")


@tickets_app.command("export")
def tickets_export(
    as_csv: bool = typer.Option(False, "--csv", help="CSV, one row per ticket (UTF-8 with BOM, for Excel)."),
) -> None:
    """Every ticket to stdout, for the office's spreadsheets."""
    if not as_csv:
        raise typer.BadParameter("choose a format: --csv", param_hint="--csv")
    store = _store()
    try:
        records = store.query(limit=None)
    finally:
        store.dispose()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # CRLF: what Excel writes and expects
    writer.writerow(CSV_COLUMNS)
    for r in sorted(records, key=lambda r: r.id):
        row = r.to_json()
        for key in ("created_at", "due_at", "purged_at"):
            row[key] = _local(getattr(r, key))
        row["complete"], row["overdue"] = int(r.complete), int(r.overdue)
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    # the BOM makes Japanese Excel read UTF-8 instead of guessing Shift_JIS
    typer.get_binary_stream("stdout").write(out.getvalue().encode("utf-8-sig"))


@tickets_app.command("purge")
def tickets_purge() -> None:
    """Blank callers' personal data older than IVR_RETENTION_DAYS (the server does this daily)."""
    from ivr.config import get_settings

    days = get_settings().retention_days
    store = _store()
    try:
        from analytics.store import CallLog

        count = store.purge_personal_data(days)
        calls = CallLog(store.engine).purge_personal_data(days)  # what callers said, in the call records
    finally:
        store.dispose()
    typer.echo(f"purged personal data of {count} ticket(s) older than {days} days")
    typer.echo(f"purged what callers said in {calls} call record(s) older than {days} days")


def _accounts() -> StaffAccounts:
    from escalation.accounts import StaffAccounts
    from ivr.config import get_settings

    return _or_exit(lambda: StaffAccounts.from_settings(get_settings()))


@staff_app.command("add")
def staff_add(
    name: str = typer.Argument(..., help="Login name."),
    admin: bool = typer.Option(False, "--admin", help="May manage accounts and close any ticket."),
) -> None:
    """Create a staff account; the password is asked twice (or read from IVR_STAFF_PASSWORD)."""
    password = os.environ.get(PASSWORD_ENV) or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    accounts = _accounts()
    try:
        staff = accounts.add(name, password, admin=admin)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        accounts.engine.dispose()
    typer.echo(f"added {staff.name}{' (admin)' if staff.admin else ''}")


@staff_app.command("token")
def staff_token(name: str = typer.Argument(..., help="Login name.")) -> None:
    """Make an API token for NAME and print it; it is shown this once (only its hash is kept)."""
    from escalation.accounts import StaffNotFound

    accounts = _accounts()
    try:
        token = accounts.create_token(name)
    except StaffNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        accounts.engine.dispose()
    typer.echo(token)


@staff_app.command("list")
def staff_list() -> None:
    """Every staff account."""
    accounts = _accounts()
    try:
        for staff in accounts.list():
            typer.echo(f"{staff.name}{' (admin)' if staff.admin else ''}")
    finally:
        accounts.engine.dispose()
