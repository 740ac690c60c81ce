"""`saldo demo`: a ledger of made-up customers in every state, in all three languages, served.

The history is posted through the ledger's own service functions with a clock moved day by day,
so the demo shows exactly what real imports and top-ups produce.
"""

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web
from sqlalchemy.engine import make_url

from ledger import (
    BRUSSELS,
    AccountInput,
    ConsumptionInput,
    DemoRefused,
    Ledger,
    SettableClock,
    State,
    SystemClock,
    format_cents,
)
from ledger.ean import with_check_digit
from portal.access import Access

from .access_log import RouteAccessLogger
from .app import create_app, open_ledger
from .settings import Settings

log = logging.getLogger("saldo.demo")

DEMO_PREFIX = "54144"
HISTORY_DAYS = 35


@dataclass(frozen=True)
class DemoCustomer:
    number: int
    name: str
    language: str
    energy: str
    target: State
    target_cents: int
    daily_cents: int
    power_limiter: bool = False
    cpas: str | None = None
    mobile: str | None = None
    email: str | None = None

    @property
    def ean(self) -> str:
        body = f"{DEMO_PREFIX}{self.number:012d}"
        return with_check_digit(body)


# Made-up people (seed 002: test data is never real). Balances from seed 003's examples.
CUSTOMERS = (
    DemoCustomer(1, "Camille Lambert", "fr", "electricity", State.NORMAL, 3880, 420,
                 cpas="CPAS-NAMUR", mobile="+32470000101"),
    DemoCustomer(2, "Sofie Janssens", "nl", "gas", State.LOW, 446, 510, mobile="+32470000102",
                 email="sofie.janssens@example.org", cpas="CPAS-NAMUR"),
    DemoCustomer(3, "Lukas Schmitz", "de", "electricity", State.EMERGENCY, -120, 380,
                 cpas="ÖSHZ-EUPEN", mobile="+32470000103"),
    DemoCustomer(4, "Nadia Fontaine", "fr", "electricity", State.DISCONNECTION_PENDING, -1592, 450,
                 cpas="CPAS-NAMUR", mobile="+32470000104"),
    DemoCustomer(5, "Pieter De Smet", "nl", "gas", State.DISCONNECTED, -1620, 430,
                 email="pieter.desmet@example.org", cpas="CPAS-NAMUR"),
    DemoCustomer(6, "Marie Kessler", "de", "electricity", State.POWER_LIMITED, -1610, 400,
                 power_limiter=True, mobile="+32470000106"),
    DemoCustomer(7, "Julien Renard", "fr", "gas", State.EMERGENCY, -870, 560, cpas="CPAS-NAMUR",
                 email="julien.renard@example.org"),
    DemoCustomer(8, "Emma Wouters", "nl", "electricity", State.NORMAL, 6167, 350,
                 mobile="+32470000108"),
    DemoCustomer(9, "Greta Hansen", "de", "electricity", State.LOW, 320, 300, cpas="ÖSHZ-EUPEN"),
)


async def build_demo(ledger: Ledger, clock: SettableClock, now: datetime) -> bool:
    """Creates the demo ledger once. False if it is already there; refuses a database of real data."""
    marker = await ledger.get_meta("demo")
    if marker == "yes":
        return False
    if marker == "building":
        raise DemoRefused("an earlier `saldo demo` was stopped while it built the demo; "
                          "delete the demo's database (file) and run it again")
    if await ledger.count_accounts():
        raise DemoRefused("this database holds accounts that are not the demo's; "
                          "set DATABASE_URL to another database for the demo")
    await ledger.set_meta("demo", "building")
    # Each customer's last posting: a cut-off meter was exhausted outside the NDP, so it is cut
    # off whatever the hour now; the others land on their balance now.
    landing = {c.number: _last_moment_outside_ndp(ledger, now)
               if c.target in (State.DISCONNECTED, State.POWER_LIMITED) else now
               for c in CUSTOMERS}
    landing_day = {number: _local_day(moment) - timedelta(days=1)
                   for number, moment in landing.items()}
    history_end = min(landing_day.values()) - timedelta(days=1)
    first_day = history_end - timedelta(days=HISTORY_DAYS)
    clock.current = _at(first_day, time(9))
    await ledger.import_accounts(
        AccountInput(ean=c.ean, energy=c.energy, language=c.language, name=c.name, mobile=c.mobile,
                     email=c.email, power_limiter=c.power_limiter, cpas=c.cpas,
                     transferred_cents=1200 if c.number % 3 == 0 else None)
        for c in CUSTOMERS)
    for offset in range((history_end - first_day).days + 1):
        day = first_day + timedelta(days=offset)
        clock.current = _at(day + timedelta(days=1), time(6))  # yesterday's data, each morning
        await ledger.post_consumption(
            ConsumptionInput(ean=c.ean, day=day, amount_cents=_wobble(c.daily_cents, offset))
            for c in CUSTOMERS)
        if offset % 9 == 1:  # a top-up every 9 days, about what those days will use
            clock.current += timedelta(hours=8)
            for c in CUSTOMERS:
                await ledger.top_up(c.ean, min(250_00, c.daily_cents * 10 + 10_00),
                                    "terminal" if c.number % 2 else "online",
                                    f"demo-{c.number}-{offset}")
    for c in CUSTOMERS:
        clock.current = landing[c.number]
        gap = (landing_day[c.number] - history_end).days - 1
        await ledger.post_consumption(
            ConsumptionInput(ean=c.ean, day=history_end + timedelta(days=i + 1),
                             amount_cents=c.daily_cents) for i in range(gap))
        await _land_on_target(ledger, c, landing_day[c.number])
    clock.current = now
    # Seed 003's example: earlier debts of 15,00 € on a payment plan of 5,00 € a day.
    await ledger.add_payment_plan(CUSTOMERS[7].ean, 15_00, 5_00, "demo-prior-debt")
    access = await Access.open(ledger.store)
    for username, cpas, language in DEMO_STAFF:
        await access.add_staff(username, cpas, DEMO_STAFF_PASSWORD, language)
    await ledger.set_meta("demo", "yes")
    return True


