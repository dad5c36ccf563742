"""The client card of the reseller portal (``templates/manage/client_*``): its overview, its
details to edit, its status (suspend / reactivate with a reason), its deletion after a
confirmation, and its audit history. Every page names the client by its global id in the
path; another reseller's client, or anything that is no client, is the 404 page.

What a client may be changed to, and who may change it, is the API's (``clientUpdate``,
``clientInvoiceTermsUpdate``, ``clientTaxRateAdd``, ``clientPackageSet``,
``clientRatePercentSet``, ``clientDelete``); this page turns their refusals into words beside
the fields they name. Each section of the Details page is its own form, so a refusal changes
nothing of what that form holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response
from starlette.routing import Route
from strawberry.relay import from_base64

from api.domain.errors import ErrorCode
from frontends import i18n
from frontends.consoles import MANAGE, Shown, failed_with, missing, route, signed_in
from frontends.operations import OperationFailed
from frontends.web import Page

CARD = "/clients/{client_id}"


def _is_client_id(value: str) -> bool:
    try:
        type_name, node_id = from_base64(value)
    except (ValueError, TypeError):
        return False
    return type_name == "Client" and node_id.isdigit()


async def _card(page: Page, operation: str, **variables: Any) -> dict[str, Any]:
    """The operation's data for the client the path names; raises :class:`Shown` with the
    404 page when it names none this user may see."""
    client_id = page.request.path_params["client_id"]
    if not _is_client_id(client_id):
        raise Shown(missing(page, MANAGE))
    try:
        data = await signed_in(page, MANAGE, operation, {"id": client_id, **variables})
    except OperationFailed as error:
        if failed_with(error, ErrorCode.NOT_FOUND):
            raise Shown(missing(page, MANAGE)) from None
        raise
    if not data.get("node"):
        raise Shown(missing(page, MANAGE))
    return data


def _edges(connection: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (connection or {}).get("edges", [])]


def _names(connection: dict[str, Any] | None) -> dict[str, str]:
    return {node["id"]: node["name"] for node in _edges(connection)}


def _card_path(client: dict[str, Any], rest: str = "") -> str:
    return f"/manage/clients/{client['id']}{rest}"


# --- overview ----------------------------------------------------------------------------------


def _notice(page: Page) -> str | None:
    return {
        "suspended": page.gettext("The client is suspended."),
        "reactivated": page.gettext("The client is active again."),
        "saved": page.gettext("The changes are saved."),
    }.get(page.request.query_params.get("done", ""))


async def _show_overview(page: Page, status: int = 200, **values: Any) -> Response:
    data = await _card(page, "ManageClientOverview")
    client = data["node"]
    return page.render(
        "manage/client_overview.html",
        status=status,
        path=_card_path(client),
        tab="overview",
        client=client,
        terms=data["clientInvoiceTerms"],
        price_lists=_names(data["priceLists"]),
        packages=_names(data["packages"]),
        sub_accounts=_edges(client["subAccounts"]),
        calls=_edges(data["calls"]),
        invoices=_edges(data["invoices"]),
        fee_charges=_edges(data["feeCharges"]),
        notice=_notice(page),
        **values,
    )


async def overview(page: Page) -> Response:
    return await _show_overview(page)


# --- status ------------------------------------------------------------------------------------

# what the status form may ask for, and the notice each answers with
STATUS_CHANGES = {"SUSPENDED": "suspended", "ACTIVE": "reactivated"}


async def change_status(page: Page) -> Response:
    data = await _card(page, "ManageClientHeading")
    client = data["node"]
    form = await page.form()
    if form is None:
        return await _show_overview(
            page, 403, status_error=page.gettext("This form has expired. Please try again.")
        )
    wanted, reason = form.get("status", ""), form.get("reason", "").strip()
    if wanted not in STATUS_CHANGES:
        return await _show_overview(page, 400, status_error=page.gettext("Choose a status."))
    variables = {"id": client["id"], "status": wanted, "statusReason": reason}
    errors = (await page.run("ManageClientUpdate", {"input": variables})).data["clientUpdate"][
        "errors"
    ]
    if errors:
        message = (
            page.gettext("Say why the client is suspended.")
            if any(e["field"] == "statusReason" for e in errors)
            else errors[0]["message"]
        )
        return await _show_overview(page, 400, status_error=message, reason=reason)
    return page.redirect(_card_path(client, f"?done={STATUS_CHANGES[wanted]}"))


# --- details -----------------------------------------------------------------------------------

# the details form's fields -> clientUpdate's input names
DETAIL_FIELDS = {
    "name": "name",
    "company": "company",
    "contact_name": "contactName",
    "email": "email",
    "phone": "phone",
    "country": "country",
    "language": "language",
    "notes": "notes",
    "label": "label",
    "characteristic": "characteristic",
    "billing_mode": "billingMode",
    "credit_limit": "creditLimit",
    "low_balance_threshold": "lowBalanceThreshold",
}
TERMS_FIELDS = {
    "due_days": "dueDays",
    "block_after_days_overdue": "blockAfterDaysOverdue",
    "discount_pct": "discountPct",
    "price_list_id": "priceListId",
}
TAX_FIELDS = {"rate_pct": "ratePct", "valid_from": "validFrom", "valid_to": "validTo"}


def _amount(value: str) -> str:
    """A stored decimal for a form's input (two decimals, more only when it has them)."""
    number = Decimal(value).normalize()
    return str(number.quantize(Decimal("0.01")) if number.as_tuple().exponent >= -2 else number)


