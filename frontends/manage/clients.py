"""The clients list and the new-client page (``templates/manage/clients.*``,
``client_new.html``).

The list is a plain GET form (search and filters), a page at a time by the API's keyset
cursor (``after``): "next" carries the last row's cursor, "first page" drops it.

New clients come one at a time (``clientCreate``, then the package and a portal login when
given), or many at once from the rows of the bulk form or a CSV file (``clientBulkCreate``).
A bulk creation is the API's: all the rows land, or none does. A refusal names each bad
row's line (of the CSV file, its header being line 1; of the form, its row) and the field;
nothing is created until every row is right.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from frontends.consoles import MANAGE, route, signed_in
from frontends.web import SECURITY_HEADERS, Page

PAGE_SIZE = 50
CURSOR_RE = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")
STATUSES = ("ACTIVE", "SUSPENDED", "BLOCKED", "BLACKLISTED")
BILLING_MODES = ("PREPAID_STRICT", "PREPAID_PERMISSIVE", "POSTPAID")
CHARACTERISTICS = ("NORMAL", "GOOD", "CONFLICT")
BULK_ROWS = 5  # the bulk form's empty rows
CSV_MAX_BYTES = 1_000_000
# the CSV file's columns (its header) -> the API's fields of a client
COLUMNS = {
    "name": "name",
    "company": "company",
    "contact_name": "contactName",
    "email": "email",
    "phone": "phone",
    "language": "language",
    "country": "country",
    "billing_mode": "billingMode",
    "credit_limit": "creditLimit",
    "low_balance_threshold": "lowBalanceThreshold",
    "label": "label",
    "characteristic": "characteristic",
    "notes": "notes",
}
CHOICES = {"billingMode": BILLING_MODES, "characteristic": CHARACTERISTICS}
AMOUNTS = ("creditLimit", "lowBalanceThreshold")
ROW_RE = re.compile(r"^client (\d+): (.*)$", re.S)


# --- the list -------------------------------------------------------------------------------


@dataclass
class Filters:
    values: dict[str, str] = field(default_factory=dict)  # what the form shows back
    variables: dict[str, Any] = field(default_factory=dict)  # what the API is asked

    def query(self, **cursor: str) -> str:
        return urlencode({**{k: v for k, v in self.values.items() if v}, **cursor})


def read_filters(params: Any) -> Filters:
    """The query string's filters; a choice that is not one is left out."""
    names = ("q", "status", "billing", "label", "characteristic")
    filters = Filters(values={n: str(params.get(n, "")).strip()[:100] for n in names})
    for name, variable, allowed in (
        ("status", "status", STATUSES),
        ("billing", "billingMode", BILLING_MODES),
        ("characteristic", "characteristic", CHARACTERISTICS),
    ):
        value = filters.values[name].upper()
        filters.values[name] = value if value in allowed else ""
        if filters.values[name]:
            filters.variables[variable] = value
    if filters.values["q"]:
        filters.variables["search"] = filters.values["q"]
    if filters.values["label"]:
        filters.variables["label"] = filters.values["label"]
    return filters


async def clients(page: Page) -> Response:
    params = page.request.query_params
    filters = read_filters(params)
    after = str(params.get("after", ""))
    variables = {**filters.variables, "first": PAGE_SIZE}
    if CURSOR_RE.match(after):
        variables["after"] = after
    data = await signed_in(page, MANAGE, "ManageClients", variables)
    info = data["clients"]["pageInfo"]
    return page.render(
        "manage/clients.html",
        filters=filters,
        rows=data["clients"]["nodes"],
        next_query=filters.query(after=info["endCursor"]) if info["hasNextPage"] else None,
        first_query=filters.query() if "after" in variables else None,
        created=params.get("created", "")[:200],
    )


# --- new clients ----------------------------------------------------------------------------


def amount_or_none(text: str) -> str | None:
    """``text`` as the API's Decimal (a plain number, e.g. 25.50), or None when it is not one."""
    text = text.strip().replace(" ", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return text if value.is_finite() else None


@dataclass
class Row:
    """One client to create: its place (a CSV line or a form row), its API fields, and the
    refusals of its fields."""

    place: int
    fields: dict[str, Any]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, message)


