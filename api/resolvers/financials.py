"""The financial report: thin, parse, call the domain, map."""

from __future__ import annotations

from strawberry import relay

from api.domain import financials as domain
from api.resolvers.context import Info
from api.resolvers.mutations import attempt, node_pk
from api.schema.financials import FinancialReport, FinancialReportPayload


async def financial_report(
    info: Info, month: str, reseller_id: relay.GlobalID | None
) -> FinancialReportPayload:
    async def work() -> dict:
        pk = node_pk(reseller_id, "Reseller", "resellerId")
        async with info.context.read() as session:
            found = await domain.report(session, info.context.actor, month, pk)
            return {"report": FinancialReport.of(found)}

    return await attempt(FinancialReportPayload, work())
