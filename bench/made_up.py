"""What the benchmarks share: made-up input (access points, amounts, the accounts file), where
the ledger lives (a SQLite file, or a database of its own on a PostgreSQL server), how the CPU
time of the processes involved is read, and how they print a profile."""

import asyncio
import io
import os
import platform
import pstats
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import aiohttp
import sqlalchemy
from sqlalchemy.engine import make_url

from ledger.ean import with_check_digit

EAN_PREFIX = "54144"
ENERGIES = ("electricity", "gas")
LANGUAGES = ("fr", "nl", "fr", "de", "nl")  # mostly French and Dutch, some German
POSTGRES_SCHEMES = ("postgresql", "postgres")
LOCAL_HOSTS = (None, "", "localhost", "127.0.0.1", "::1")


def require(condition: bool, message: str) -> None:
    # Not `assert`: a benchmark must fail loudly under python -O too.
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def make_ean(serial: int) -> str:
    return with_check_digit(f"{EAN_PREFIX}{serial:012d}")


def made_up_mobile(serial: int) -> str:
    return f"+32470{serial:06d}"


def belgian_amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def write_accounts_csv(path: Path, eans: list[str], activated_on: date, *,
                       with_mobile: int = 0) -> None:
    """With `with_mobile`, the first that many accounts get a mobile number (notify: sms)."""
    header = "ean;energy;language;activated_at" + (";mobile" if with_mobile else "")
    lines = [header]
    for i, ean in enumerate(eans):
        line = f"{ean};{ENERGIES[i % len(ENERGIES)]};{LANGUAGES[i % len(LANGUAGES)]};" \
               f"{activated_on.isoformat()}"
        if with_mobile:
            line += ";" + (made_up_mobile(i + 1) if i < with_mobile else "")
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- where the ledger lives ---------------------------------------------------------------------

def is_postgres(database_url: str | None) -> bool:
    return database_url is not None and make_url(database_url).drivername in POSTGRES_SCHEMES


async def postgres_connection(server_url: str):
    import asyncpg

    url = make_url(server_url)
    return await asyncpg.connect(user=url.username, password=url.password, host=url.host,
                                 port=url.port, database=url.database or "postgres")


@contextmanager
def scratch_database(server_url: str | None, folder: Path) -> Iterator[str]:
    """Yields the DATABASE_URL of an empty ledger: without a server URL, a SQLite file in
    `folder`; with a PostgreSQL server's URL, a new database on that server (its user must be
    allowed to create databases), dropped at the end."""
    if server_url is None:
        yield f"sqlite:///{folder / 'ledger.db'}"
        return
    require(is_postgres(server_url), "--database-url takes a PostgreSQL server's URL "
                                     "(postgresql://USER@HOST:PORT/DATABASE); without it the "
                                     "ledger is a SQLite file in a temporary folder")
    name = f"saldo_bench_{secrets.token_hex(6)}"

    async def execute(sql: str) -> None:
        admin = await postgres_connection(server_url)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(drivername="postgresql", database=name).render_as_string(
            hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _postgres_facts(database_url: str) -> dict:
    conn = await postgres_connection(database_url)
    try:
        settings = [f"{name} {await conn.fetchval(f'SHOW {name}')}"
                    for name in ("fsync", "synchronous_commit", "shared_buffers")]
        return {
            "version": await conn.fetchval("SHOW server_version"),
            "settings": ", ".join(settings),
            # Read while connected: this connection's process is the postmaster's child.
            "backend_stat": _stat_fields(await conn.fetchval("SELECT pg_backend_pid()")),
            # Counted when a connection is opened, reported by the backends within a second.
            "sessions": await conn.fetchval("SELECT sessions FROM pg_stat_database "
                                            "WHERE datname = current_database()"),
        }
    finally:
        await conn.close()


def describe_postgres(database_url: str) -> str:
    facts = asyncio.run(_postgres_facts(database_url))
    return f"PostgreSQL {facts['version']} ({facts['settings']})"


def postgres_sessions(database_url: str) -> int:
    """Connections opened to this database so far (each reading opens one: between two
    readings, subtract 1 for the first one's)."""
    return asyncio.run(_postgres_facts(database_url))["sessions"]


def postgres_server_pid(database_url: str | None) -> int | None:
    """The PostgreSQL server process (the postmaster) serving this database when it runs on
    this machine, so that its CPU time can be read; else None."""
    if not is_postgres(database_url) or make_url(database_url).host not in LOCAL_HOSTS:
        return None
    fields = asyncio.run(_postgres_facts(database_url))["backend_stat"]
    return int(fields[1]) if fields else None  # ppid


# ---- CPU time -----------------------------------------------------------------------------------

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from its 3rd field (state, ppid, …), or None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far (Linux's /proc)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND if fields else 0.0


def server_cpu_seconds(pid: int) -> float:
    """CPU time a server and all its children have used so far, those that ended included:
    PostgreSQL's postmaster forks a process for each connection."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, and those of its ended children
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (child := _stat_fields(int(entry.name))) \
                and child[1] == str(pid):
            ticks += sum(int(v) for v in child[11:15])
    return ticks / TICKS_PER_SECOND


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used so far (all cores; idle and I/O wait
    left out)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, iowait, guest = ticks[3], ticks[4], sum(ticks[8:10])  # guest: counted in user already
    return (sum(ticks) - idle - iowait - guest) / TICKS_PER_SECOND


class CpuMeter:
    """CPU seconds used between start() and stop(): by each group of processes (a label and a
    function reading their CPU time so far), and by the rest of the machine (other processes
    on it: tests, other benchmarks)."""

    def __init__(self, groups: dict[str, Callable[[], float]]):
        self.groups = groups
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        readings = {label: read() for label, read in self.groups.items()}
        readings["machine"] = machine_busy_seconds()
        return readings

    def start(self) -> None:
        self._before = self._read()
        self._started = time.perf_counter()

    def stop(self) -> None:
        after = self._read()
        self.wall = time.perf_counter() - self._started
        used = {label: after[label] - self._before[label] for label in after}
        machine = used.pop("machine")
        self.used = used | {"other processes": max(0.0, machine - sum(used.values()))}

    def summary(self) -> str:
        cores = len(os.sched_getaffinity(0))
        parts = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in self.used.items())
        return f"{self.wall:.1f} s × {cores} cores = {self.wall * cores:.1f} s: {parts}"


def load_average() -> str:
    return "load average {:.2f}, {:.2f}, {:.2f} (1, 5, 15 min)".format(*os.getloadavg())


# ---- profiles -----------------------------------------------------------------------------------

def print_profile(stats_source, heading: str, top: int = 30) -> None:
    """`stats_source`: a cProfile.Profile or the file it was dumped to."""
    print(f"\n{heading}")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(stats_source, stream=out).sort_stats(order).print_stats(top)
        print(f"\n---- top {top} by {order} ----")
        print(out.getvalue().split("\n\n", 1)[-1].strip())


def print_machine() -> None:
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"aiohttp {aiohttp.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
          f"nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), {platform.machine()}")


@contextmanager
def bench_database(database_url: str | None, *, quiet: bool = False
                   ) -> Iterator[tuple[str, Path]]:
    """The machine and its load printed (unless `quiet`), then a scratch ledger database (see
    scratch_database) and a temporary folder for the run: (DATABASE_URL, folder)."""
    if not quiet:
        print_machine()
        print(f"machine before setup: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="saldo-bench-") as tmp, \
            scratch_database(database_url, Path(tmp)) as url:
        if is_postgres(url):
            print(f"database: {describe_postgres(url)}, a new database of its own")
        yield url, Path(tmp)
