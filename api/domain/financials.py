"""The financial report: a month (and each of its UTC days) of a reseller's money, per client,
or the operator's, per reseller, read from the rollups only (never a scan of postings or calls).

Where the figures come from. Every money figure is a sum over ``ledger_rollups``
(``api.domain.ledger``: the postings of each account summed per UTC day of the entry, entry
kind, and the entry's reseller and client), so the report equals the ledger to the micro; a
day is the UTC day the entry was posted. The call counts come from ``call_rollups``
(``api.domain.calls``) and follow the calls' UTC start day (a call delivered after midnight is
counted on the day it started, its money on the day it was posted).

Notation: Σ(account, kinds) is the sum of the postings to that account (``client`` = the
reseller's clients' accounts ``client:M``, ``reseller`` = ``reseller:N``,
``operator_commission`` = ``operator:commission:CUR``) of the reseller's entries of those
kinds; "no client" narrows to entries that name no client. The posting rules are those of
``api/domain/payments.py`` and ``api/domain/calls.py``.

==================  ===============================================================  =========
figure              definition                                                       per client
==================  ===============================================================  =========
calls_sell          -Σ(client, calls): what clients were charged for calls           yes
client_fees         -Σ(client, package_monthly_fee, package_setup_fee, did_monthly_fee,
                    did_client_setup_fee): the fees clients were charged               yes
charges             -Σ(client, client_charge): manual charges                         yes
invoiced            -Σ(client, invoice_adjustment) - invoice_tax: what sent invoices,    yes
                    their voids and credit notes changed, net of tax (a line added
                    or edited on a draft, a price-list line; negative when given back)
invoice_tax         Σ(reseller_tax, invoice_adjustment): the tax of those changes,     yes
                    owed to the tax authority, not earned (never in revenue)
revenue             calls_sell + client_fees + charges + invoiced: what clients were   yes
                    charged, net of tax
                    (both models; in the commission model this money is the
                    operator's, see earnings)
calls_cost          -Σ(reseller, calls): markup, what the reseller paid the operator
                    for its clients' calls (commission: 0, the operator holds the
                    clients' balances and the reseller pays no call cost)              yes
did_costs           -Σ(reseller, did_setup_fee, did_monthly_cost): numbers' costs       no
hostname_fees       -Σ(reseller, hostname_fee): custom hostnames                        no
cost                calls_cost + did_costs + hostname_fees: paid to the operator       calls
commissions         -Σ(operator_commission): commissions the operator credited the     yes
                    reseller on client deposits, net of claw-backs on refunds and
                    reversals (markup: 0)
earnings            the reseller's revenue: markup, ``revenue`` (its clients pay it);  yes
                    commission, ``commissions + charges + invoiced`` (the clients
                    pay the operator; the reseller earns its commission, and its
                    manual charges and invoice adjustments are paid to it)
profit              earnings - cost                                                    yes
client_deposits     Σ(client, client_payment, deposit): payments received from         yes
                    clients, by hand or from outside (PayPal)
transfers           Σ(client, client_transfer): credit the reseller moved to clients    yes
reseller_deposits   Σ(reseller, reseller_deposit) + Σ(reseller, deposit, no client):    no
                    the reseller's top-ups with the operator (by the operator, or
                    paid from outside)
adjustments         Σ(reseller, reseller_adjustment): the operator's corrections        no
client_refunds      -Σ(client, client_refund, deposit_refund, deposit_reversal,         yes
                    deposit_reinstate): refunds and reversals of client payments,
                    net of canceled reversals
reseller_refunds    -Σ(reseller, deposit_refund, deposit_reversal, deposit_reinstate,   no
                    no client): refunds and reversals of the reseller's top-ups
calls,              from ``call_rollups``: calls and their answered seconds           yes
answered_seconds    (``billsec``, not rounded to increments), by start day
==================  ===============================================================  =========

Figures marked "no" belong to the reseller, not to a client: the rows of the per-client
breakdown add up to the totals except for them. The operator's report shows the same figures
per reseller, and totals per currency (one row per currency a reseller has). Amounts are
integers in micros, in the reseller's currency.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

from sqlalchemy import String, cast, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.models import Account, CallRollup, Client, LedgerRollup, Reseller

CLIENT_FEE_KINDS = (
    "package_monthly_fee",
    "package_setup_fee",
    "did_monthly_fee",
    "did_client_setup_fee",
)
DEPOSIT_CORRECTIONS = ("deposit_refund", "deposit_reversal", "deposit_reinstate")

# (account kind, entry kind or None for any) -> (figure, sign, only entries without a client)
_RULES: dict[tuple[str, str | None], list[tuple[str, int, bool]]] = {
    ("client", "calls"): [("calls_sell", -1, False)],
    **{("client", kind): [("client_fees", -1, False)] for kind in CLIENT_FEE_KINDS},
    ("client", "client_charge"): [("charges", -1, False)],
    ("client", "invoice_adjustment"): [("invoiced", -1, False)],
    ("reseller_tax", "invoice_adjustment"): [("invoiced", -1, False), ("invoice_tax", 1, False)],
    ("reseller", "calls"): [("calls_cost", -1, False)],
    ("reseller", "did_setup_fee"): [("did_costs", -1, False)],
    ("reseller", "did_monthly_cost"): [("did_costs", -1, False)],
    ("reseller", "hostname_fee"): [("hostname_fees", -1, False)],
    ("operator_commission", None): [("commissions", -1, False)],
    ("client", "client_payment"): [("client_deposits", 1, False)],
    ("client", "deposit"): [("client_deposits", 1, False)],
    ("client", "client_transfer"): [("transfers", 1, False)],
    ("reseller", "reseller_deposit"): [("reseller_deposits", 1, False)],
    ("reseller", "deposit"): [("reseller_deposits", 1, True)],
    ("reseller", "reseller_adjustment"): [("adjustments", 1, False)],
    ("client", "client_refund"): [("client_refunds", -1, False)],
    **{("client", kind): [("client_refunds", -1, False)] for kind in DEPOSIT_CORRECTIONS},
    **{("reseller", kind): [("reseller_refunds", -1, True)] for kind in DEPOSIT_CORRECTIONS},
}
_ACCOUNT_KINDS = sorted({account_kind for account_kind, _ in _RULES})
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class Figures:
    """The figures of one reseller (or a sum of resellers in one currency) over a period; see
    the module docstring for each one's definition."""

    currency: str
    calls_sell: int = 0
    client_fees: int = 0
    charges: int = 0
    invoiced: int = 0
    invoice_tax: int = 0
    calls_cost: int = 0
    did_costs: int = 0
    hostname_fees: int = 0
    commissions: int = 0
    earnings: int = 0
    client_deposits: int = 0
    transfers: int = 0
    reseller_deposits: int = 0
    adjustments: int = 0
    client_refunds: int = 0
    reseller_refunds: int = 0
    calls: int = 0
    seconds: int = 0

    @property
    def revenue(self) -> int:
        return self.calls_sell + self.client_fees + self.charges + self.invoiced

    @property
    def cost(self) -> int:
        return self.calls_cost + self.did_costs + self.hostname_fees

    @property
    def profit(self) -> int:
        return self.earnings - self.cost

    def add(self, other: Figures) -> None:
        for f in fields(self):
            if f.name != "currency":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class DayFigures:
    day: date
    totals: list[Figures]  # one per currency


