"""A reseller's price lists: articles (number, description, unit, price) it adds to invoices.

Each reseller has one basic list (made on first use, named "Basic"); a client is on the basic
list unless the reseller puts it on another (``clients.price_list_id``), and may have a
discount on it (``clients.discount_pct``). The reseller adds, changes and removes articles
(:func:`add_item`, :func:`update_item`, :func:`delete_item`); an article number is unique in
its list. A line added to a client's draft invoice from an article (``invoices.add_line`` with
``price_list_item_id``) takes the article's number, description and unit, and its price less
the client's discount, rounded once half-up. The line is a copy: changing or removing the
article later leaves it as it was."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import money
from api.domain import accounts, audit
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, not_found
from api.models import Client, PriceList, PriceListItem, Reseller

BASIC = "Basic"


async def list_id_of(session: AsyncSession, client) -> int | None:
    """The id of the client's price list: its own, else its reseller's basic list (read only:
    None when the basic list was never made)."""
    if client.price_list_id is not None:
        return client.price_list_id
    return await session.scalar(
        select(PriceList.id).where(PriceList.reseller_id == client.reseller_id, PriceList.is_basic)
    )


async def basic_list(session: AsyncSession, reseller_id: int) -> PriceList:
    found = await session.scalar(
        select(PriceList).where(PriceList.reseller_id == reseller_id, PriceList.is_basic)
    )
    if found is not None:
        return found
    row = PriceList(reseller_id=reseller_id, name=BASIC, is_basic=True)
    session.add(row)
    await session.flush()
    return row


async def _owner(session: AsyncSession, actor: Actor, reseller_id: int | None) -> Reseller:
    if actor.client_id is not None:
        raise not_found("reseller", "resellerId")
    if reseller_id is None and actor.is_operator:
        raise DomainError(ErrorCode.VALIDATION, "the operator must name the reseller", "resellerId")
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "clients:write")
    assert reseller is not None
    return reseller


async def create_list(
    session: AsyncSession, actor: Actor, reseller_id: int | None, name: str
) -> PriceList:
    reseller = await _owner(session, actor, reseller_id)
    await basic_list(session, reseller.id)
    name = v.text("name", name, max_len=200, required=True)
    taken = await session.scalar(
        select(PriceList.id).where(PriceList.reseller_id == reseller.id, PriceList.name == name)
    )
    if taken is not None:
        raise DomainError(ErrorCode.CONFLICT, "a price list of that name exists", "name")
    row = PriceList(reseller_id=reseller.id, name=name)
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="price_list",
        subject_id=row.id,
        action="price_list.created",
        reseller_id=reseller.id,
        after={"name": name},
    )
    return row


async def get_list(session: AsyncSession, actor: Actor, list_id: int) -> PriceList:
    row = await session.get(PriceList, list_id)
    if (
        row is None
        or actor.client_id is not None
        or not actor.can("clients:read")
        or not actor.sees_reseller(row.reseller_id)
    ):
        raise not_found("price list", "priceListId")
    return row


async def get_item(session: AsyncSession, actor: Actor, item_id: int) -> PriceListItem:
    item = await session.get(PriceListItem, item_id)
    if item is None:
        raise not_found("price list item", "id")
    await get_list(session, actor, item.price_list_id)
    return item


_ITEM_CHECKS = {
    "article_number": lambda x: v.text("articleNumber", x, max_len=40, required=True),
    "description": lambda x: v.text("description", x, max_len=300, required=True),
    "unit": lambda x: v.text("unit", x, max_len=16),
    "unit_price": lambda x: v.amount("unitPrice", x, non_negative=True),
}
ITEM_AUDIT_FIELDS = ("article_number", "description", "unit", "unit_price")


async def _check_number_free(
    session: AsyncSession, list_id: int, number: str, *, other_than: int | None = None
) -> None:
    stmt = select(PriceListItem.id).where(
        PriceListItem.price_list_id == list_id, PriceListItem.article_number == number
    )
    if other_than is not None:
        stmt = stmt.where(PriceListItem.id != other_than)
    if await session.scalar(stmt) is not None:
        raise DomainError(
            ErrorCode.CONFLICT, "the price list has that article number already", "articleNumber"
        )


async def add_item(
    session: AsyncSession, actor: Actor, list_id: int | None, data: dict[str, Any]
) -> PriceListItem:
    """Add an article to a price list (None: the reseller's basic list)."""
    actor.require("clients:write")
    if list_id is None:
        reseller = await _owner(session, actor, data.pop("reseller_id", None))
        price_list = await basic_list(session, reseller.id)
    else:
        data.pop("reseller_id", None)
        price_list = await get_list(session, actor, list_id)
    fields = v.clean(
        data,
        _ITEM_CHECKS,
        (
            ("article_number", "articleNumber"),
            ("description", "description"),
            ("unit_price", "unitPrice"),
        ),
    )
    await _check_number_free(session, price_list.id, fields["article_number"])
    item = PriceListItem(
        price_list_id=price_list.id,
        reseller_id=price_list.reseller_id,
        unit=fields.pop("unit", "") or "pcs",
        **fields,
    )
    session.add(item)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="price_list_item",
        subject_id=item.id,
        action="price_list.item_added",
        reseller_id=price_list.reseller_id,
        after={
            "article_number": item.article_number,
            "unit_price": money.format_amount(item.unit_price),
        },
    )
    return item


