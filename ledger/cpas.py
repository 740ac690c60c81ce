"""What a CPAS may see and do, under its mandate only (seed 002). Reached as `ledger.cpas`.

An account of another CPAS is answered exactly as an unknown one (UnknownAccount), and the
attempt is written to the audit trail as `foreign`.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, union_all

from . import schema
from .accounts import load_accounts, view_of
from .books import TopUpReference, balance_book
from .calendar import NonDisconnectionPeriod
from .clock import BRUSSELS, from_text, to_text
from .db import fetch_rows
from .domain import ATTENTION_ORDER
from .ean import short_or_full
from .errors import InvalidInput, UnknownAccount
from .inputs import Resident
from .names import folded
from .outbox import MessageRecord
from .rules import EXHAUSTED_AT_CENTS
from .store import Store
from .view import OUTFLOW_WINDOW_DAYS, BalanceView

HISTORY_DAYS = 60
POSTINGS_SHOWN = 50


@dataclass(frozen=True)
class DebtLine:
    kind: str  # start_credit | payment_plan
    principal_cents: int
    outstanding_cents: int
    daily_cents: int


@dataclass(frozen=True)
class Day:
    """One day in Brussels: what was consumed, and the balance at its end."""

    day: date
    consumption_cents: int | None  # None: no consumption posted for that day
    balance_cents: int


@dataclass(frozen=True)
class PostingLine:
    at: datetime
    kind: str
    amount_cents: int  # + into the balance, − out of it
    day: date | None
    reference: str  # the ledger's idempotency key

    @property
    def receipt(self) -> str | None:
        """A top-up's own reference (receipt, transaction), as the payer gave it."""
        if self.kind != "topup":
            return None
        return TopUpReference.parse(self.reference).receipt


@dataclass(frozen=True)
class ResidentFile:
    name: str | None
    view: BalanceView
    debts: list[DebtLine]
    history: list[Day]  # oldest first, from the activation day, HISTORY_DAYS at most
    postings: list[PostingLine]  # newest first
    messages: list[MessageRecord]  # newest first
    going_without: bool = False  # ledger/hardship.py


class CpasDesk:
    def __init__(self, store: Store, ledger) -> None:
        """`ledger`: its public operations (views, top-ups, the outbox), which audit themselves."""
        self._store = store
        self._ledger = ledger

    async def _mandated_account(self, cpas: str, ean_text: str, actor: str, action: str
                                ) -> tuple[int, str, str | None]:
        """The account's id, EAN and name, if this CPAS has it under mandate."""
        try:
            ean = short_or_full(ean_text)
        except InvalidInput:
            await self._store.audit(actor=actor, action=action, ean=None, outcome="invalid",
                                    detail=cpas)
            raise UnknownAccount(ean_text) from None
        a = schema.accounts
        column = a.c.ean13 if len(ean) == 13 else a.c.ean
        async with self._store.reading() as conn:
            row = (await conn.execute(select(a.c.id, a.c.ean, a.c.name, a.c.cpas)
                                      .where(column == ean))).first()
        if row is None or row.cpas != cpas:
            await self._store.audit(actor=actor, action=action, ean=row.ean if row else ean,
                                    outcome="foreign" if row else "unknown", detail=cpas)
            raise UnknownAccount(ean_text)
        return row.id, row.ean, row.name

    async def resident(self, cpas: str, ean_text: str, *, actor: str) -> ResidentFile:
        """Everything a social worker needs about one resident; the look is audited."""
        account_id, ean, name = await self._mandated_account(cpas, ean_text, actor,
                                                             "cpas-resident")
        view = await self._ledger.balance_view(ean, actor=actor, purpose="cpas-resident",
                                               detail=cpas)
        d, p, t = schema.debts, schema.postings, schema.consumption_days
        book = balance_book(account_id)
        signed = case((p.c.to_book == book, p.c.amount_cents), else_=-p.c.amount_cents)
        mine = and_(p.c.account_id == account_id, or_(p.c.to_book == book, p.c.from_book == book))
        columns = (p.c.at, p.c.kind, signed, p.c.day, p.c.reference)
        # Bounded whatever the account's age: the chart's days, the last postings shown, and the
        # balance before the chart begins summed by the database.
        async with self._store.reading() as conn:
            activated, going_without = (await conn.execute(
                select(schema.accounts.c.activated_on, schema.accounts.c.going_without)
                .where(schema.accounts.c.id == account_id))).one()
            activated_on = date.fromisoformat(activated)
            first = _first_day_shown(self._store.clock.now(), activated_on)
            since = to_text(datetime.combine(first, datetime.min.time(), tzinfo=BRUSSELS))
            consumed = {date.fromisoformat(day): amount for day, amount in await fetch_rows(
                conn, select(t.c.day, t.c.amount_cents).where(t.c.account_id == account_id,
                                                               t.c.day >= first.isoformat()))}
            debts = [DebtLine(*row) for row in await fetch_rows(conn, select(
                d.c.kind, d.c.principal_cents, d.c.outstanding_cents, d.c.daily_cents)
                .where(d.c.account_id == account_id).order_by(d.c.id))]
            opening = (await conn.execute(select(func.coalesce(func.sum(signed), 0))
                                          .where(mine, p.c.at < since))).scalar_one()
            in_window = await fetch_rows(conn, select(*columns).where(mine, p.c.at >= since)
                                         .order_by(p.c.at, p.c.id))
            latest = await fetch_rows(conn, select(*columns).where(mine)
                                      .order_by(p.c.at.desc(), p.c.id.desc())
                                      .limit(POSTINGS_SHOWN))
        messages = await self._ledger.outbox.messages_for(ean)
        history = _history([_posting_line(*row) for row in in_window], consumed, opening,
                           self._store.clock.now(), first=first)
        return ResidentFile(name, view, debts, history, [_posting_line(*row) for row in latest],
                            messages, bool(going_without))

    async def top_up(self, cpas: str, ean_text: str, amount_cents: int, reference: str, *,
                     actor: str):
        """A top-up paid at the CPAS office, for a resident under its mandate."""
        _, ean, _ = await self._mandated_account(cpas, ean_text, actor, "cpas-topup")
        # Receipt numbers are the office's own: two CPAS may both have a receipt 0001.
        return await self._ledger.top_up(ean, amount_cents, "cpas", reference, actor=actor,
                                         issuer=cpas)


