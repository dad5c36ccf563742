"""Brands over HTTP: GraphQL brand by the request's host, brand edits, logo uploads (multipart),
hostnames ordered, checked and approved, /brand.css and /brand/logo, X-Forwarded-Host."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from api.app import create_app
from tests import brand_images

pytestmark = pytest.mark.usefixtures("ledger_checked")

PLATFORM_IP = "203.0.113.10"
PAYLOAD = "errors { code field message }"
BRAND = (
    "{ brand { displayName logoUrl cssUrl headerBackground titleBackground textColor"
    " contentBackground contentText supportEmail footerText defaultLanguage } }"
)
ORDER = (
    "mutation($h: String!) { hostnameOrder(input: {host: $h}) { hostname { id host status"
    f" fee {{ amount currency }} reseller {{ balance {{ amount }} }} }} {PAYLOAD} }} }}"
)
CHECK = (
    "mutation($id: ID!) { hostnameCheckDns(input: {id: $id}) { hostname { status activatedBy"
    f" dnsAddresses }} {PAYLOAD} }} }}"
)
APPROVE = (
    "mutation($id: ID!) { hostnameApprove(input: {id: $id}) { hostname { status activatedBy }"
    f" {PAYLOAD} }} }}"
)
UPDATE = (
    "mutation($input: BrandUpdateInput!) { brandUpdate(input: $input) { brandSettings {"
    " brand { displayName headerBackground } paypalReceiverEmail paypalCurrency paypalAmounts"
    f" }} {PAYLOAD} }} }}"
)
UPLOAD = (
    "mutation($input: BrandLogoUploadInput!) { brandLogoUpload(input: $input) {"
    f" brandSettings {{ logo {{ mediaType width height }} brand {{ logoUrl }} }} {PAYLOAD} }} }}"
)


class FakeResolver:
    def __init__(self):
        self.records: dict[str, set[str]] = {}

    async def a_records(self, host: str) -> set[str]:
        return set(self.records.get(host, set()))


class Web:
    """Requests to the app as if to a host (ASGI; the peer is 127.0.0.1)."""

    def __init__(self, app):
        self.app = app

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")

    async def get(self, path: str, host: str, **headers: str) -> httpx.Response:
        async with self.http() as http:
            return await http.get(path, headers={"host": host, **headers})

    async def gql(self, query: str, variables=None, *, token=None, host="t", **headers):
        headers = {"host": host, **headers}
        if token:
            headers["authorization"] = f"Bearer {token}"
        async with self.http() as http:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def upload(self, content: bytes, media_type: str, *, token: str) -> dict:
        operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
        async with self.http() as http:
            response = await http.post(
                "/graphql",
                data={
                    "operations": json.dumps(operations),
                    "map": json.dumps({"0": ["variables.input.file"]}),
                },
                files={"0": ("logo", content, media_type)},
                headers={"authorization": f"Bearer {token}"},
            )
        assert response.status_code == 200, response.text
        return response.json()["data"]["brandLogoUpload"]


def make_web(settings, **changes):
    resolver = FakeResolver()
    defaults = {
        "platform_host": "portal.dialtone.test",
        "platform_addresses": (PLATFORM_IP,),
        "hostname_fee": 25_000_000,
    }
    brand_settings = dataclasses.replace(settings, **{**defaults, **changes})
    app = create_app(brand_settings, dns_resolver=resolver)
    return Web(app), resolver


@pytest.fixture
async def web(settings):
    made, resolver = make_web(settings)
    made.resolver = resolver
    yield made
    await made.app.state.engine.dispose()


async def test_a_reseller_orders_a_hostname_and_serves_its_brand_once_dns_points(web, world):
    acme = world.tokens["acme"]
    # given Acme's brand
    data = await web.gql(
        UPDATE,
        {
            "input": {
                "displayName": "Acme Phone",
                "headerBackground": "#123",
                "paypalReceiverEmail": "pay@acme.test",
                "paypalAmounts": [20, 10],
            }
        },
        token=acme,
    )
    assert data["brandUpdate"]["errors"] == []
    assert data["brandUpdate"]["brandSettings"] == {
        "brand": {"displayName": "Acme Phone", "headerBackground": "#112233"},
        "paypalReceiverEmail": "pay@acme.test",
        "paypalCurrency": "USD",
        "paypalAmounts": [10, 20],
    }
    # when Acme orders a hostname
    data = await web.gql(ORDER, {"h": "Portal.Acme.TEST."}, token=acme)
    order = data["hostnameOrder"]
    # then it is pending and its fee came off Acme's balance
    assert order["errors"] == []
    hostname = order["hostname"]
    assert (hostname["host"], hostname["status"]) == ("portal.acme.test", "PENDING")
    assert hostname["fee"] == {"amount": "25.000000", "currency": "USD"}
    assert hostname["reseller"]["balance"]["amount"] == "975.000000"
    # and the host serves nothing yet
    assert (await web.gql(BRAND, host="portal.acme.test"))["brand"] is None
    assert (await web.get("/brand.css", "portal.acme.test")).status_code == 404
    # when its DNS is checked while it points elsewhere, it stays pending
    web.resolver.records["portal.acme.test"] = {"198.51.100.1"}
    data = await web.gql(CHECK, {"id": hostname["id"]}, token=acme)
    assert data["hostnameCheckDns"]["hostname"]["status"] == "PENDING"
    # and once it points at the platform, it becomes active
    web.resolver.records["portal.acme.test"] = {PLATFORM_IP}
    data = await web.gql(CHECK, {"id": hostname["id"]}, token=acme)
    assert data["hostnameCheckDns"]["hostname"] == {
        "status": "ACTIVE",
        "activatedBy": "DNS",
        "dnsAddresses": [PLATFORM_IP],
    }
    # then the host serves Acme's public brand, and its stylesheet
    brand = (await web.gql(BRAND, host="portal.acme.test:443"))["brand"]
    assert brand["displayName"] == "Acme Phone" and brand["headerBackground"] == "#112233"
    assert brand["cssUrl"] == "/brand.css" and brand["logoUrl"] is None
    css = await web.get("/brand.css", "portal.acme.test")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--brand-header-bg: #112233;" in css.text
    assert css.headers["x-content-type-options"] == "nosniff"
    # and a change of the brand shows at once
    await web.gql(UPDATE, {"input": {"headerBackground": "#445566"}}, token=acme)
    changed = await web.get("/brand.css", "portal.acme.test")
    assert "--brand-header-bg: #445566;" in changed.text
    assert changed.headers["etag"] != css.headers["etag"]
    again = await web.get(
        "/brand.css", "portal.acme.test", **{"if-none-match": changed.headers["etag"]}
    )
    assert again.status_code == 304


async def test_an_order_the_balance_does_not_cover_changes_nothing(settings, world):
    web, _ = make_web(settings, hostname_fee=1_000_000_001)
    try:
        data = await web.gql(ORDER, {"h": "portal.acme.test"}, token=world.tokens["acme"])
        listing = await web.gql(
            "{ hostnames { edges { node { host } } } resellers { edges { node {"
            " balance { amount } } } } }",
            token=world.tokens["acme"],
        )
    finally:
        await web.app.state.engine.dispose()
    [error] = data["hostnameOrder"]["errors"]
    assert error["code"] == "INSUFFICIENT_FUNDS"
    assert "1000.000001 USD" in error["message"]
    assert data["hostnameOrder"]["hostname"] is None
    assert listing["hostnames"]["edges"] == []
    assert listing["resellers"]["edges"][0]["node"]["balance"]["amount"] == "1000.000000"


async def test_raw_css_and_bad_fields_are_refused_naming_each(web, world):
    data = await web.gql(
        UPDATE,
        {
            "input": {
                "headerBackground": "red",
                "contentText": "#fff;}body{display:none",
                "supportEmail": "nope",
                "paypalCurrency": "EUR",
            }
        },
        token=world.tokens["acme"],
    )
    errors = data["brandUpdate"]["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {
        ("headerBackground", "VALIDATION"),
        ("contentText", "VALIDATION"),
        ("supportEmail", "VALIDATION"),
        ("paypalCurrency", "VALIDATION"),
    }
    assert data["brandUpdate"]["brandSettings"] is None


async def test_a_logo_is_uploaded_checked_and_served_on_the_brands_host(web, world):
    acme, operator = world.tokens["acme"], world.tokens["operator"]
    # given an active hostname of Acme's (approved by the operator)
    order = (await web.gql(ORDER, {"h": "portal.acme.test"}, token=acme))["hostnameOrder"]
    approve = await web.gql(APPROVE, {"id": order["hostname"]["id"]}, token=operator)
    assert approve["hostnameApprove"]["hostname"] == {"status": "ACTIVE", "activatedBy": "OPERATOR"}
    # when Acme uploads a PNG logo
    content = brand_images.png(3, 2)
    uploaded = await web.upload(content, "image/png", token=acme)
    # then it is kept with the type read from its bytes
    assert uploaded["errors"] == []
    assert uploaded["brandSettings"]["logo"] == {"mediaType": "image/png", "width": 3, "height": 2}
    logo_url = uploaded["brandSettings"]["brand"]["logoUrl"]
    assert (await web.gql(BRAND, host="portal.acme.test"))["brand"]["logoUrl"] == logo_url
    # and the host serves it, cacheable for good under its versioned URL
    served = await web.get(logo_url, "portal.acme.test")
    assert served.status_code == 200 and served.content == content
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    assert "--brand-logo" in (await web.get("/brand.css", "portal.acme.test")).text
    # and no other host serves it
    assert (await web.get(logo_url, "portal.dialtone.test")).status_code == 404


@pytest.mark.parametrize(
    ("content", "media_type", "says"),
    [
        (brand_images.SVG, "image/svg+xml", "not a PNG"),
        (brand_images.HTML, "image/png", "not a PNG"),
        (brand_images.gif(), "image/png", "says it is image/png but it is image/gif"),
        (brand_images.png() + b"\0" * 300_000, "image/png", "at most 256 KiB"),
        (brand_images.png(5000, 10), "image/png", "at most 2048 pixels"),
    ],
)
async def test_a_file_that_is_no_acceptable_logo_is_refused(web, world, content, media_type, says):
    uploaded = await web.upload(content, media_type, token=world.tokens["acme"])
    [error] = uploaded["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", "file")
    assert says in error["message"]
    settings = await web.gql("{ brandSettings { logo { mediaType } } }", token=world.tokens["acme"])
    assert settings["brandSettings"]["logo"] is None


async def test_a_logo_without_a_multipart_file_is_refused(web, world):
    data = await web.gql(
        'mutation { brandLogoUpload(input: {file: "iVBORw0KGgo="})'
        f" {{ brandSettings {{ logo {{ mediaType }} }} {PAYLOAD} }} }}",
        token=world.tokens["acme"],
    )
    assert data["brandLogoUpload"]["errors"][0]["field"] == "file"


async def test_x_forwarded_host_is_believed_only_from_a_trusted_proxy(settings, world):
    async def brand_name(web, **headers):
        data = await web.gql("{ brand { displayName } }", host="internal.lan", **headers)
        return data["brand"] and data["brand"]["displayName"]

    for proxies, expected in (((), None), (("10.0.0.0/8", "127.0.0.1"), "Dialtone")):
        web, _ = make_web(settings, trusted_proxies=proxies)
        try:
            assert await brand_name(web) is None
            forwarded = {"x-forwarded-host": "portal.dialtone.test"}
            assert await brand_name(web, **forwarded) == expected
            # the last value is the one the trusted proxy set; earlier ones are anyone's
            chained = {"x-forwarded-host": "portal.dialtone.test, evil.test"}
            assert await brand_name(web, **chained) is None
            spoofed = {"x-forwarded-host": "evil.test, portal.dialtone.test"}
            assert await brand_name(web, **spoofed) == expected
            css = await web.get("/brand.css", "internal.lan", **forwarded)
            assert css.status_code == (200 if expected else 404)
        finally:
            await web.app.state.engine.dispose()


async def test_the_platform_host_serves_the_operators_brand_which_the_operator_edits(web, world):
    operator = world.tokens["operator"]
    assert (await web.gql(BRAND, host="PORTAL.dialtone.test."))["brand"]["displayName"] == (
        "Dialtone"
    )
    data = await web.gql(
        UPDATE, {"input": {"displayName": "Carrier", "contentText": "#000"}}, token=operator
    )
    assert data["brandUpdate"]["errors"] == []
    brand = (await web.gql(BRAND, host="portal.dialtone.test"))["brand"]
    assert (brand["displayName"], brand["contentText"]) == ("Carrier", "#000000")
    settings = await web.gql("{ brandSettings { reseller { name } } }", token=operator)
    assert settings["brandSettings"] == {"reseller": None}
    assert (await web.gql(BRAND, host="unknown.example.com"))["brand"] is None


async def test_staff_read_the_brand_owners_change_it_and_only_the_operator_approves(web, world):
    acme, staff, operator = (world.tokens[k] for k in ("acme", "acme_staff", "operator"))
    order = (await web.gql(ORDER, {"h": "portal.acme.test"}, token=acme))["hostnameOrder"]
    hostname_id = order["hostname"]["id"]
    # staff see the brand and its hostnames, but may not change them
    seen = await web.gql(
        "{ brandSettings { brand { displayName } hostnames { edges { node { host } } } } }",
        token=staff,
    )
    assert seen["brandSettings"] == {
        "brand": {"displayName": "Acme"},
        "hostnames": {"edges": [{"node": {"host": "portal.acme.test"}}]},
    }
    denied = await web.gql(UPDATE, {"input": {"displayName": "x"}}, token=staff)
    assert denied["brandUpdate"]["errors"][0]["code"] == "PERMISSION_DENIED"
    # the reseller may not approve its own hostname
    refused = await web.gql(APPROVE, {"id": hostname_id}, token=acme)
    assert refused["hostnameApprove"]["errors"][0]["code"] == "PERMISSION_DENIED"
    # the operator lists pending hostnames of every reseller and approves one
    pending = await web.gql(
        "{ hostnames(status: PENDING) { edges { node { host reseller { name } } } } }",
        token=operator,
    )
    assert pending["hostnames"]["edges"] == [
        {"node": {"host": "portal.acme.test", "reseller": {"name": "Acme"}}}
    ]
    approved = await web.gql(APPROVE, {"id": hostname_id}, token=operator)
    assert approved["hostnameApprove"]["hostname"]["status"] == "ACTIVE"
    active = await web.gql("{ hostnames(status: ACTIVE) { edges { node { host } } } }", token=acme)
    assert active["hostnames"]["edges"] == [{"node": {"host": "portal.acme.test"}}]


async def test_brand_update_refuses_colors_without_aa_contrast(web, world):
    acme = world.tokens["acme"]
    # when Acme asks for pale yellow text on the default (white) content background
    data = await web.gql(UPDATE, {"input": {"contentText": "#ffff99"}}, token=acme)
    # then it is refused with the pair and the ratio, and nothing changed
    assert data["brandUpdate"]["brandSettings"] is None
    assert data["brandUpdate"]["errors"] == [
        {
            "code": "VALIDATION",
            "field": "contentText",
            "message": "contentText #ffff99 on contentBackground #ffffff has a contrast ratio"
            " of 1.04:1; WCAG AA needs at least 4.5:1",
        }
    ]
    # and a dark text passes
    data = await web.gql(UPDATE, {"input": {"contentText": "#222222"}}, token=acme)
    assert data["brandUpdate"]["errors"] == []
