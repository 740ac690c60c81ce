"""Who may look: CPAS staff (argon2 passwords, lockout, sessions) and the API's clients.

Not the ledger's business: its tables are defined here and live beside the ledger's in its
database, reached through the ledger's store (its writers' order, its audit trail, its clock).
Secrets are never stored: a session's or a client's token is kept as its SHA-256, a password as
its argon2id hash. Hashing a password takes tens of milliseconds of CPU on purpose, so it runs
in a thread, never on the event loop.
"""

import asyncio
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)

from ledger import LANGUAGES, InvalidInput, LedgerError
from ledger.clock import from_text, to_text
from ledger.domain import API_PAYMENT_CHANNELS, known
from ledger.limits import TEXT_LIMITS, check_text
from ledger.store import Store

USERNAME_LENGTH = 64
LABEL_LENGTH = 200
MIN_PASSWORD_LENGTH = 12
# A pass phrase, not a file: argon2 reads all of it.
MAX_PASSWORD_LENGTH = 1024
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,%d}$" % (USERNAME_LENGTH - 1))
CLIENT_ACTOR = "web:client"  # + ":" + the client's key: the per-address count's actor
LOGIN_ATTEMPT = "log-in-attempt"

# Each refusal of this module and the names of the parameters it carries, as ledger.errors'
# REFUSALS (the pages have a sentence for each; "cpas.missing" and "text.*" are the ledger's).
ACCESS_REFUSALS: Mapping[str, tuple[str, ...]] = {
    "username.malformed": ("min_length", "max_length"),
    "username.taken": ("username",),
    "username.unknown": ("username",),
    "password.too_short": ("min_length",),
    "client.kind_missing": (),
    "client.unknown": ("number",),
    "label.missing": (),
    "login.refused": (),
}

# Made by the ledger's migration 3 until December 2026, now here: created when missing from
# these definitions (Access.open). A change to them needs a migration of its own, here.
tables = MetaData()