@dataclass
class ClientFigures:
    client: Client
    figures: Figures


@dataclass
class ResellerFigures:
    reseller: Reseller
    figures: Figures


@dataclass
class FinancialReport:
    month: date  # its first day
    reseller: Reseller | None  # None: every reseller (the operator)
    totals: list[Figures]
    days: list[DayFigures]
    clients: list[ClientFigures] = field(default_factory=list)
    resellers: list[ResellerFigures] = field(default_factory=list)


def parse_month(text: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first day and the first day of the next month."""
    m = _MONTH.match(text.strip()) if isinstance(text, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise invalid("month", "the month is YYYY-MM, e.g. 2026-03")
    first = date(int(m.group(1)), int(m.group(2)), 1)
    return first, first + timedelta(days=calendar.monthrange(first.year, first.month)[1])


def _check_reader(actor: Actor) -> None:
    actor.require("reports:read")
    if actor.client_id is not None:  # pragma: no cover - clients never hold reports:read
        raise DomainError(ErrorCode.PERMISSION_DENIED, "this needs the reports:read permission")


class _Accumulator:
    """Figures per (group, reseller), filled from rollup rows by the rules."""

    def __init__(self, resellers: dict[int, Reseller]) -> None:
        self.resellers = resellers
        self.raw: dict[tuple, Figures] = {}

    def figures(self, group: object, reseller_id: int) -> Figures:
        key = (group, reseller_id)
        got = self.raw.get(key)
        if got is None:
            got = self.raw[key] = Figures(self.resellers[reseller_id].currency)
        return got

    def add_money(
        self, group: object, reseller_id: int, account_kind: str, kind: str, no_client: bool, total
    ) -> None:
        rules = _RULES.get((account_kind, kind)) or _RULES.get((account_kind, None)) or []
        for name, sign, only_no_client in rules:
            if only_no_client and not no_client:
                continue
            target = self.figures(group, reseller_id)
            setattr(target, name, getattr(target, name) + sign * int(total))

    def finish(self) -> None:
        for (_, reseller_id), figures in self.raw.items():
            if self.resellers[reseller_id].billing_model == "commission":
                figures.earnings = figures.commissions + figures.charges + figures.invoiced
            else:
                figures.earnings = figures.revenue


_GROUPS = {
    "day": (LedgerRollup.day, CallRollup.day),
    "client": (LedgerRollup.client_id, CallRollup.client_id),
}


def _money_rows(group: str, first: date, end: date, reseller_id: int | None):
    """The month's ledger rollups summed per ``group`` (day or client), reseller, account
    kind, entry kind and whether the entries name a client; the first column names the group,
    the second is its value as text (so that groups of both kinds make one union)."""
    column = _GROUPS[group][0]
    no_client = (LedgerRollup.client_id == 0).label("no_client")
    stmt = (
        select(
            literal(group).label("grouping"),
            cast(column, String).label("g"),
            LedgerRollup.reseller_id,
            Account.kind,
            LedgerRollup.kind,
            no_client,
            func.sum(LedgerRollup.amount),
        )
        .join(Account, Account.id == LedgerRollup.account_id)
        .where(
            LedgerRollup.day >= first,
            LedgerRollup.day < end,
            Account.kind.in_(_ACCOUNT_KINDS),
        )
        .group_by(column, LedgerRollup.reseller_id, Account.kind, LedgerRollup.kind, no_client)
    )
    if reseller_id is not None:
        return stmt.where(LedgerRollup.reseller_id == reseller_id)
    return stmt.where(LedgerRollup.reseller_id > 0)


def _call_rows(group: str, first: date, end: date, reseller_id: int | None):
    column = _GROUPS[group][1]
    stmt = (
        select(
            literal(group).label("grouping"),
            cast(column, String).label("g"),
            CallRollup.reseller_id,
            func.sum(CallRollup.calls),
            func.sum(CallRollup.seconds),
        )
        .where(CallRollup.day >= first, CallRollup.day < end)
        .group_by(column, CallRollup.reseller_id)
    )
    if reseller_id is not None:
        stmt = stmt.where(CallRollup.reseller_id == reseller_id)
    return stmt


def _one(statements: list):
    return statements[0] if len(statements) == 1 else union_all(*statements)


async def _grouped(
    session: AsyncSession,
    resellers: dict[int, Reseller],
    first: date,
    end: date,
    reseller_id: int | None,
    groups: tuple[str, ...],
) -> dict[str, dict[tuple, Figures]]:
    """Figures per group value and reseller, for each of ``groups`` ("day", "client"): one
    statement over the ledger rollups and one over the call rollups, whatever the groups."""
    if len(groups) > 1 and session.get_bind().dialect.name == "postgresql":
        rows, calls = await _grouping_sets(session, first, end, reseller_id)
    else:
        money = _one([_money_rows(g, first, end, reseller_id) for g in groups])
        calls_stmt = _one([_call_rows(g, first, end, reseller_id) for g in groups])
        rows = (await session.execute(money)).all()
        calls = (await session.execute(calls_stmt)).all()
    missing = {row[2] for row in (*rows, *calls)} - resellers.keys()
    if missing:
        for r in await session.scalars(select(Reseller).where(Reseller.id.in_(missing))):
            resellers[r.id] = r
    accs = {g: _Accumulator(resellers) for g in groups}
    by_client = "client"
    for grouping, value, rid, account_kind, kind, no_client, total in rows:
        group = int(value) if grouping == by_client else _as_date(value)
        accs[grouping].add_money(group, rid, account_kind, kind, bool(no_client), total)
    for grouping, value, rid, n, seconds in calls:
        group = int(value) if grouping == by_client else _as_date(value)
        figures = accs[grouping].figures(group, rid)
        figures.calls += int(n or 0)
        figures.seconds += int(seconds or 0)
    for acc in accs.values():
        acc.finish()
    return {g: acc.raw for g, acc in accs.items()}


async def _grouping_sets(
    session: AsyncSession, first: date, end: date, reseller_id: int | None
) -> tuple[list, list]:
    """PostgreSQL: the rows of ``_money_rows`` and ``_call_rows`` for both groups at once,
    each table read once (``GROUP BY GROUPING SETS``: the day of a client row is null)."""
    no_client = (LedgerRollup.client_id == 0).label("no_client")
    common = (LedgerRollup.reseller_id, Account.kind, LedgerRollup.kind, no_client)
    money = (
        select(
            LedgerRollup.day,
            LedgerRollup.client_id,
            *common,
            func.sum(LedgerRollup.amount),
        )
        .join(Account, Account.id == LedgerRollup.account_id)
        .where(
            LedgerRollup.day >= first,
            LedgerRollup.day < end,
            Account.kind.in_(_ACCOUNT_KINDS),
            LedgerRollup.reseller_id == reseller_id,
        )
        .group_by(
            func.grouping_sets(
                tuple_(LedgerRollup.day, *common), tuple_(LedgerRollup.client_id, *common)
            )
        )
    )
    calls = (
        select(
            CallRollup.day,
            CallRollup.client_id,
            CallRollup.reseller_id,
            func.sum(CallRollup.calls),
            func.sum(CallRollup.seconds),
        )
        .where(CallRollup.day >= first, CallRollup.day < end, CallRollup.reseller_id == reseller_id)
        .group_by(
            func.grouping_sets(
                tuple_(CallRollup.day, CallRollup.reseller_id),
                tuple_(CallRollup.client_id, CallRollup.reseller_id),
            )
        )
    )

    def as_groups(found) -> list:
        return [
            ("day", day.isoformat(), *rest) if day is not None else ("client", str(cid), *rest)
            for day, cid, *rest in found
        ]

    return (
        as_groups((await session.execute(money)).all()),
        as_groups((await session.execute(calls)).all()),
    )


def _as_date(value: str) -> date:
    return date.fromisoformat(value[:10])


def _per_currency(items: list[Figures]) -> list[Figures]:
    out: dict[str, Figures] = {}
    for figures in items:
        out.setdefault(figures.currency, Figures(figures.currency)).add(figures)
    return [out[cur] for cur in sorted(out)]


async def report(
    session: AsyncSession, actor: Actor, month: str, reseller_id: int | None = None
) -> FinancialReport:
    """The financial report of ``month`` (``YYYY-MM``, UTC): a reseller user's own reseller;
    for the operator, the reseller it names (with the per-client breakdown) or every reseller
    (with the per-reseller breakdown). Another tenant's reseller is not found."""
    _check_reader(actor)
    first, end = parse_month(month)
    if not actor.is_operator:
        if reseller_id is not None and reseller_id != actor.reseller_id:
            raise not_found("reseller", "resellerId")
        reseller_id = actor.reseller_id
    resellers: dict[int, Reseller] = {}
    reseller = None
    if reseller_id is not None:
        reseller = await session.get(Reseller, reseller_id)
        if reseller is None or not actor.sees_reseller(reseller_id):
            raise not_found("reseller", "resellerId")
        resellers[reseller.id] = reseller

    groups = ("day", "client") if reseller is not None else ("day",)
    grouped = await _grouped(session, resellers, first, end, reseller_id, groups)
    by_day = grouped["day"]
    days: dict[date, list[Figures]] = defaultdict(list)
    per_reseller: dict[int, Figures] = {}
    for (day, rid), figures in by_day.items():
        days[day].append(figures)
        total = per_reseller.setdefault(rid, Figures(resellers[rid].currency))
        total.add(figures)
    if reseller is not None:
        per_reseller.setdefault(reseller.id, Figures(reseller.currency))
    totals = _per_currency(list(per_reseller.values()))
    day_list = []
    day = first
    while day < end:
        day_list.append(DayFigures(day, _per_currency(days.get(day, [])) or _zeros(totals)))
        day += timedelta(days=1)
    out = FinancialReport(first, reseller, totals, day_list)
    out.resellers = sorted(
        (ResellerFigures(resellers[rid], figures) for rid, figures in per_reseller.items()),
        key=lambda item: (item.reseller.name, item.reseller.id),
    )
    if reseller is not None:
        by_client = grouped["client"]
        ids = [client_id for client_id, _ in by_client if client_id]
        clients = {c.id: c for c in await session.scalars(select(Client).where(Client.id.in_(ids)))}
        out.clients = sorted(
            (
                ClientFigures(clients[client_id], figures)
                for (client_id, _), figures in by_client.items()
                if client_id in clients
            ),
            key=lambda item: (item.client.name, item.client.id),
        )
    return out


def _zeros(totals: list[Figures]) -> list[Figures]:
    return [Figures(t.currency) for t in totals]


__all__ = [
    "ClientFigures",
    "DayFigures",
    "Figures",
    "FinancialReport",
    "ResellerFigures",
    "parse_month",
    "report",
]
