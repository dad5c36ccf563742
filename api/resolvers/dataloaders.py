"""Per-request batched loads, so list queries do not grow with the page size (no N+1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from api.domain.fees import upcoming_fees
from api.models import (
    Account,
    Client,
    Did,
    Event,
    InvoiceLine,
    Package,
    Posting,
    PriceListItem,
    Reseller,
    SubAccount,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from api.resolvers.context import Context


class Loaders:
    def __init__(self, context: Context):
        self._context = context
        self.reseller = DataLoader(self._by_id(Reseller))
        self.client = DataLoader(self._by_id(Client))
        self.package = DataLoader(self._by_id(Package))
        self.sub_account = DataLoader(self._by_id(SubAccount))
        self.did = DataLoader(self._by_id(Did))
        self.reseller_balance = DataLoader(self._balances("reseller", Account.reseller_id))
        self.client_balance = DataLoader(self._balances("client", Account.client_id))
        self.postings = DataLoader(self._postings)
        self.event = DataLoader(self._by_id(Event))
        self.webhook_endpoint = DataLoader(self._by_id(WebhookEndpoint))
        self.event_deliveries = DataLoader(
            self._children(WebhookDelivery, WebhookDelivery.event_id, WebhookDelivery.id)
        )
        self.webhook_attempts = DataLoader(
            self._children(WebhookAttempt, WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        self.client_users = DataLoader(self._children(User, User.client_id, User.email))
        self.client_dids = DataLoader(self._children(Did, Did.client_id, Did.number))
        self.sub_account_dids = DataLoader(self._children(Did, Did.sub_account_id, Did.number))
        self.price_list_items = DataLoader(
            self._children(PriceListItem, PriceListItem.price_list_id, PriceListItem.article_number)
        )
        self.upcoming_fees = DataLoader(self._upcoming_fees)
        self.invoice_lines = DataLoader(
            self._children(InvoiceLine, InvoiceLine.invoice_id, InvoiceLine.position)
        )

    def _by_id(self, model: Any) -> Callable:
        async def load(ids: Sequence[int]) -> list[Any]:
            async with self._context.read() as session:
                rows = await session.scalars(select(model).where(model.id.in_(ids)))
                found = {row.id: row for row in rows}
            return [found.get(i) for i in ids]

        return load

    def _children(self, model: Any, parent: Any, order: Any) -> Callable:
        """Rows of ``model`` per parent id, in ``order``."""

        async def load(ids: Sequence[int]) -> list[list[Any]]:
            async with self._context.read() as session:
                rows = await session.scalars(
                    select(model).where(parent.in_(ids)).order_by(parent, order)
                )
                grouped: dict[int, list[Any]] = defaultdict(list)
                for row in rows:
                    grouped[getattr(row, parent.key)].append(row)
            return [grouped.get(i, []) for i in ids]

        return load

    def _balances(self, kind: str, owner: Any) -> Callable:
        async def load(ids: Sequence[int]) -> list[int]:
            async with self._context.read() as session:
                rows = await session.execute(
                    select(owner, Account.balance).where(Account.kind == kind, owner.in_(ids))
                )
                found = {owner_id: balance for owner_id, balance in rows}
            return [found.get(i, 0) for i in ids]

        return load

    async def _postings(self, entry_ids: Sequence[int]) -> list[list[tuple[Posting, Account]]]:
        async with self._context.read() as session:
            rows = await session.execute(
                select(Posting, Account)
                .join(Account, Account.id == Posting.account_id)
                .where(Posting.entry_id.in_(entry_ids))
                .order_by(Posting.id)
            )
            grouped: dict[int, list[tuple[Posting, Account]]] = defaultdict(list)
            for posting, account in rows:
                grouped[posting.entry_id].append((posting, account))
        return [grouped.get(i, []) for i in entry_ids]

    async def _upcoming_fees(self, client_ids: Sequence[int]) -> list[list[Any]]:
        async with self._context.read() as session:
            found = await upcoming_fees(session, list(client_ids))
        return [found[i] for i in client_ids]