staff = Table(
    "staff", tables,
    Column("id", Integer, primary_key=True),
    Column("username", String(USERNAME_LENGTH), nullable=False, unique=True),
    Column("cpas", String(TEXT_LIMITS["cpas"]), nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("language", String(2), nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("disabled_at", String(20)),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", String(20)),
)

staff_sessions = Table(
    "staff_sessions", tables,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the cookie's token
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", String(20), nullable=False),
    Column("last_seen_at", String(20), nullable=False),
)

api_clients = Table(
    "api_clients", tables,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the bearer token
    Column("kind", String(8), nullable=False),  # cpas | channel
    Column("cpas", String(TEXT_LIMITS["cpas"])),  # kind cpas: whose residents
    Column("channel", String(12)),  # kind channel: the top-ups' channel
    Column("label", Text, nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("revoked_at", String(20)),
)


class LoginRefused(LedgerError):
    """Refused; `why` is for the audit trail only — a caller tells the person one thing."""

    code = "login.refused"

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why  # unknown | wrong | locked | disabled | throttled


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    cpas: str
    language: str


@dataclass(frozen=True)
class ApiClient:
    id: int
    kind: str  # cpas | channel
    cpas: str | None
    channel: str | None
    label: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Access:
    def __init__(self, store: Store, *, max_failures: int = 5,
                 lockout: timedelta = timedelta(minutes=15),
                 idle: timedelta = timedelta(minutes=30), longest: timedelta = timedelta(hours=10),
                 max_failures_per_client: int = 20):
        self._store = store
        self.max_failures = max_failures
        # Per client address, over `lockout`: log-ins begun and not ended by a session, whatever
        # the names tried (one address trying many names meets this, not the per-name lockout).
        self.max_failures_per_client = max_failures_per_client
        self.lockout = lockout
        self.idle = idle
        self.longest = longest
        self._hasher = PasswordHasher()
        # argon2 takes ~64 MiB and tens of ms a check: a flood of log-ins waits here, one at a
        # time, instead of filling every thread (and the memory) of the process — and never
        # takes both cores of a small machine from the balance line.
        self._hashing = asyncio.Semaphore(1)
        self._dummy_hash: str | None = None  # verified against for unknown names: same time

    @classmethod
    async def open(cls, store: Store, **options) -> "Access":
        """Its tables created where missing, in the writers' order: several instances starting
        at once create them once."""
        async with store.writing() as conn:
            await conn.run_sync(tables.create_all, checkfirst=True)
        return cls(store, **options)

    def _now(self) -> datetime:
        return self._store.clock.now()

    # ---- staff --------------------------------------------------------------------------------

    async def add_staff(self, username: str, cpas: str, password: str, language: str = "fr"
                        ) -> Staff:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise InvalidInput(
                "username", f"2 to {USERNAME_LENGTH} lower-case letters, digits, '.', "
                "'_' or '-'", "username.malformed", min_length=2,
                max_length=USERNAME_LENGTH)
        if not cpas.strip():
            raise InvalidInput("cpas", "a CPAS code is needed", "cpas.missing")
        check_text("cpas", cpas.strip())
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput("password", f"at least {MIN_PASSWORD_LENGTH} characters",
                               "password.too_short", min_length=MIN_PASSWORD_LENGTH)
        check_text("password", password, MAX_PASSWORD_LENGTH)
        known("language", language, LANGUAGES)
        async with self._hashing:
            hashed = await asyncio.to_thread(self._hasher.hash, password)
        s = staff
        async with self._store.writing() as conn:
            if (await conn.execute(select(s.c.id).where(s.c.username == username))).first():
                raise InvalidInput("username", f"{username!r} exists already", "username.taken",
                                   username=username)
            result = await conn.execute(s.insert().values(
                username=username, cpas=cpas.strip(), password_hash=hashed, language=language,
                created_at=to_text(self._now()), failed_logins=0))
            return Staff(result.inserted_primary_key[0], username, cpas.strip(), language)

    async def disable_staff(self, username: str) -> None:
        """Disabled at once: its sessions end too."""
        s = staff
        async with self._store.writing() as conn:
            row = (await conn.execute(select(s.c.id).where(
                s.c.username == username.strip().lower()))).first()
            if row is None:
                raise InvalidInput("username", f"no staff member is called {username!r}",
                                   "username.unknown", username=username)
            await conn.execute(update(s).where(s.c.id == row[0]).values(
                disabled_at=to_text(self._now())))
            await conn.execute(delete(staff_sessions).where(
                staff_sessions.c.staff_id == row[0]))

    async def log_in(self, username: str, password: str, *, replacing: str | None = None,
                     client: str | None = None) -> tuple[Staff, str]:
        """A new session's token (ending the session `replacing`, if any), or LoginRefused.

        `client`: a key for the address the attempt came from (the pages give a keyed hash of
        it, never the address). Each attempt from it is written to the audit trail in the
        transaction that counts the earlier ones, and a success writes its end: more than
        `max_failures_per_client` attempts without a session within `lockout` are refused as
        `throttled`, before any name is looked at. The count lives in the database, so every
        instance sees the same one.

        Each attempt is counted before its password is checked, in the transaction that reads
        the count, so attempts sent all at once get `max_failures` checks at most: the ones
        beyond lock the account. `max_failures` wrong passwords in a row lock it for `lockout`.
        Every refusal costs the same argon2 check, so the time taken does not tell an unknown
        name, a disabled account or a locked one from a wrong password.
        """
        s = staff
        now = self._now()
        locked_from_now = {"failed_logins": 0, "locked_until": to_text(now + self.lockout)}
        if client is not None and not await self._store.trail.take_turn(
                f"{CLIENT_ACTOR}:{client}", LOGIN_ATTEMPT, since=now - self.lockout, at=now,
                most=self.max_failures_per_client):
            raise LoginRefused("throttled")
        async with self._store.writing() as conn:
            row = (await conn.execute(select(
                s.c.id, s.c.username, s.c.cpas, s.c.language, s.c.password_hash, s.c.disabled_at,
                s.c.failed_logins, s.c.locked_until).where(
                s.c.username == username.strip().lower()))).first()
            refusal = None
            if row is None:
                refusal = "unknown"
            elif row.disabled_at:
                refusal = "disabled"
            elif row.locked_until and from_text(row.locked_until) > now:
                refusal = "locked"
            elif row.failed_logins >= self.max_failures:  # more attempts than checks allowed
                await conn.execute(update(s).where(s.c.id == row.id).values(**locked_from_now))
                refusal = "locked"
            else:
                await conn.execute(update(s).where(s.c.id == row.id).values(
                    failed_logins=row.failed_logins + 1))
        if refusal:
            await self._verify(await self._dummy(), password)
            raise LoginRefused(refusal)
        if not await self._verify(row.password_hash, password):
            if row.failed_logins + 1 < self.max_failures:
                raise LoginRefused("wrong")
            async with self._store.writing() as conn:
                await conn.execute(update(s).where(s.c.id == row.id).values(**locked_from_now))
            raise LoginRefused("locked")
        token = secrets.token_urlsafe(32)
        t = staff_sessions
        async with self._store.writing() as conn:
            await conn.execute(update(s).where(s.c.id == row.id).values(
                failed_logins=0, locked_until=None))
            if replacing:  # no session outlives a new log-in on the same browser
                await conn.execute(delete(t).where(t.c.token_hash == _digest(replacing)))
            await conn.execute(t.insert().values(
                token_hash=_digest(token), staff_id=row.id, created_at=to_text(now),
                last_seen_at=to_text(now)))
        if client is not None:  # a session ends the attempt's count (AuditTrail.take_turn)
            await self._store.trail.record(now, f"{CLIENT_ACTOR}:{client}", LOGIN_ATTEMPT,
                                            None, "session")
        return Staff(row.id, row.username, row.cpas, row.language), token

    async def _verify(self, hashed: str, password: str) -> bool:
        try:
            async with self._hashing:
                return await asyncio.to_thread(self._hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            async with self._hashing:
                self._dummy_hash = await asyncio.to_thread(self._hasher.hash,
                                                           secrets.token_urlsafe(16))
        return self._dummy_hash

    async def session(self, token: str) -> Staff | None:
        """The staff member of a live session (and it is kept alive), or None."""
        t, s = staff_sessions, staff
        now = self._now()
        async with self._store.writing() as conn:
            row = (await conn.execute(select(
                t.c.id, t.c.created_at, t.c.last_seen_at, s.c.id.label("staff_id"), s.c.username,
                s.c.cpas, s.c.language, s.c.disabled_at)
                .select_from(t.join(s, s.c.id == t.c.staff_id))
                .where(t.c.token_hash == _digest(token)))).first()
            if row is None:
                return None
            expired = (now - from_text(row.last_seen_at) > self.idle
                       or now - from_text(row.created_at) > self.longest)
            if expired or row.disabled_at:
                await conn.execute(delete(t).where(t.c.id == row.id))
                return None
            await conn.execute(update(t).where(t.c.id == row.id).values(last_seen_at=to_text(now)))
            return Staff(row.staff_id, row.username, row.cpas, row.language)

    async def log_out(self, token: str) -> None:
        async with self._store.writing() as conn:
            await conn.execute(delete(staff_sessions).where(
                staff_sessions.c.token_hash == _digest(token)))

    # ---- API clients --------------------------------------------------------------------------

    async def add_client(self, label: str, *, cpas: str | None = None,
                         channel: str | None = None) -> tuple[ApiClient, str]:
        """A CPAS client (its residents' reads and office top-ups) or a payment channel (top-ups
        only, on any EAN). Returns the bearer token: shown once, kept only as its hash."""
        cpas = cpas.strip() if cpas is not None else None
        if (cpas is None) == (channel is None) or cpas == "":
            raise InvalidInput("client", "either a CPAS (its code) or a payment channel",
                               "client.kind_missing")
        if channel is not None:
            known("channel", channel, API_PAYMENT_CHANNELS)
        if not label.strip():
            raise InvalidInput("label", "say who the client is", "label.missing")
        check_text("label", label.strip(), LABEL_LENGTH)
        check_text("cpas", cpas)
        token = "saldo_" + secrets.token_urlsafe(32)
        kind = "cpas" if cpas else "channel"
        async with self._store.writing() as conn:
            result = await conn.execute(api_clients.insert().values(
                token_hash=_digest(token), kind=kind, cpas=cpas, channel=channel,
                label=label.strip(), created_at=to_text(self._now())))
        return ApiClient(result.inserted_primary_key[0], kind, cpas, channel, label.strip()), token

    async def client(self, token: str) -> ApiClient | None:
        c = api_clients
        async with self._store.reading() as conn:
            row = (await conn.execute(select(c.c.id, c.c.kind, c.c.cpas, c.c.channel, c.c.label)
                                      .where(c.c.token_hash == _digest(token),
                                             c.c.revoked_at.is_(None)))).first()
        return ApiClient(*row) if row else None

    async def revoke_client(self, client_id: int) -> None:
        c = api_clients
        async with self._store.writing() as conn:
            changed = await conn.execute(
                update(c).where(c.c.id == client_id, c.c.revoked_at.is_(None))
                .values(revoked_at=to_text(self._now())))
            if not changed.rowcount:
                raise InvalidInput("client", f"no live API client has the number {client_id}",
                                   "client.unknown", number=client_id)