def _form_of(client: dict[str, Any], terms: dict[str, Any] | None) -> dict[str, str]:
    terms = terms or {}
    block = terms.get("blockAfterDaysOverdue")
    return {
        "name": client["name"],
        "company": client["company"],
        "contact_name": client["contactName"],
        "email": client["email"],
        "phone": client["phone"],
        "country": client["country"],
        "language": i18n.supported(client["language"]) or "",
        "notes": client["notes"],
        "label": client["label"],
        "characteristic": client["characteristic"],
        "billing_mode": client["billingMode"],
        "credit_limit": _amount(client["creditLimit"]["amount"]),
        "low_balance_threshold": _amount(client["lowBalanceThreshold"]["amount"]),
        "due_days": str(terms.get("dueDays", "")),
        "block_after_days_overdue": "" if block is None else str(block),
        "discount_pct": _amount(terms.get("discountPct") or "0"),
        "price_list_id": terms.get("priceListId") or "",
        "package_id": (client["package"] or {}).get("id", ""),
        "rate_pct": "",
        "valid_from": "",
        "valid_to": "",
        "percent": _amount(client["personalRatePct"]),
    }


async def _show_edit(page: Page, status: int = 200, **values: Any) -> Response:
    data = await _card(page, "ManageClientEdit")
    client = data["node"]
    form = _form_of(client, data["clientInvoiceTerms"])
    form.update(values.pop("given", {}))
    return page.render(
        "manage/client_edit.html",
        status=status,
        path=_card_path(client, "/edit"),
        tab="edit",
        client=client,
        terms=data["clientInvoiceTerms"],
        form=form,
        errors=values.pop("errors", {}),
        price_lists=list(_names(data["priceLists"]).items()),
        packages=list(_names(data["packages"]).items()),
        notice=_notice(page),
        **values,
    )


async def edit(page: Page) -> Response:
    return await _show_edit(page)


def _field_messages(page: Page) -> dict[str, str]:
    """What a refused value of each form field is told."""
    amount = page.gettext("Enter an amount of zero or more.")
    days = page.gettext("Enter a whole number of days from 0 to 366.")
    percent = page.gettext("Enter a percentage from 0 to 100.")
    return {
        "name": page.gettext("Enter a name."),
        "email": page.gettext("Enter a valid email address."),
        "language": page.gettext("Choose a language from the list."),
        "country": page.gettext("Enter a two-letter country code, such as US."),
        "characteristic": page.gettext("Choose from the list."),
        "billing_mode": page.gettext("Choose from the list."),
        "credit_limit": amount,
        "low_balance_threshold": amount,
        "due_days": days,
        "block_after_days_overdue": days,
        "discount_pct": percent,
        "price_list_id": page.gettext("Choose from the list."),
        "package_id": page.gettext("Choose from the list."),
        "rate_pct": percent,
        "valid_from": page.gettext("Enter a date."),
        "valid_to": page.gettext("Enter a date on or after the first day."),
        "percent": page.gettext("Enter a percentage of zero or more."),
    }