def read_row(page: Page, place: int, given: dict[str, str]) -> Row:
    """A row's fields for the API (empty ones left out), each choice and amount checked for
    its type: a value the API could not even be asked with is refused here, by name."""
    row = Row(place, {})
    for name, value in given.items():
        value = (value or "").strip()
        if not value:
            continue
        if name in CHOICES:
            choice = value.upper().replace("-", "_").replace(" ", "_")
            if choice not in CHOICES[name]:
                allowed = ", ".join(c.lower() for c in CHOICES[name])
                row.errors.append(
                    (name, page.gettext("must be one of: %(choices)s") % {"choices": allowed})
                )
                continue
            value = choice
        elif name in AMOUNTS:
            amount = amount_or_none(value)
            if amount is None:
                row.errors.append((name, page.gettext("is not an amount, e.g. 25.50")))
                continue
            value = amount
        row.fields[name] = value
    return row


def field_label(page: Page, name: str) -> str:
    labels = {
        "name": page.gettext("Name"),
        "company": page.gettext("Company"),
        "contactName": page.gettext("Contact person"),
        "email": page.gettext("Email"),
        "phone": page.gettext("Phone"),
        "language": page.gettext("Language"),
        "country": page.gettext("Country"),
        "billingMode": page.gettext("Billing mode"),
        "creditLimit": page.gettext("Credit limit"),
        "lowBalanceThreshold": page.gettext("Low-balance threshold"),
        "label": page.gettext("Label"),
        "characteristic": page.gettext("Characteristic"),
        "notes": page.gettext("Notes"),
        "package": page.gettext("Package"),
        "loginEmail": page.gettext("Login email"),
        "password": page.gettext("Password"),
    }
    return labels.get(name, name)


async def _show_new(page: Page, status: int = 200, **values: Any) -> Response:
    data = await signed_in(page, MANAGE, "ManageClientNew")
    values.setdefault("single", {})
    values.setdefault("single_errors", {})
    values.setdefault("bulk", [{} for _ in range(BULK_ROWS)])
    values.setdefault("refusals", [])
    values.setdefault("refused_in", "")
    return page.render(
        "manage/client_new.html",
        status=status,
        path="/manage/clients/new",
        reseller=data["viewer"]["reseller"],
        packages=data["packages"]["nodes"],
        columns=list(COLUMNS),
        **values,
    )


async def _form(page: Page) -> dict[str, str] | Response:
    """The POSTed form of a signed-in user, or the page again when its CSRF token is wrong."""
    await signed_in(page, MANAGE, "ManageClientNew")
    form = await page.form()
    if form is None:
        expired = page.gettext("This form has expired. Please try again.")
        return await _show_new(page, 403, expired=expired)
    return form


SINGLE_FIELDS = (
    "name", "company", "email", "phone", "language", "billingMode", "creditLimit",
    "lowBalanceThreshold", "label", "characteristic", "notes",
)  # fmt: skip


async def new_client(page: Page) -> Response:
    if page.request.method == "GET":
        return await _show_new(page)
    form = await _form(page)
    if isinstance(form, Response):
        return form
    row = read_row(page, 1, {name: form.get(name, "") for name in SINGLE_FIELDS})
    login = {"email": form.get("loginEmail", "").strip(), "password": form.get("password", "")}
    errors = dict(row.errors)
    if login["password"] and not login["email"]:
        errors["loginEmail"] = page.gettext("Give the email the client signs in with.")
    if login["email"] and not login["password"]:
        errors["password"] = page.gettext("Give the login a password of 8 characters or more.")
    if not errors:
        result = (await page.run("ManageClientCreate", {"input": row.fields})).data["clientCreate"]
        errors = {e["field"] or "name": e["message"] for e in result["errors"]}
    if errors:
        return await _show_new(page, 400, single=form, single_errors=errors)
    client = result["client"]
    later = await _package_and_login(page, client["id"], form.get("package", ""), login)
    if later:
        # the client exists: its card is where the rest is done
        return await _show_new(page, 400, single=form, single_errors=later, made=client)
    return page.redirect(f"/manage/clients/{client['id']}/money")