async def _item_for_write(session: AsyncSession, actor: Actor, item_id: int) -> PriceListItem:
    actor.require("clients:write")
    return await get_item(session, actor, item_id)


async def update_item(
    session: AsyncSession, actor: Actor, item_id: int, data: dict[str, Any]
) -> PriceListItem:
    """Change an article: number (still unique in its list), description, unit, price. Lines
    already taken from it onto invoices keep what they were given."""
    item = await _item_for_write(session, actor, item_id)
    fields = v.clean(data, _ITEM_CHECKS)
    if "unit" in fields:
        fields["unit"] = fields["unit"] or "pcs"
    if "article_number" in fields:
        await _check_number_free(
            session, item.price_list_id, fields["article_number"], other_than=item.id
        )
    await audit.apply_changes(
        session,
        actor,
        item,
        fields,
        audited=ITEM_AUDIT_FIELDS,
        subject_type="price_list_item",
        reseller_id=item.reseller_id,
    )
    return item


async def delete_item(session: AsyncSession, actor: Actor, item_id: int) -> PriceList:
    """Remove an article from its list (invoice lines taken from it stay as they are);
    returns the list."""
    item = await _item_for_write(session, actor, item_id)
    price_list = await get_list(session, actor, item.price_list_id)
    before = audit.snapshot(item, ITEM_AUDIT_FIELDS)
    await session.delete(item)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="price_list_item",
        subject_id=item_id,
        action="price_list.item_deleted",
        reseller_id=price_list.reseller_id,
        before=before,
    )
    return price_list


def lists_query(actor: Actor, *, reseller_id: int | None = None) -> Select:
    stmt = select(PriceList)
    if actor.client_id is not None or not actor.is_authenticated or not actor.can("clients:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(PriceList.reseller_id == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(PriceList.reseller_id == reseller_id)
    return stmt


async def items_of(session: AsyncSession, list_ids: Sequence[int]) -> dict[int, list]:
    out: dict[int, list[PriceListItem]] = {i: [] for i in list_ids}
    for row in await session.scalars(
        select(PriceListItem)
        .where(PriceListItem.price_list_id.in_(list(list_ids)))
        .order_by(PriceListItem.price_list_id, PriceListItem.article_number)
    ):
        out[row.price_list_id].append(row)
    return out


async def item_for_client(session: AsyncSession, client: Client, item_id: int) -> PriceListItem:
    """An article of the client's price list (its own, else its reseller's basic one)."""
    list_id = client.price_list_id or (await basic_list(session, client.reseller_id)).id
    item = await session.get(PriceListItem, item_id)
    if item is None or item.price_list_id != list_id:
        raise not_found("article of the client's price list", "priceListItemId")
    return item


def discounted(price: int, discount_pct: Any) -> int:
    """A price less a discount in percent, rounded once half-up."""
    return price - money.percent_of(price, discount_pct)