def _decimal(value: str) -> str:
    number = Decimal(value)
    if not number.is_finite():
        raise InvalidOperation(value)
    return str(number)


def _whole(value: str) -> int:
    if not value.isdigit():
        raise ValueError(value)
    return int(value)


def _day(value: str) -> str:
    return date.fromisoformat(value).isoformat()


# each section: its form fields, and how each given text becomes the input's value (a text
# that does not parse is refused beside its field before anything is asked)
Parser = Callable[[str], Any]
OPTIONAL = {"block_after_days_overdue", "price_list_id", "package_id", "valid_to"}


def _parsers() -> dict[str, Parser]:
    return {
        "credit_limit": _decimal,
        "low_balance_threshold": _decimal,
        "due_days": _whole,
        "block_after_days_overdue": _whole,
        "discount_pct": _decimal,
        "rate_pct": _decimal,
        "percent": _decimal,
        "valid_from": _day,
        "valid_to": _day,
    }


SECTIONS: dict[str, tuple[str, str, dict[str, str]]] = {
    # section -> (its mutation, the input's id field, form field -> input name)
    "details": ("ManageClientUpdate", "id", DETAIL_FIELDS),
    "terms": ("ManageClientTermsUpdate", "clientId", TERMS_FIELDS),
    "tax": ("ManageClientTaxRateAdd", "clientId", TAX_FIELDS),
    "package": ("ManageClientPackageSet", "clientId", {"package_id": "packageId"}),
    "rate": ("ManageClientRatePercentSet", "clientId", {"percent": "percent"}),
}
PAYLOADS = {
    "ManageClientUpdate": "clientUpdate",
    "ManageClientTermsUpdate": "clientInvoiceTermsUpdate",
    "ManageClientTaxRateAdd": "clientTaxRateAdd",
    "ManageClientPackageSet": "clientPackageSet",
    "ManageClientRatePercentSet": "clientRatePercentSet",
}