def _posting_line(at: str, kind: str, amount: int, day: str | None, reference: str
                  ) -> PostingLine:
    return PostingLine(from_text(at), kind, amount, date.fromisoformat(day) if day else None,
                       reference)


def _first_day_shown(now: datetime, activated_on: date) -> date:
    """HISTORY_DAYS back, or the activation (before it there was no prepayment to show)."""
    today = now.astimezone(BRUSSELS).date()
    return max(today - timedelta(days=HISTORY_DAYS - 1), activated_on)


def _history(postings: list[PostingLine], consumed: dict[date, int], opening_cents: int,
             now: datetime, *, first: date) -> list[Day]:
    """Each day from `first` to today: its posted consumption, and the balance at its end (all
    postings made by then, whatever day they concern; `opening_cents` those made before
    `first`, `postings` the others, oldest first)."""
    today = now.astimezone(BRUSSELS).date()
    days, balance, index = [], opening_cents, 0
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=BRUSSELS)
        while index < len(postings) and postings[index].at < end:
            balance += postings[index].amount_cents
            index += 1
        days.append(Day(day, consumed.get(day), balance))
    return days


# ---- the residents list, one page at a time ------------------------------------------------

RESIDENT_SORTS = ("attention", "name", "balance", "days")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
QUERY_MAX_LENGTH = 40


@dataclass(frozen=True)
class ResidentsPage:
    """One page of a CPAS's residents, in the order asked, and the counts of the whole list."""

    residents: list  # of ledger.Resident, in order
    total: int  # residents matching the search
    counts: dict[str, int]  # every resident under mandate, by state (ATTENTION_ORDER)
    offset: int
    limit: int


def _code_point_order(conn, expression):
    """As Python sorts text; PostgreSQL's default collation would not."""
    return expression.collate("C") if conn.dialect.name == "postgresql" else expression


def _lapsed_before(ndp: NonDisconnectionPeriod, now: datetime) -> datetime:
    """The latest announcement whose non-disconnection period is over by now: a cut announced
    until then is a cut now (the rules say so before the worker's tick records it). end_after
    never goes back in time, so it is found by halving."""
    if ndp.end_after(now) <= now:
        return now
    low, high = now - timedelta(days=62), now
    if ndp.end_after(low) > now:
        return low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if ndp.end_after(middle) <= now:
            low = middle
        else:
            high = middle
    return low


