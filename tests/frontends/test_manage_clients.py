"""The reseller portal's clients list and new-client page, over HTTP."""

from __future__ import annotations

import re

from api.domain import demo
from tests.frontends.conftest import ACME_HOST

ROW_RE = re.compile(r'<th scope="row" class="text"><a href="/manage/clients/([^"]+)">([^<]+)</a>')


async def owner(browse):
    acme = browse(ACME_HOST)
    assert (await acme.login(demo.ACME_OWNER_EMAIL, path="/manage/login")).status_code == 303
    return acme


def names(html: str) -> list[str]:
    return [m.group(2).replace("&amp;", "&") for m in ROW_RE.finditer(html)]


async def test_the_list_shows_each_client_with_its_balance_and_links_to_its_card(browse):
    acme = await owner(browse)
    page = await acme.http.get("/manage/clients")
    assert page.status_code == 200
    shown = names(page.text)
    assert set(shown) == {c["name"] for c in demo.ACME_CLIENTS}
    assert "Müller" not in page.text  # Globex's
    # a postpaid client shows its credit used of its limit
    assert re.search(r"\$[\d,.]+ of \$1,000\.00 used", page.text)
    assert "healthcare" in page.text and "Postpaid" in page.text


async def test_search_and_filters_narrow_the_list(browse):
    acme = await owner(browse)
    assert names((await acme.http.get("/manage/clients?q=harbor")).text) == ["Blue Harbor Dental"]
    postpaid = names((await acme.http.get("/manage/clients?billing=POSTPAID")).text)
    assert set(postpaid) == {"Lopez & Sons Plumbing", "Gotham Legal LLP"}
    assert names((await acme.http.get("/manage/clients?label=VIP")).text) == ["Gotham Legal LLP"]
    good = names((await acme.http.get("/manage/clients?characteristic=GOOD")).text)
    assert set(good) == {"Blue Harbor Dental", "Sunrise Yoga Studio"}
    page = await acme.http.get("/manage/clients?status=SUSPENDED&q=harbor")
    assert "No clients match this search." in page.text
    # a filter that is not one is left out, and the form shows it empty
    page = await acme.http.get("/manage/clients?billing=GOLD")
    assert len(names(page.text)) == len(demo.ACME_CLIENTS)


async def test_pages_follow_the_apis_cursor(browse, monkeypatch):
    from frontends.manage import clients

    monkeypatch.setattr(clients, "PAGE_SIZE", 3)
    acme = await owner(browse)
    seen, path = [], "/manage/clients?label="
    while path:
        page = await acme.http.get(path)
        seen += names(page.text)
        found = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == len(demo.ACME_CLIENTS) == len(set(seen))
    assert "First page" in page.text


