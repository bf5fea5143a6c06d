"""Staff accounts for the console and the REST API, in the ticket database.

Passwords are argon2 hashes; API tokens are stored as SHA-256 digests only (a token is random and
long, so a slow hash adds nothing, and a stolen database yields no usable token). Failed logins
are counted in the database so a lock-out holds across server restarts and workers.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Engine, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from escalation.db import Base, UTCDateTime, as_utc, engine_from_settings, read_session, utcnow, write_session

MIN_PASSWORD_LENGTH = 10  # long enough to resist guessing within the lock-out budget, short enough to type
MAX_FAILURES = 5  # wrong passwords allowed in the window: room for typos, too few for guessing
FAILURE_WINDOW = timedelta(minutes=15)  # failures older than this are forgiven
LOCKOUT = timedelta(minutes=15)  # slows guessing to 5 tries per quarter hour, yet a real user waits only a break
TOKEN_BYTES = 32  # 256 random bits: no brute force, so a plain SHA-256 digest is a safe thing to store


class LoginFailed(Exception):
    """Unknown name or wrong password (deliberately not saying which)."""


class LockedOut(LoginFailed):
    """Too many failed logins: the account refuses every password until ``until``."""

    def __init__(self, name: str, until: datetime) -> None:
        super().__init__(f"account {name} is locked until {until.isoformat(timespec='minutes')}")
        self.until = until


class StaffNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Staff:
    name: str
    admin: bool = False


class StaffRow(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String())
    admin: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    tokens: Mapped[list[TokenRow]] = relationship(cascade="all, delete-orphan")


class TokenRow(Base):
    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffAccounts:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._clock = clock
        self._hasher = PasswordHasher()
        self._dummy_hash: str | None = None

    @classmethod
    def from_settings(cls, settings: Any, *, clock: Callable[[], datetime] = utcnow) -> StaffAccounts:
        return cls(engine_from_settings(settings), clock=clock)

    def now(self) -> datetime:
        return as_utc(self._clock())

    def add(self, name: str, password: str, *, admin: bool = False) -> Staff:
        name = (name or "").strip()
        if not name:
            raise ValueError("a staff account needs a name")
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
        with write_session(self.engine) as session:
            if session.scalars(select(StaffRow).where(StaffRow.name == name)).first() is not None:
                raise ValueError(f"staff account {name!r} exists already")
            session.add(StaffRow(name=name, password_hash=self._hasher.hash(password), admin=admin,
                                 created_at=self.now(), failed_logins=0))
        return Staff(name, admin)

    def verify(self, name: str, password: str) -> Staff:
        """The account for a correct password; LoginFailed otherwise, LockedOut while locked."""
        now = self.now()
        with write_session(self.engine) as session:
            row = session.scalars(select(StaffRow).where(StaffRow.name == (name or "").strip())
                                  .with_for_update()).first()
            if row is None:
                self._waste_time(password)  # an unknown name costs the same as a wrong password
                raise LoginFailed("wrong name or password")
            if row.locked_until is not None and row.locked_until > now:
                raise LockedOut(row.name, row.locked_until)
            if self._password_ok(row.password_hash, password):
                row.failed_logins, row.first_failed_at, row.locked_until = 0, None, None
                if self._hasher.check_needs_rehash(row.password_hash):
                    row.password_hash = self._hasher.hash(password)
                return Staff(row.name, row.admin)
            if row.first_failed_at is None or now - row.first_failed_at > FAILURE_WINDOW:
                row.failed_logins, row.first_failed_at = 0, now
            row.failed_logins += 1
            if row.failed_logins >= MAX_FAILURES:
                row.failed_logins, row.first_failed_at, row.locked_until = 0, None, now + LOCKOUT
                locked = LockedOut(row.name, row.locked_until)
            else:
                locked = None
        # raised after the block so the counted failure is committed, not rolled back
        raise locked or LoginFailed("wrong name or password")

    def create_token(self, name: str) -> str:
        """A new API token for ``name``: shown once, only its digest is kept."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with write_session(self.engine) as session:
            row = session.scalars(select(StaffRow).where(StaffRow.name == name)).first()
            if row is None:
                raise StaffNotFound(f"no staff account {name!r}")
            row.tokens.append(TokenRow(token_sha256=token_digest(token), created_at=self.now()))
        return token

    def staff_for_token(self, token: str) -> Staff | None:
        if not token:
            return None
        with read_session(self.engine) as session:
            row = session.execute(
                select(StaffRow.name, StaffRow.admin)
                .join(TokenRow, TokenRow.staff_id == StaffRow.id)
                .where(TokenRow.token_sha256 == token_digest(token))
            ).first()
            return Staff(row.name, row.admin) if row else None

    def get(self, name: str) -> Staff | None:
        with read_session(self.engine) as session:
            row = session.scalars(select(StaffRow).where(StaffRow.name == name)).first()
            return Staff(row.name, row.admin) if row else None

    def list(self) -> list[Staff]:
        with read_session(self.engine) as session:
            return [Staff(r.name, r.admin) for r in session.scalars(select(StaffRow).order_by(StaffRow.name))]

    def _password_ok(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password or "")
        except (VerificationError, InvalidHashError):
            return False

    def _waste_time(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_hex(8))
        self._password_ok(self._dummy_hash, password)