PENDING_RANK = ATTENTION_ORDER.index("disconnection_pending")


def _cut_rank(a):
    """A cut's rank: with the power limiter on, it is limited rather than off."""
    return case((a.c.power_limiter, ATTENTION_ORDER.index("power_limited")),
                else_=ATTENTION_ORDER.index("disconnected"))


CARE_PENDING = PENDING_RANK + 1  # accounts.care_order of a pending cut not going without


def _lapsed_pending(a, lapsed: str):
    """A disconnection announced by `lapsed`: the rules say it is a cut now."""
    return and_(or_(a.c.care_order == CARE_PENDING,
                    and_(a.c.care_order == 0, a.c.attention == PENDING_RANK)),
                a.c.pending_since <= lapsed)


def _by_attention(a, where: list, lapsed: str):
    """The households going without first (ledger/hardship.py), then the others in
    ATTENTION_ORDER as ledger.rules.classify ranks them now, then by balance, name and id: the
    accounts as the index on their care order (schema.py) orders them, merged with the few whose
    announced disconnection is due, ranked as cut."""
    standing = select(a.c.id, a.c.care_order.label("rank"), a.c.balance_cents, a.c.name_order
                      ).where(*where, or_(a.c.care_order != CARE_PENDING,
                                          a.c.pending_since.is_(None), a.c.pending_since > lapsed))
    due = select(a.c.id, (_cut_rank(a) + 1).label("rank"), a.c.balance_cents, a.c.name_order
                 ).where(*where, a.c.care_order == CARE_PENDING, a.c.pending_since <= lapsed)
    merged = union_all(standing, due)
    by = merged.selected_columns
    return merged.order_by(by.rank, by.balance_cents, by.name_order, by.id)


