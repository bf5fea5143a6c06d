"""Staff accounts on real SQLite and PostgreSQL databases: argon2 hashes, lock-out, API tokens."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from escalation import db
from escalation.accounts import (
    FAILURE_WINDOW,
    LOCKOUT,
    MAX_FAILURES,
    LockedOut,
    LoginFailed,
    Staff,
    StaffAccounts,
    StaffNotFound,
)

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(db_url, clock):
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    yield StaffAccounts(engine, clock=clock)
    engine.dispose()


def column(accounts: StaffAccounts, sql: str) -> list:
    with accounts.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(sql))]


def test_add_and_verify_with_an_argon2_hash(accounts):
    assert accounts.add("sato", PASSWORD, admin=True) == Staff("sato", True)
    accounts.add("suzuki", PASSWORD + "!")
    assert accounts.verify("sato", PASSWORD) == Staff("sato", True)
    assert accounts.verify("suzuki", PASSWORD + "!") == Staff("suzuki", False)
    stored = column(accounts, "SELECT password_hash FROM staff WHERE name = 'sato'")[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.get("sato") == Staff("sato", True) and accounts.get("nobody") is None
    assert accounts.list() == [Staff("sato", True), Staff("suzuki", False)]


def test_bad_accounts_are_refused(accounts):
    with pytest.raises(ValueError, match="10"):
        accounts.add("sato", "short")
    with pytest.raises(ValueError):
        accounts.add("sato", "")
    with pytest.raises(ValueError):
        accounts.add("  ", PASSWORD)
    accounts.add("sato", PASSWORD)
    with pytest.raises(ValueError, match="exists"):
        accounts.add("sato", "another long password")
    assert accounts.list() == [Staff("sato", False)]


def test_wrong_password_or_unknown_name_fail_alike(accounts):
    accounts.add("sato", PASSWORD)
    with pytest.raises(LoginFailed) as wrong:
        accounts.verify("sato", "not the password")
    with pytest.raises(LoginFailed) as unknown:
        accounts.verify("tanaka", PASSWORD)
    assert str(wrong.value) == str(unknown.value)
    assert not isinstance(wrong.value, LockedOut)


def test_five_failures_lock_the_account_for_a_while(accounts, clock):
    accounts.add("sato", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed) as err:
            accounts.verify("sato", "guess")
        assert not isinstance(err.value, LockedOut)
        clock.now += timedelta(minutes=1)
    with pytest.raises(LockedOut) as locked:
        accounts.verify("sato", "guess")
    assert locked.value.until == clock.now + LOCKOUT
    with pytest.raises(LockedOut):  # even the right password, while locked
        accounts.verify("sato", PASSWORD)
    clock.now += LOCKOUT - timedelta(seconds=1)
    with pytest.raises(LockedOut):
        accounts.verify("sato", PASSWORD)
    clock.now += timedelta(seconds=2)
    assert accounts.verify("sato", PASSWORD) == Staff("sato")
    # the lock-out is counted in the database: a fresh object (another worker) sees it too
    other = StaffAccounts(accounts.engine, clock=clock)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            other.verify("sato", "guess")
    with pytest.raises(LockedOut):
        accounts.verify("sato", PASSWORD)


def test_old_failures_are_forgiven_and_success_resets(accounts, clock):
    accounts.add("sato", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed):
            accounts.verify("sato", "guess")
    clock.now += FAILURE_WINDOW + timedelta(seconds=1)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed):
            accounts.verify("sato", "guess")
    accounts.verify("sato", PASSWORD)  # not locked: the first four were outside the window
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed):
            accounts.verify("sato", "guess")
    assert accounts.verify("sato", PASSWORD) == Staff("sato")  # the success before reset the count
    assert column(accounts, "SELECT failed_logins FROM staff") == [0]


def test_token_round_trip_stores_only_the_digest(accounts):
    accounts.add("sato", PASSWORD, admin=True)
    accounts.add("suzuki", PASSWORD)
    token = accounts.create_token("sato")
    second = accounts.create_token("sato")
    assert token != second and len(token) >= 40
    assert accounts.staff_for_token(token) == Staff("sato", True)
    assert accounts.staff_for_token(second) == Staff("sato", True)
    assert accounts.staff_for_token(accounts.create_token("suzuki")) == Staff("suzuki", False)
    assert accounts.staff_for_token(token + "x") is None and accounts.staff_for_token("") is None
    stored = column(accounts, "SELECT token_sha256 FROM staff_tokens")
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert all(token not in value and second not in value for value in stored)
    with pytest.raises(StaffNotFound):
        accounts.create_token("nobody")
