"""The operator's resellers (``templates/operator/resellers.*``, ``reseller.html``): the list
and the form creating one with its owner (``resellerCreate``, which makes the owner's login in
the same transaction: a refused owner leaves no reseller behind); a reseller's page with its
details, its ledger, deposits and adjustments (each form carrying the idempotency key it was
rendered with, so a double submit moves money once), suspension with a reason and its base
deck."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route
from strawberry.relay import from_base64

from frontends.consoles import OPERATOR, route, signed_in
from frontends.operations import OperationFailed
from frontends.operator.common import decimal, expired, idempotency_key, missing, posted, refusal
from frontends.web import Page

CREATE_FIELDS = (
    "name",
    "currency",
    "billing_model",
    "commission_pct",
    "timezone",
    "home_country",
    "owner_name",
    "owner_email",
)
BLANK = {
    "currency": "USD",
    "billing_model": "MARKUP",
    "commission_pct": "0",
    "timezone": "UTC",
    "home_country": "",
}


def _create_refusal(page: Page, errors: list[dict[str, Any]]) -> str:
    return refusal(
        page,
        errors,
        {
            "name": page.gettext("Give the reseller a name (at most 200 characters)."),
            "currency": page.gettext("A currency is a three-letter code, e.g. USD."),
            "commissionPct": page.gettext("A commission is a percent from 0 to 100."),
            "timezone": page.gettext("Choose a time zone such as Europe/Paris."),
            "homeCountry": page.gettext("A country is a two-letter code, e.g. GB."),
            "email": page.gettext("Enter a valid email address for the owner."),
            "ownerEmail": page.gettext("Enter a valid email address for the owner."),
            "password": page.gettext("Choose a password of at least 8 characters."),
            "conflict": page.gettext("That name or owner email is taken."),
        },
    )


async def _list(page: Page, status: int = 200, **values: Any) -> Response:
    data = await signed_in(page, OPERATOR, "OperatorResellers")
    decks = {d["id"]: d["name"] for d in data["rateDecks"]["nodes"]}
    values.setdefault("form", BLANK)
    return page.render(
        "operator/resellers.html",
        status=status,
        path=OPERATOR.path("/resellers"),
        resellers=data["resellers"]["nodes"],
        decks=decks,
        **values,
    )


async def resellers(page: Page) -> Response:
    return await _list(page)


async def create(page: Page) -> Response:
    form = await posted(page)
    if form is None:
        return await _list(page, 403, error=expired(page))
    given = {name: form.get(name, "").strip() for name in CREATE_FIELDS}
    pct = decimal(given["commission_pct"] or "0")
    if pct is None:
        return await _list(
            page,
            400,
            form=given,
            error=page.gettext("A commission is a percent from 0 to 100."),
        )
    variables = {
        "name": given["name"],
        "currency": given["currency"].upper(),
        "billingModel": given["billing_model"] if given["billing_model"] else "MARKUP",
        "commissionPct": pct,
        "timezone": given["timezone"] or "UTC",
        "homeCountry": given["home_country"].upper(),
        "ownerName": given["owner_name"],
        "ownerEmail": given["owner_email"],
        "ownerPassword": form.get("owner_password", ""),
    }
    if variables["billingModel"] not in ("MARKUP", "COMMISSION"):
        variables["billingModel"] = "MARKUP"
    result = (await page.run("OperatorResellerCreate", {"input": variables})).data
    result = result["resellerCreate"]
    if result["errors"]:
        return await _list(page, 400, form=given, error=_create_refusal(page, result["errors"]))
    return page.redirect(OPERATOR.path(f"/resellers/{result['reseller']['id']}?done=created"))


# --- one reseller ---------------------------------------------------------------------------


def _signed(entry: dict[str, Any], account: str) -> dict[str, Any]:
    """An entry with what it moved on the reseller's own account (+ in, - out)."""
    mine = [p["amount"] for p in entry["postings"] if p["account"] == account]
    return {**entry, "moved": mine[0] if mine else None}