def _input_of(fields: dict[str, str], given: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The mutation's input from the given texts, and the fields whose text does not parse."""
    parsers, values, bad = _parsers(), {}, []
    for name, input_name in fields.items():
        text = given[name]
        if not text and name in OPTIONAL:
            values[input_name] = None
            continue
        try:
            values[input_name] = parsers.get(name, str)(text)
        except (InvalidOperation, ValueError):
            bad.append(name)
    if "language" in values:
        values["language"] = i18n.supported(values["language"]) or values["language"]
    return values, bad


async def save(page: Page) -> Response:
    data = await _card(page, "ManageClientHeading")
    client = data["node"]
    form = await page.form()
    if form is None:
        return await _show_edit(
            page, 403, form_error=page.gettext("This form has expired. Please try again.")
        )
    section = form.get("section", "")
    if section not in SECTIONS:
        return await _show_edit(page, 400, form_error=page.gettext("Choose what to change."))
    operation, id_field, fields = SECTIONS[section]
    given = {name: form.get(name, "").strip() for name in fields}
    messages = _field_messages(page)
    variables, bad = _input_of(fields, given)
    if not bad:
        variables[id_field] = client["id"]
        result = (await page.run(operation, {"input": variables})).data[PAYLOADS[operation]]
        by_input = {input_name: name for name, input_name in fields.items()}
        bad = [by_input.get(e["field"] or "", "") for e in result["errors"]]
        if not bad:
            return page.redirect(_card_path(client, "/edit?done=saved"))
        if "" in bad:  # a refusal of no field of the form: say it whole
            message = next(e["message"] for e in result["errors"] if e["field"] not in by_input)
            return await _show_edit(page, 400, given=given, section_errors={section: message})
    errors = {name: messages.get(name, page.gettext("Check this value.")) for name in bad}
    return await _show_edit(page, 400, given=given, errors=errors)


# --- history -----------------------------------------------------------------------------------


def _with_money(values: dict[str, Any]) -> dict[str, Any]:
    """A money movement's ``amount`` and ``currency`` as one amount with its currency (as
    every other money value of the history is given)."""
    if isinstance(values.get("amount"), str) and isinstance(values.get("currency"), str):
        values = dict(values)
        values["amount"] = {"amount": values["amount"], "currency": values.pop("currency")}
    return values


def _changes(event: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """An event's changed fields: (name, before, after), in the order they were given; a
    field given the same on both sides did not change and is left out."""
    before, after = _with_money(event["before"] or {}), _with_money(event["after"] or {})
    names = list(after) + [name for name in before if name not in after]
    return [
        (name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    ]


async def history(page: Page) -> Response:
    after = page.request.query_params.get("after") or None
    data = await _card(page, "ManageClientHistory", after=after)
    client = data["node"]
    events = [{**event, "changes": _changes(event)} for event in _edges(data["auditEvents"])]
    return page.render(
        "manage/client_history.html",
        path=_card_path(client, "/history"),
        tab="history",
        client=client,
        events=events,
        page_info=data["auditEvents"]["pageInfo"],
        first_page=after is None,
    )


# --- delete ------------------------------------------------------------------------------------


def _what_is_left(page: Page, client: dict[str, Any]) -> list[str]:
    """What stops the client from being deleted, in words, from what the card reads."""
    left = []
    balance = client["balance"]
    if Decimal(balance["amount"]):
        money = i18n.Formatter(page.lang).money(balance["amount"], balance["currency"])
        left.append(
            page.gettext("Its balance is %(amount)s: refund or charge it to zero first.")
            % {"amount": money}
        )
    subs = len(_edges(client["subAccounts"]))
    if subs:
        left.append(
            page.ngettext(
                "It has %(count)d sub-account: delete it first.",
                "It has %(count)d sub-accounts: delete them first.",
                subs,
            )
            % {"count": subs}
        )
    numbers = [did["number"] for did in client["dids"]]
    if numbers:
        left.append(
            page.ngettext(
                "It holds %(count)d number (%(numbers)s): unassign it first.",
                "It holds %(count)d numbers (%(numbers)s): unassign them first.",
                len(numbers),
            )
            % {"count": len(numbers), "numbers": ", ".join(numbers)}
        )
    return left


async def _show_delete(page: Page, status: int = 200, **values: Any) -> Response:
    data = await _card(page, "ManageClientOverview")
    client = data["node"]
    return page.render(
        "manage/client_delete.html",
        status=status,
        path=_card_path(client, "/delete"),
        tab="overview",
        client=client,
        **values,
    )


async def confirm_delete(page: Page) -> Response:
    return await _show_delete(page)


async def delete(page: Page) -> Response:
    data = await _card(page, "ManageClientOverview")
    client = data["node"]
    form = await page.form()
    if form is None:
        return await _show_delete(
            page, 403, refusal=[page.gettext("This form has expired. Please try again.")]
        )
    result = (await page.run("ManageClientDelete", {"id": client["id"]})).data["clientDelete"]
    if result["errors"]:
        left = _what_is_left(page, client) or [e["message"] for e in result["errors"]]
        return await _show_delete(page, 409, refusal=left)
    return page.redirect(f"/manage/clients?deleted={client['id']}")


def routes() -> list[Route]:
    return [
        route(MANAGE, CARD, overview, ["GET"]),
        route(MANAGE, CARD + "/edit", edit, ["GET"]),
        route(MANAGE, CARD + "/edit", save, ["POST"]),
        route(MANAGE, CARD + "/status", change_status, ["POST"]),
        route(MANAGE, CARD + "/history", history, ["GET"]),
        route(MANAGE, CARD + "/delete", confirm_delete, ["GET"]),
        route(MANAGE, CARD + "/delete", delete, ["POST"]),
    ]