async def _package_and_login(
    page: Page, client_id: str, package_id: str, login: dict[str, str]
) -> dict[str, str]:
    """Give the new client its package and portal login, when asked: the refusals, by field."""
    errors: dict[str, str] = {}
    if package_id:
        answer = await page.run(
            "ManageNewClientPackageSet", {"clientId": client_id, "packageId": package_id}
        )
        for error in answer.data["clientPackageSet"]["errors"]:
            errors["package"] = error["message"]
    if login["email"]:
        user = {**login, "role": "CLIENT", "clientId": client_id}
        answer = await page.run("ManageClientUserCreate", {"input": user})
        for error in answer.data["userCreate"]["errors"]:
            errors["password" if error["field"] == "password" else "loginEmail"] = error["message"]
    return errors


async def _create_many(page: Page, rows: list[Row], refused_in: str, **values: Any) -> Response:
    """Create ``rows`` at once, or show every refusal by its place and field (none created)."""
    refusals = [(r.place, f, m) for r in rows for f, m in r.errors]
    if not rows and not refusals:
        refusals = [(0, "", page.gettext("There is no client to create."))]
    if not refusals:
        result = (
            await page.run("ManageClientBulkCreate", {"clients": [r.fields for r in rows]})
        ).data["clientBulkCreate"]
        if not result["errors"]:
            return page.redirect(
                "/manage/clients?" + urlencode({"created": len(result["clients"])})
            )
        for error in result["errors"]:
            found = ROW_RE.match(error["message"])
            place = rows[int(found.group(1)) - 1].place if found else 0
            refusals.append(
                (place, error["field"] or "", found.group(2) if found else error["message"])
            )
    shown = [
        {"place": place, "field": field_label(page, name) if name else "", "message": message}
        for place, name, message in sorted(refusals, key=lambda r: r[0])
    ]
    return await _show_new(page, 400, refusals=shown, refused_in=refused_in, **values)


async def new_clients_rows(page: Page) -> Response:
    form = await _form(page)
    if isinstance(form, Response):
        return form
    count = min(int(form.get("rows", BULK_ROWS)) if form.get("rows", "").isdigit() else 0, 100)
    given = [{c: form.get(f"{c}_{i}", "") for c in COLUMNS.values()} for i in range(1, count + 1)]
    rows = [
        read_row(page, i, fields) for i, fields in enumerate(given, start=1) if any(fields.values())
    ]
    return await _create_many(page, rows, "rows", bulk=given)


async def new_clients_csv(page: Page) -> Response:
    form = await _form(page)
    if isinstance(form, Response):
        return form
    upload = (await page.request.form()).get("file")
    data = await upload.read(CSV_MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
    rows, problem = read_csv(page, data)
    if problem:
        return await _show_new(
            page, 400, refusals=[{"place": 0, "field": "", "message": problem}], refused_in="csv"
        )
    return await _create_many(page, rows, "csv")


def read_csv(page: Page, data: bytes) -> tuple[list[Row], str]:
    """The rows of a CSV file (a header naming the columns, then one client a line), or why
    the file cannot be read."""
    if not data:
        return [], page.gettext("Choose a CSV file to upload.")
    if len(data) > CSV_MAX_BYTES:
        return [], page.gettext("The file is larger than 1 MB: split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], page.gettext("The file is not UTF-8 text: save it as CSV (UTF-8).")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in COLUMNS]
    if "name" not in header or unknown:
        return [], page.gettext(
            "The first line must name the columns, among: %(columns)s (name is required)."
        ) % {"columns": ", ".join(COLUMNS)}
    reader.fieldnames = header
    rows = []
    for record in reader:
        fields = {COLUMNS[k]: v or "" for k, v in record.items() if k in COLUMNS}
        if any(v.strip() for v in fields.values()):
            rows.append(read_row(page, reader.line_num, fields))
    return rows, ""


async def csv_template(page: Page) -> Response:
    await signed_in(page, MANAGE, "ManageClientNew")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(
        ["Blue Harbor Dental", "Blue Harbor Dental LLC", "Dana Reyes", "dana@example.com",
         "+1 415 555 0100", "en", "US", "prepaid_strict", "", "5.00", "dental", "good", ""]
    )  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="clients.csv"'},
    )


def routes() -> list[Route]:
    return [
        route(MANAGE, "/clients", clients, ["GET"]),
        route(MANAGE, "/clients/new", new_client, ["GET", "POST"]),
        route(MANAGE, "/clients/new/rows", new_clients_rows, ["POST"]),
        route(MANAGE, "/clients/new/csv", new_clients_csv, ["POST"]),
        route(MANAGE, "/clients/new/template.csv", csv_template, ["GET"]),
    ]