def _days_left(a):
    """ledger.view.estimated_days_left in SQL: the usable credit at the average outflow of the
    last 7 posted days (found by the consumption days' primary key, 7 rows an account)."""
    t, s = schema.consumption_days.alias("recent"), schema.consumption_days.alias("seventh")
    seventh = (select(s.c.day).where(s.c.account_id == a.c.id).order_by(s.c.day.desc())
               .limit(1).offset(OUTFLOW_WINDOW_DAYS - 1).correlate(a).scalar_subquery())
    window = and_(t.c.account_id == a.c.id, t.c.day >= func.coalesce(seventh, ""))
    total = (select(func.sum(t.c.amount_cents + t.c.repaid_cents)).where(window)
             .correlate(a).scalar_subquery())
    days = select(func.count()).select_from(t).where(window).correlate(a).scalar_subquery()
    usable = a.c.balance_cents - EXHAUSTED_AT_CENTS
    usable = case((usable > 0, usable), else_=0)
    return case((total > 0, usable * days // total), else_=None)


def _search(conn, a, query: str):
    """Digits: a part of the EAN's last 13; anything else: a part of the name, case and
    accents aside."""
    digits = query.replace(" ", "").replace(".", "")
    if digits.isascii() and digits.isdigit():
        return a.c.ean13.contains(digits, autoescape=True)
    return func.coalesce(a.c.name_key, "").contains(folded(query), autoescape=True)


def _order(conn, a, sort: str) -> list:
    """The other orders than attention's: each sorts the CPAS's residents whole."""
    if sort == "name":
        return [_code_point_order(conn, func.coalesce(
            func.nullif(a.c.name_key, ""), "~")), a.c.ean]
    if sort == "balance":
        return [a.c.balance_cents, a.c.ean]
    # the fewest days left first; unknown last
    days = _days_left(a)
    return [days.is_(None), func.coalesce(days, 0), a.c.ean]


@dataclass(frozen=True)
class Listing:
    """A page of the residents list asked for, as of `now`: checked when made, so that the
    reading (in a process of its own, ledger/listings.py) is given only what it can serve."""

    cpas: str
    sort: str
    query: str
    offset: int
    limit: int
    now: datetime
    ndp: NonDisconnectionPeriod

    def __post_init__(self) -> None:
        if self.sort not in RESIDENT_SORTS:
            raise InvalidInput("sort", f"one of {', '.join(RESIDENT_SORTS)}", "value.refused")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidInput("limit", f"from 1 to {MAX_PAGE_SIZE}", "value.refused")
        if self.offset < 0:
            raise InvalidInput("offset", "0 or more", "value.refused")
        query = "".join(c for c in self.query if c.isprintable()).strip()[:QUERY_MAX_LENGTH]
        object.__setattr__(self, "query", query)


async def residents_order(conn, listing: Listing) -> tuple[list[int], int, dict[str, int]]:
    """One page of a CPAS's residents (their ids, in the order asked), how many match the
    search, and how many of them all are in each state: three statements over the CPAS's
    accounts (found by their index), none returning more than `limit` rows or the six counts."""
    cpas, sort, query = listing.cpas, listing.sort, listing.query
    a = schema.accounts
    lapsed = to_text(_lapsed_before(listing.ndp, listing.now))
    mandate = a.c.cpas == cpas
    counts = dict.fromkeys(ATTENTION_ORDER, 0)
    # By the index's care order; the few going without (care order 0) by their standing.
    for care, count in await conn.execute(select(a.c.care_order, func.count()).where(mandate)
                                          .group_by(a.c.care_order)):
        if care:
            counts[ATTENTION_ORDER[care - 1]] += count
    for rank, count in await conn.execute(select(a.c.attention, func.count()).where(
            mandate, a.c.care_order == 0).group_by(a.c.attention)):
        counts[ATTENTION_ORDER[rank]] += count
    for cut_rank, count in await conn.execute(
            select(_cut_rank(a), func.count()).where(mandate, _lapsed_pending(a, lapsed))
            .group_by(a.c.power_limiter)):
        counts[ATTENTION_ORDER[PENDING_RANK]] -= count
        counts[ATTENTION_ORDER[cut_rank]] += count
    where = [mandate, _search(conn, a, query)] if query else [mandate]
    total = (await conn.execute(select(func.count()).select_from(a).where(*where))
             ).scalar_one() if query else sum(counts.values())
    ordered = (_by_attention(a, where, lapsed) if sort == "attention" else
               select(a.c.id).where(*where).order_by(*_order(conn, a, sort)))
    ids = [row[0] for row in await conn.execute(ordered.limit(listing.limit)
                                                .offset(listing.offset))]
    return ids, total, counts


async def read_residents(conn, listing: Listing) -> tuple[ResidentsPage, list[str]]:
    """The page, and its residents' EANs (for the audit trail)."""
    ids, total, counts = await residents_order(conn, listing)
    residents, eans = await resident_views(conn, ids, now=listing.now, ndp=listing.ndp)
    return ResidentsPage(residents, total, counts, listing.offset, listing.limit), eans


async def resident_views(conn, ids: list[int], *, now: datetime, ndp: NonDisconnectionPeriod
                         ) -> tuple[list[Resident], list[str]]:
    """These accounts as their CPAS sees them, in this order, and their EANs."""
    a, t = schema.accounts, schema.consumption_days
    names, going_without = {}, set()
    for id_, name, flagged in await fetch_rows(conn, select(a.c.id, a.c.name, a.c.going_without)
                                               .where(a.c.id.in_(ids))):
        names[id_] = name
        if flagged:
            going_without.add(id_)
    accounts = await load_accounts(conn, ids)
    newest_first = func.row_number().over(partition_by=t.c.account_id,
                                          order_by=t.c.day.desc()).label("n")
    recent = (select(t.c.account_id, (t.c.amount_cents + t.c.repaid_cents).label("out"),
                     newest_first).where(t.c.account_id.in_(ids)).subquery())
    outflows: dict[int, list[int]] = {id_: [] for id_ in ids}
    for account_id, out in await fetch_rows(conn, select(recent.c.account_id, recent.c.out)
                                            .where(recent.c.n <= OUTFLOW_WINDOW_DAYS)
                                            .order_by(recent.c.account_id, recent.c.n)):
        outflows[account_id].append(out)
    residents = [Resident(names[id_], view_of(accounts[id_], outflows[id_], now=now, ndp=ndp),
                          going_without=id_ in going_without) for id_ in ids]
    return residents, [accounts[id_].ean for id_ in ids]