async def test_one_client_is_created_with_its_package_and_login(browse):
    acme = await owner(browse)
    page = await acme.http.get("/manage/clients/new")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    package = re.search(r'<option value="([^"]+)" >Office', page.text)
    answer = await acme.http.post(
        "/manage/clients/new",
        data={
            "csrf_token": token,
            "name": "Harbor View Hotel",
            "email": "desk@harborview.test",
            "billingMode": "POSTPAID",
            "creditLimit": "150",
            "language": "fr",
            "package": package.group(1),
            "loginEmail": "desk@harborview.test",
            "password": "harbor-view-1",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("/money")
    listed = await acme.http.get("/manage/clients?q=harbor view")
    assert names(listed.text) == ["Harbor View Hotel"]
    assert "of $150.00 used" in listed.text
    # the new login opens the client portal
    portal = browse(ACME_HOST)
    assert (await portal.login("desk@harborview.test", "harbor-view-1")).status_code == 303


async def test_a_bad_client_is_refused_beside_its_field_and_nothing_is_created(browse):
    acme = await owner(browse)
    token = await acme.csrf("/manage/clients/new")
    answer = await acme.http.post(
        "/manage/clients/new",
        data={"csrf_token": token, "name": "Bad Mail Co", "email": "nope", "creditLimit": "ten"},
    )
    assert answer.status_code == 400
    assert 'id="single-creditLimit-error"' in answer.text and "is not an amount" in answer.text
    answer = await acme.http.post(
        "/manage/clients/new", data={"csrf_token": token, "name": "Bad Mail Co", "email": "nope"}
    )
    assert answer.status_code == 400 and 'id="single-email-error"' in answer.text
    assert names((await acme.http.get("/manage/clients?q=bad mail")).text) == []


async def test_the_bulk_rows_land_together(browse):
    acme = await owner(browse)
    token = await acme.csrf("/manage/clients/new")
    form = {"csrf_token": token, "rows": "3", "name_1": "Row One", "name_3": "Row Three"}
    form |= {"billingMode_1": "PREPAID_STRICT", "billingMode_3": "POSTPAID", "creditLimit_3": "40"}
    answer = await acme.http.post("/manage/clients/new/rows", data=form)
    assert answer.status_code == 303 and answer.headers["location"] == "/manage/clients?created=2"
    page = await acme.http.get("/manage/clients?q=row ")
    assert set(names(page.text)) == {"Row One", "Row Three"}


CSV = (
    "name,email,billing_mode,credit_limit,label\n"
    "Good One,one@good.test,prepaid_strict,,csv\n"
    "Bad Mail,not-an-email,prepaid_strict,,csv\n"
    "Good Two,two@good.test,postpaid,100,csv\n"
    ",,,,\n"
    "Bad Mode,mode@bad.test,gold,,csv\n"
)


async def test_a_csv_with_bad_rows_names_their_lines_and_creates_nothing(browse):
    acme = await owner(browse)
    token = await acme.csrf("/manage/clients/new")
    files = {"file": ("clients.csv", CSV.encode(), "text/csv")}
    answer = await acme.http.post(
        "/manage/clients/new/csv", data={"csrf_token": token}, files=files
    )
    assert answer.status_code == 400
    assert "Nothing was created from the file" in answer.text
    # a value the API cannot take is named first (line 6: the blank line 5 is skipped)
    assert "Line 6, Billing mode: must be one of" in answer.text
    fixed = CSV.replace("gold", "postpaid")
    files = {"file": ("clients.csv", fixed.encode(), "text/csv")}
    answer = await acme.http.post(
        "/manage/clients/new/csv", data={"csrf_token": token}, files=files
    )
    assert answer.status_code == 400
    assert re.search(r"Line 3, Email: [^<]*email", answer.text)
    assert names((await acme.http.get("/manage/clients?label=csv")).text) == []
    # with the bad line fixed, every row lands
    good = fixed.replace("not-an-email", "bad@mail.test")
    files = {"file": ("clients.csv", good.encode(), "text/csv")}
    answer = await acme.http.post(
        "/manage/clients/new/csv", data={"csrf_token": token}, files=files
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("created=4")
    assert len(names((await acme.http.get("/manage/clients?label=csv")).text)) == 4


async def test_a_file_without_the_header_is_refused_and_the_template_downloads(browse):
    acme = await owner(browse)
    token = await acme.csrf("/manage/clients/new")
    files = {"file": ("c.csv", b"Just A Name\n", "text/csv")}
    answer = await acme.http.post(
        "/manage/clients/new/csv", data={"csrf_token": token}, files=files
    )
    assert answer.status_code == 400 and "The first line must name the columns" in answer.text
    template = await acme.http.get("/manage/clients/new/template.csv")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")
    assert template.text.splitlines()[0].startswith("name,company,contact_name,email")
    # the template itself is a good file
    files = {"file": ("c.csv", template.content, "text/csv")}
    answer = await acme.http.post(
        "/manage/clients/new/csv", data={"csrf_token": token}, files=files
    )
    assert answer.status_code == 303