async def _show(page: Page, status: int = 200, **values: Any) -> Response:
    reseller_id = page.request.path_params["reseller_id"]
    try:
        data = await signed_in(page, OPERATOR, "OperatorReseller", {"id": reseller_id})
    except OperationFailed:  # not a reseller's id at all
        return missing(page)
    reseller = data["node"]
    if not reseller or "name" not in reseller:
        return missing(page)
    account = "reseller:" + from_base64(reseller["id"])[1]
    notice = {
        "created": page.gettext("The reseller is created. Its owner may sign in now."),
        "deposit": page.gettext("The deposit is on the reseller's balance."),
        "adjust": page.gettext("The adjustment is on the reseller's balance."),
        "status": page.gettext("The reseller's status is changed."),
        "deck": page.gettext("The base deck is set."),
    }.get(page.request.query_params.get("done", ""))
    return page.render(
        "operator/reseller.html",
        status=status,
        path=OPERATOR.path(f"/resellers/{reseller['id']}"),
        reseller=reseller,
        entries=[_signed(e, account) for e in data["ledgerEntries"]["nodes"]],
        users=data["users"]["nodes"],
        decks=[d for d in data["rateDecks"]["nodes"] if d["currency"] == reseller["currency"]],
        key=idempotency_key(),
        notice=notice,
        **values,
    )


async def reseller(page: Page) -> Response:
    return await _show(page)


def _money_refusal(page: Page, errors: list[dict[str, Any]]) -> str:
    if any(e["code"] == "INSUFFICIENT_FUNDS" for e in errors):
        return page.gettext("The adjustment would take the balance below zero.")
    return refusal(
        page,
        errors,
        {
            "amount": page.gettext("Enter an amount other than zero (a deposit: more than zero)."),
            "memo": page.gettext("Say why (at most 500 characters)."),
            "conflict": page.gettext("This form was already used for another amount. Reload it."),
        },
    )


def _money_action(operation: str, payload: str, done: str):
    async def act(page: Page) -> Response:
        form = await posted(page)
        if form is None:
            return await _show(page, 403, money_error=expired(page))
        amount = decimal(form.get("amount"))
        if amount is None:
            return await _show(page, 400, money_error=page.gettext("Enter an amount, e.g. 100.00."))
        variables = {
            "resellerId": page.request.path_params["reseller_id"],
            "amount": amount,
            "idempotencyKey": form.get("idempotency_key", "") or idempotency_key(),
            "memo": form.get("memo", "").strip(),
        }
        result = (await page.run(operation, {"input": variables})).data[payload]
        if result["errors"]:
            return await _show(page, 400, money_error=_money_refusal(page, result["errors"]))
        return page.redirect(page.request.url.path.rsplit("/", 1)[0] + f"?done={done}")

    return act


async def set_status(page: Page) -> Response:
    form = await posted(page)
    if form is None:
        return await _show(page, 403, status_error=expired(page))
    status = "SUSPENDED" if form.get("status") == "SUSPENDED" else "ACTIVE"
    reason = form.get("reason", "").strip()
    if status == "SUSPENDED" and not reason:
        return await _show(page, 400, status_error=page.gettext("Say why it is suspended."))
    variables = {
        "id": page.request.path_params["reseller_id"],
        "status": status,
        "statusReason": reason if status == "SUSPENDED" else "",
    }
    result = (await page.run("OperatorResellerUpdate", {"input": variables})).data
    errors = result["resellerUpdate"]["errors"]
    if errors:
        text = refusal(page, errors, {"statusReason": page.gettext("Say why it is suspended.")})
        return await _show(page, 400, status_error=text)
    return page.redirect(page.request.url.path.rsplit("/", 1)[0] + "?done=status")


async def set_base_deck(page: Page) -> Response:
    form = await posted(page)
    if form is None:
        return await _show(page, 403, deck_error=expired(page))
    variables = {
        "resellerId": page.request.path_params["reseller_id"],
        "deckId": form.get("deck_id") or None,
    }
    result = (await page.run("OperatorResellerBaseDeck", {"input": variables})).data
    errors = result["resellerBaseDeckSet"]["errors"]
    if errors:
        text = refusal(
            page, errors, {"deckId": page.gettext("Choose a deck in the reseller's currency.")}
        )
        return await _show(page, 400, deck_error=text)
    return page.redirect(page.request.url.path.rsplit("/", 1)[0] + "?done=deck")


def routes() -> list[Route]:
    one = "/resellers/{reseller_id}"
    return [
        route(OPERATOR, "/resellers", resellers, ["GET"]),
        route(OPERATOR, "/resellers", create, ["POST"]),
        route(OPERATOR, one, reseller, ["GET"]),
        route(
            OPERATOR,
            one + "/deposit",
            _money_action("OperatorResellerDeposit", "resellerDeposit", "deposit"),
            ["POST"],
        ),
        route(
            OPERATOR,
            one + "/adjust",
            _money_action("OperatorResellerAdjust", "resellerAdjust", "adjust"),
            ["POST"],
        ),
        route(OPERATOR, one + "/status", set_status, ["POST"]),
        route(OPERATOR, one + "/base-deck", set_base_deck, ["POST"]),
    ]
