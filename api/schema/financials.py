"""GraphQL of the financial report (``financialReport``): a month of a reseller's money per day
and per client, or the operator's per reseller, read from the ledger rollups. Assembled as
``FinancialsQuery``; the figures are defined in ``api/domain/financials.py``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry import relay

from api.domain import financials as domain
from api.resolvers.context import Info
from api.schema.common import AnsweredTime, Money, UserError, described
from api.schema.types import Client, Reseller

ERRORS = "Expected failures (a bad month, not found, permission); when not empty, no report."


@strawberry.type(
    description="The money of a period, in one currency. Each figure is a sum of ledger "
    "postings (see the README, financial report): amounts exact to the micro."
)
class FinancialFigures(AnsweredTime):
    currency: str = strawberry.field(description="The currency of these figures.")
    revenue: Money = strawberry.field(
        description="What clients were charged, net of tax: calls sell + client fees + "
        "manual charges + invoiced."
    )
    calls_sell: Money = strawberry.field(description="What clients were charged for calls.")
    client_fees: Money = strawberry.field(
        description="Package and number (DID) monthly and setup fees clients were charged."
    )
    charges: Money = strawberry.field(description="Manual charges to clients.")
    invoiced: Money = strawberry.field(
        description="What sent invoices, their voids and credit notes changed on the clients' "
        "balances, net of tax (e.g. a line added to a draft); negative when given back."
    )
    invoice_tax: Money = strawberry.field(
        description="The tax of those invoice changes: owed, not earned, never in revenue."
    )
    cost: Money = strawberry.field(
        description="Paid to the operator: calls cost + number costs + hostname fees."
    )
    calls_cost: Money = strawberry.field(
        description="The platform cost of the clients' calls (markup model; 0 in the "
        "commission model, where the operator bills the clients)."
    )
    did_costs: Money = strawberry.field(
        description="Setup and monthly costs of the numbers (DIDs) the reseller holds."
    )
    hostname_fees: Money = strawberry.field(description="One-time fees of custom hostnames.")
    commissions: Money = strawberry.field(
        description="Commissions earned on client deposits, net of claw-backs (commission "
        "model; 0 in the markup model)."
    )
    earnings: Money = strawberry.field(
        description="The reseller's revenue: markup model, `revenue`; commission model, "
        "`commissions` + `charges` + `invoiced`."
    )
    profit: Money = strawberry.field(description="Earnings minus cost.")
    client_deposits: Money = strawberry.field(
        description="Payments received from clients: by hand and from outside (PayPal)."
    )
    transfers: Money = strawberry.field(
        description="Credit the reseller moved from its balance to clients."
    )
    reseller_deposits: Money = strawberry.field(
        description="The reseller's top-ups with the operator (operator deposits, payments)."
    )
    adjustments: Money = strawberry.field(
        description="The operator's signed corrections of the reseller's balance."
    )
    client_refunds: Money = strawberry.field(
        description="Refunds and reversals of client payments, net of canceled reversals."
    )
    reseller_refunds: Money = strawberry.field(
        description="Refunds and reversals of the reseller's top-ups, net of canceled reversals."
    )
    calls: int = strawberry.field(description="Calls started in the period (call rollups).")

    @classmethod
    def of(cls, f: domain.Figures) -> FinancialFigures:
        cur = f.currency
        money = {
            name: Money.of(getattr(f, name), cur)
            for name in (
                "revenue",
                "calls_sell",
                "client_fees",
                "charges",
                "invoiced",
                "invoice_tax",
                "cost",
                "calls_cost",
                "did_costs",
                "hostname_fees",
                "commissions",
                "earnings",
                "profit",
                "client_deposits",
                "transfers",
                "reseller_deposits",
                "adjustments",
                "client_refunds",
                "reseller_refunds",
            )
        }
        return cls(currency=cur, calls=f.calls, answered_seconds=f.seconds, **money)


@strawberry.type(description="One UTC day of the month.")
class FinancialDay:
    day: date = strawberry.field(description="The day (UTC).")
    totals: list[FinancialFigures] = strawberry.field(description="Its figures, one per currency.")


@strawberry.type(description="One client's figures of the month.")
class ClientFinancials:
    client: Client = strawberry.field(description="The client.")
    figures: FinancialFigures = strawberry.field(
        description="Its figures (the reseller's own items, such as number costs, hostname "
        "fees and top-ups, are in the totals only)."
    )


@strawberry.type(description="One reseller's figures of the month.")
class ResellerFinancials:
    reseller: Reseller = strawberry.field(description="The reseller.")
    figures: FinancialFigures = strawberry.field(description="Its figures, in its currency.")


@strawberry.type(description="The financial report of a month, from the ledger rollups.")
class FinancialReport:
    month: str = strawberry.field(description="The month, YYYY-MM (UTC).")
    reseller: Reseller | None = strawberry.field(
        description="The reseller reported on; null for every reseller (operator)."
    )
    totals: list[FinancialFigures] = strawberry.field(
        description="The month's figures, one per currency (a reseller has one)."
    )
    days: list[FinancialDay] = strawberry.field(description="Every day of the month, in order.")
    clients: list[ClientFinancials] = strawberry.field(
        description="Per client with money or calls in the month (when one reseller is "
        "reported on), by name."
    )
    resellers: list[ResellerFinancials] = strawberry.field(
        description="Per reseller (the one reported on, or every reseller with money or "
        "calls in the month), by name."
    )

    @classmethod
    def of(cls, r: domain.FinancialReport) -> FinancialReport:
        currency = r.reseller.currency if r.reseller else ""
        return cls(
            month=r.month.strftime("%Y-%m"),
            reseller=Reseller.from_model(r.reseller) if r.reseller else None,
            totals=[FinancialFigures.of(t) for t in r.totals],
            days=[
                FinancialDay(day=d.day, totals=[FinancialFigures.of(t) for t in d.totals])
                for d in r.days
            ],
            clients=[
                ClientFinancials(
                    client=Client.from_model(c.client, currency),
                    figures=FinancialFigures.of(c.figures),
                )
                for c in r.clients
            ],
            resellers=[
                ResellerFinancials(
                    reseller=Reseller.from_model(x.reseller), figures=FinancialFigures.of(x.figures)
                )
                for x in r.resellers
            ],
        )


@strawberry.type(description="The financial report, or why there is none.")
class FinancialReportPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    report: FinancialReport | None = strawberry.field(
        default=None, description="The report; null when errors is not empty."
    )


from api.resolvers import financials as r  # noqa: E402  (resolvers use the types above)


@strawberry.type(description="Reads of the financial report.")
class FinancialsQuery:
    @strawberry.field(
        description="A month's financial report (reports:read): a reseller's own, per day "
        "and per client; for the operator, the reseller it names (the same) or every "
        "reseller, per day and per reseller, totals per currency."
    )
    async def financial_report(
        self,
        info: Info,
        month: Annotated[str, described("The month, YYYY-MM (UTC days).")],
        reseller_id: Annotated[
            relay.GlobalID | None, described("The reseller (operator; a reseller: its own).")
        ] = None,
    ) -> FinancialReportPayload:
        return await r.financial_report(info, month, reseller_id)