def _local_day(moment: datetime) -> date:
    return moment.astimezone(BRUSSELS).date()


def _at(day: date, hour: time) -> datetime:
    return datetime.combine(day, hour, tzinfo=BRUSSELS).astimezone(UTC)


def _last_moment_outside_ndp(ledger: Ledger, now: datetime) -> datetime:
    moment = now
    while ledger.ndp.contains(moment):
        moment -= timedelta(minutes=30)
    return moment


def _wobble(cents: int, offset: int) -> int:
    """Made-up days are not all alike: ±20 % in a fixed pattern."""
    return cents + cents * ((offset * 7) % 9 - 4) // 20


async def _land_on_target(ledger: Ledger, customer: DemoCustomer, last_day) -> None:
    """Yesterday's consumption is chosen so the balance lands on the customer's target."""
    view = await ledger.balance_view(customer.ean, actor="demo", purpose="demo-setup")
    repayment = view.debt_daily_cents
    needed = view.balance_cents - repayment - customer.target_cents
    if needed < 0:
        whole_euros = (-needed + 599) // 100 * 100
        await ledger.top_up(customer.ean, min(250_00, whole_euros), "cpas",
                            f"demo-{customer.number}-final")
        view = await ledger.balance_view(customer.ean, actor="demo", purpose="demo-setup")
        needed = view.balance_cents - repayment - customer.target_cents
    await ledger.post_consumption([ConsumptionInput(ean=customer.ean, day=last_day,
                                                    amount_cents=max(0, needed))])


DEMO_AUTH_TOKEN = "saldo-demo-token"  # made up: the demo's line answers `saldo call` only
# Made-up staff of two CPAS, with a made-up password the demo prints: demo data only.
DEMO_STAFF = (("demo.namur", "CPAS-NAMUR", "fr"), ("demo.eupen", "ÖSHZ-EUPEN", "de"))
DEMO_STAFF_PASSWORD = "demo-password-not-secret"


def run_demo(settings: Settings, *, serve: bool) -> int:
    settings = replace(
        settings,
        twilio_auth_token=settings.twilio_auth_token or DEMO_AUTH_TOKEN,
        public_base_url=settings.public_base_url or f"http://localhost:{settings.port}",
        portal_secure_cookies=False)  # the demo is served over plain http on this machine
    created = asyncio.run(_create(settings))
    # A PostgreSQL URL's password stays off the screen.
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    print("saldo demo: " + ("created a demo ledger of made-up customers" if created
                            else "the demo ledger is already there") + f" ({where})")
    asyncio.run(_print_accounts(settings))
    base = f"http://localhost:{settings.port}"
    print("""
  A meter exhausted inside the non-disconnection period (weekday nights, weekends, holidays) is
  'disconnection_pending' until the period ends, then 'disconnected'.""")
    print(f"""
Try it:
  saldo balance {CUSTOMERS[2].ean[-13:]}          the balance view of one customer (13 digits)
  saldo balance {CUSTOMERS[2].ean[-13:]} --json   the same, as JSON
  saldo topup {CUSTOMERS[4].ean[-13:]} 20 --channel cpas --reference DEMO-1
  curl {base}/healthz
  TWILIO_AUTH_TOKEN={settings.twilio_auth_token} PUBLIC_BASE_URL={settings.public_base_url} saldo call
                                         the balance line, from this terminal (2 = français)
  {base}/cpas/    the CPAS pages: log in as {DEMO_STAFF[0][0]} (or {DEMO_STAFF[1][0]}),
                                         password {DEMO_STAFF_PASSWORD}""")
    if not serve:
        return 0
    print(f"\nServing on {base} with the worker inside; Ctrl+C stops.")
    web.run_app(create_app(settings, with_demo_worker=True), host=settings.host, port=settings.port,
                access_log_class=RouteAccessLogger, print=None)
    return 0


async def _create(settings: Settings) -> bool:
    clock = SettableClock(datetime.now(UTC))
    ledger = await open_ledger(settings, clock)
    try:
        return await build_demo(ledger, clock, datetime.now(UTC))
    finally:
        await ledger.close()


async def _print_accounts(settings: Settings) -> None:
    ledger = await open_ledger(settings, SystemClock())
    try:
        print(f"\n  {'last 13 digits':<15} {'lang':<4} {'energy':<11} {'balance':>9}  state")
        for customer in CUSTOMERS:
            view = await ledger.balance_view(customer.ean, actor="demo", purpose="demo-listing")
            print(f"  {customer.ean[-13:]:<15} {view.language:<4} {view.energy:<11} "
                  f"{format_cents(view.balance_cents):>9}  {view.state.value}")
    finally:
        await ledger.close()
