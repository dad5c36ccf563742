"""Brands and hostnames: fields checked, logos recognised by their bytes, hostnames paid for
through the ledger, activated by DNS or the operator, and resolved through a per-process cache
that every change invalidates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from api.db import transaction
from api.domain import accounts, brands, images, stamps
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, DomainErrors, ErrorCode
from api.models import AuditEvent, Brand, Hostname, LedgerEntry
from api.models.base import utcnow
from api.settings import Settings
from branding.resolve import BrandCache
from branding.theme import DEFAULT_COLORS, render_css, theme_of
from tests import brand_images
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    fund_reseller,
    make_reseller,
    operator_actor,
    reseller_actor,
    reseller_balance,
)

pytestmark = pytest.mark.usefixtures("ledger_checked")

PLATFORM_IP = "203.0.113.10"
SETTINGS = Settings(
    platform_host="portal.dialtone.test",
    platform_addresses=(PLATFORM_IP, "203.0.113.11"),
    hostname_fee=25_000_000,
    logo_max_bytes=4096,
    logo_max_pixels=512,
)


class FakeResolver:
    """A fixed table of A records."""

    def __init__(self, records: dict[str, set[str]] | None = None):
        self.records = records or {}
        self.asked: list[str] = []

    async def a_records(self, host: str) -> set[str]:
        self.asked.append(host)
        return set(self.records.get(host, set()))


async def reseller_with(sessions, balance: str = "100", **kw):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, **kw)
        if balance != "0":
            await fund_reseller(s, reseller, balance)
    return reseller


async def refused(sessions, code: ErrorCode, fn, *args, **kw) -> DomainError:
    with pytest.raises((DomainError, DomainErrors)) as info:
        async with transaction(sessions) as s:
            await fn(s, *args, **kw)
    exc = info.value
    error = exc.errors[0] if isinstance(exc, DomainErrors) else exc
    assert error.code == code, error.message
    return error


async def count(sessions, model, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- hosts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("portal.example.com", "portal.example.com"),
        ("Portal.EXAMPLE.com", "portal.example.com"),
        ("portal.example.com:8443", "portal.example.com"),
        ("portal.example.com.", "portal.example.com"),
        ("  PORTAL.Example.com.:443 ", "portal.example.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example.:80", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("münchen.例え.jp", "xn--mnchen-3ya.xn--r8jz45g.jp"),
    ],
)
def test_hosts_are_normalised(raw, expected):
    assert brands.normalise_host("host", raw) == expected
    assert brands.request_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "localhost",
        "203.0.113.10",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "2001:db8::1",
        "a..example.com",
        "-bad.example.com",
        "bad-.example.com",
        "bad_host.example.com",
        "exa mple.com",
        "portal.example.com/path",
        "user@portal.example.com",
        "x" * 64 + ".example.com",
        ".".join(["abcdefghij"] * 25) + ".com",
        "xn--a.example",
        "portal\n.example.com",
        "portal.example\n.com",
    ],
)
def test_bad_hostnames_are_refused(raw):
    with pytest.raises(DomainError) as info:
        brands.normalise_host("host", raw)
    assert (info.value.code, info.value.field) == (ErrorCode.VALIDATION, "host")


def test_a_request_host_that_is_no_name_resolves_to_nothing():
    assert brands.request_host(None) is None
    assert brands.request_host("[::1]:8000") is None
    assert brands.request_host("evil.example.com, other") is None
    assert brands.request_host("LOCALHOST:8000") == "localhost"


# --- brand fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("#ABC", "#aabbcc"), ("#A1b2C3", "#a1b2c3"), (" #123456 ", "#123456"), ("", "")],
)
def test_colors_are_hex_only(raw, expected):
    assert brands.color("textColor", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "red",
        "#12345",
        "#1234567",
        "#ggg",
        "rgb(1, 2, 3)",
        "#fff; background: url(https://evil.test/x)",
        "#fff}body{display:none",
        "url(javascript:alert(1))",
        "var(--x)",
        "#aabbcc\nbody",
    ],
)
def test_anything_but_a_hex_color_is_refused(raw):
    with pytest.raises(DomainError) as info:
        brands.color("textColor", raw)
    assert (info.value.code, info.value.field) == (ErrorCode.VALIDATION, "textColor")


@pytest.mark.parametrize(
    "amounts",
    [[10.5], [0], [-5], [True], ["10"], [100_001], list(range(1, 14)), "10,20"],
)
def test_paypal_amounts_are_a_few_whole_numbers(amounts):
    with pytest.raises(DomainError) as info:
        brands.paypal_amounts("paypalAmounts", amounts)
    assert info.value.field == "paypalAmounts"


def test_paypal_amounts_are_kept_distinct_and_sorted():
    assert brands.paypal_amounts("paypalAmounts", [50, 10, 25, 10]) == [10, 25, 50]


async def test_a_reseller_edits_its_brand_and_the_change_is_audited(sessions):
    # given a reseller without a brand yet
    reseller = await reseller_with(sessions, name="Acme")
    actor = reseller_actor(reseller)
    # when its owner sets its look and PayPal settings
    async with transaction(sessions) as s:
        owner = await brands.update_brand(
            s,
            actor,
            None,
            {
                "display_name": "Acme Phone",
                "header_background": "#A24",
                "support_email": "Help@Acme.test",
                "footer_text": "Acme Ltd",
                "default_language": "pt-BR",
                "paypal_receiver_email": "pay@acme.test",
                "paypal_currency": "usd",
                "paypal_amounts": [20, 10],
            },
        )
    # then the brand holds the cleaned values
    brand = owner.brand
    assert (brand.display_name, brand.header_background, brand.support_email) == (
        "Acme Phone",
        "#aa2244",
        "help@acme.test",
    )
    assert (brand.paypal_currency, brand.paypal_amounts) == ("USD", [10, 20])
    # and the change is in the audit history with what it was before
    async with sessions() as s:
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "brand.updated"))
        settings = await brands.paypal_settings(s, reseller.id)
    assert event.reseller_id == reseller.id
    assert event.after["header_background"] == "#aa2244"
    assert event.before["header_background"] == ""
    assert settings == brands.PaypalSettings("pay@acme.test", "USD", (10, 20))


async def test_bad_brand_fields_are_all_reported_and_nothing_changes(sessions):
    reseller = await reseller_with(sessions, currency="EUR")
    # when a reseller sends raw CSS, a bad email and another currency
    with pytest.raises(DomainErrors) as info:
        async with transaction(sessions) as s:
            await brands.update_brand(
                s,
                reseller_actor(reseller),
                None,
                {
                    "content_background": "white; } * { display: none",
                    "support_email": "not-an-email",
                    "paypal_currency": "USD",
                },
            )
    # then every field is named, and no brand row or audit event was written
    fields = {e.field for e in info.value.errors}
    assert fields == {"contentBackground", "supportEmail", "paypalCurrency"}
    assert await count(sessions, Brand) == 0
    assert await count(sessions, AuditEvent, AuditEvent.subject_type == "brand") == 0


async def test_paypal_settings_are_none_until_a_receiver_is_set(sessions):
    reseller = await reseller_with(sessions)
    async with transaction(sessions) as s:
        assert await brands.paypal_settings(s, reseller.id) is None
        await brands.update_brand(s, SYSTEM, reseller.id, {"paypal_amounts": [5]})
        assert await brands.paypal_settings(s, reseller.id) is None
        await brands.update_brand(s, SYSTEM, None, {"paypal_receiver_email": "op@dialtone.test"})
        operator = await brands.paypal_settings(s, None)
    assert operator == brands.PaypalSettings("op@dialtone.test", "", ())


async def test_another_reseller_or_a_client_cannot_touch_a_brand(sessions):
    acme = await reseller_with(sessions)
    globex = await reseller_with(sessions)
    await refused(
        sessions,
        ErrorCode.NOT_FOUND,
        brands.update_brand,
        reseller_actor(globex),
        acme.id,
        {"display_name": "Hacked"},
    )
    await refused(
        sessions,
        ErrorCode.PERMISSION_DENIED,
        brands.update_brand,
        reseller_actor(acme, "reseller_staff"),
        None,
        {"display_name": "Staff may only read"},
    )
    assert await count(sessions, Brand) == 0


# --- logos -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "media_type", "size"),
    [
        (brand_images.png, "image/png", (2, 1)),
        (brand_images.gif, "image/gif", (3, 2)),
        (brand_images.jpeg, "image/jpeg", (5, 4)),
        (brand_images.webp_lossless, "image/webp", (7, 6)),
        (brand_images.webp_lossy, "image/webp", (9, 8)),
        (brand_images.webp_extended, "image/webp", (300, 200)),
    ],
)
def test_images_are_recognised_by_their_bytes(make, media_type, size):
    info = images.inspect(make())
    assert (info.media_type, (info.width, info.height)) == (media_type, size)


async def test_a_logo_is_stored_with_the_type_read_from_its_bytes(sessions):
    reseller = await reseller_with(sessions)
    content = brand_images.png(4, 3)
    async with transaction(sessions) as s:
        owner = await brands.set_logo(
            s, reseller_actor(reseller), None, content, "image/png", settings=SETTINGS
        )
    assert (owner.brand.logo_type, owner.brand.logo_width, owner.brand.logo_height) == (
        "image/png",
        4,
        3,
    )
    async with sessions() as s:
        stored = await brands.logo(s, reseller.id)
        event = await s.scalar(select(AuditEvent).where(AuditEvent.subject_type == "brand"))
    assert stored[0] == content and stored[1] == "image/png"
    assert event.after["logo_sha256"] == stored[2]
    # and removing it leaves no logo
    async with transaction(sessions) as s:
        await brands.set_logo(s, reseller_actor(reseller), None, None, None, settings=SETTINGS)
        assert await brands.logo(s, reseller.id) is None


@pytest.mark.parametrize(
    ("content", "declared", "says"),
    [
        (brand_images.SVG, "image/png", "not a PNG"),
        (brand_images.HTML, "image/gif", "not a PNG"),
        (brand_images.png(), "image/jpeg", "says it is image/jpeg but it is image/png"),
        (brand_images.gif(), "image/png", "says it is image/png but it is image/gif"),
        (brand_images.png()[:20], "image/png", "truncated"),
        (b"", "image/png", "empty"),
        (brand_images.png(600, 1), "image/png", "at most 512 pixels"),
        (brand_images.png(1, 600), "image/png", "at most 512 pixels"),
        (brand_images.png() + b"\0" * 5000, "image/png", "at most 4 KiB"),
    ],
)
async def test_a_logo_that_is_not_what_it_claims_or_too_big_is_refused(
    sessions, content, declared, says
):
    reseller = await reseller_with(sessions)
    error = await refused(
        sessions,
        ErrorCode.VALIDATION,
        brands.set_logo,
        reseller_actor(reseller),
        None,
        content,
        declared,
        settings=SETTINGS,
    )
    assert error.field == "file" and says in error.message
    assert await count(sessions, Brand) == 0


# --- hostnames ---------------------------------------------------------------------------------


async def test_ordering_a_hostname_charges_its_fee_once_through_the_ledger(sessions):
    # given a reseller with 100 on its balance and a fee of 25
    reseller = await reseller_with(sessions, balance="100")
    # when it orders a hostname
    async with transaction(sessions) as s:
        hostname = await brands.order_hostname(
            s, reseller_actor(reseller), None, "Portal.Acme.TEST.", settings=SETTINGS
        )
    # then the hostname is pending, normalised, and 25 moved to the operator's fees
    assert (hostname.host, hostname.status) == ("portal.acme.test", "pending")
    assert hostname.fee == 25_000_000
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 75_000_000
        assert await balance_of(s, "operator:hostname_fees:USD") == 25_000_000
        entry = await s.get(LedgerEntry, hostname.fee_entry_id)
        assert (entry.kind, entry.amount) == ("hostname_fee", 25_000_000)
        assert entry.reseller_id == reseller.id
        await assert_ledger_consistent(s)
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "hostname.ordered"))
    assert event.after["host"] == "portal.acme.test" and event.after["fee"] == "25.00"


async def test_a_hostname_the_balance_does_not_cover_is_refused_with_nothing_changed(sessions):
    reseller = await reseller_with(sessions, balance="24.99")
    async with sessions() as s:
        entries = await s.scalar(select(func.count()).select_from(LedgerEntry))
    error = await refused(
        sessions,
        ErrorCode.INSUFFICIENT_FUNDS,
        brands.order_hostname,
        reseller_actor(reseller),
        None,
        "portal.acme.test",
        settings=SETTINGS,
    )
    assert "hostname fee of 25.00 USD" in error.message
    assert await count(sessions, Hostname) == 0
    assert await count(sessions, LedgerEntry) == entries
    assert await count(sessions, AuditEvent, AuditEvent.subject_type == "hostname") == 0
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 24_990_000
        await assert_ledger_consistent(s)


async def test_without_a_fee_nothing_is_posted(sessions):
    reseller = await reseller_with(sessions, balance="0")
    free = Settings(platform_host="portal.dialtone.test")
    async with transaction(sessions) as s:
        hostname = await brands.order_hostname(s, SYSTEM, reseller.id, "a.acme.test", settings=free)
    assert hostname.fee_entry_id is None
    assert await count(sessions, LedgerEntry) == 0


async def test_a_hostname_belongs_to_one_reseller_and_the_platform_host_to_none(sessions):
    acme = await reseller_with(sessions)
    globex = await reseller_with(sessions)
    async with transaction(sessions) as s:
        await brands.order_hostname(
            s, reseller_actor(acme), None, "portal.acme.test", settings=SETTINGS
        )
    again = await refused(
        sessions,
        ErrorCode.CONFLICT,
        brands.order_hostname,
        reseller_actor(acme),
        None,
        "portal.acme.test",
        settings=SETTINGS,
    )
    assert again.message == "this hostname is already ordered"
    for host in ("PORTAL.acme.test.", "portal.acme.test:443"):
        await refused(
            sessions,
            ErrorCode.CONFLICT,
            brands.order_hostname,
            reseller_actor(globex),
            None,
            host,
            settings=SETTINGS,
        )
    await refused(
        sessions,
        ErrorCode.CONFLICT,
        brands.order_hostname,
        reseller_actor(globex),
        None,
        "Portal.Dialtone.test",
        settings=SETTINGS,
    )
    async with sessions() as s:
        assert await reseller_balance(s, globex) == 100_000_000


async def test_the_operator_orders_for_a_named_reseller_only(sessions):
    reseller = await reseller_with(sessions)
    error = await refused(
        sessions,
        ErrorCode.VALIDATION,
        brands.order_hostname,
        operator_actor(),
        None,
        "x.acme.test",
        settings=SETTINGS,
    )
    assert error.field == "resellerId"
    async with transaction(sessions) as s:
        hostname = await brands.order_hostname(
            s, operator_actor(), reseller.id, "x.acme.test", settings=SETTINGS
        )
    assert hostname.reseller_id == reseller.id


async def order(sessions, reseller, host: str = "portal.acme.test") -> Hostname:
    async with transaction(sessions) as s:
        return await brands.order_hostname(
            s, reseller_actor(reseller), None, host, settings=SETTINGS
        )


async def resolve(sessions, host: str):
    async with sessions() as s:
        return await brands.brand_for_host(s, brands.request_host(host), settings=SETTINGS)


@pytest.mark.parametrize(
    "records",
    [set(), {"198.51.100.7"}, {PLATFORM_IP, "198.51.100.7"}],
    ids=["no record", "elsewhere", "partly elsewhere"],
)
async def test_a_hostname_stays_pending_until_all_its_a_records_name_the_platform(
    sessions, records
):
    reseller = await reseller_with(sessions)
    hostname = await order(sessions, reseller)
    resolver = FakeResolver({"portal.acme.test": records})
    checked = await brands.check_dns(
        sessions, reseller_actor(reseller), hostname.id, resolver=resolver, settings=SETTINGS
    )
    assert checked.status == "pending"
    assert checked.dns_addresses == sorted(records) and checked.dns_checked_at is not None
    assert await resolve(sessions, "portal.acme.test") is None


async def test_a_hostname_pointing_at_the_platform_becomes_active_and_resolves(sessions):
    reseller = await reseller_with(sessions, name="Acme")
    hostname = await order(sessions, reseller)
    assert await resolve(sessions, "portal.acme.test") is None
    resolver = FakeResolver({"portal.acme.test": {PLATFORM_IP, "203.0.113.11"}})
    checked = await brands.check_dns(
        sessions, reseller_actor(reseller), hostname.id, resolver=resolver, settings=SETTINGS
    )
    assert (checked.status, checked.activated_by) == ("active", "dns")
    owner = await resolve(sessions, "PORTAL.acme.test.:443")
    assert owner.reseller.id == reseller.id and owner.brand is None
    assert theme_of(owner).display_name == "Acme"
    async with sessions() as s:
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "hostname.activated"))
        url = await brands.reseller_base_url(s, reseller.id, settings=SETTINGS)
    assert event.after == {"status": "active", "activated_by": "dns"}
    assert url == "https://portal.acme.test"


async def test_the_worker_checks_pending_hostnames_every_ten_minutes(sessions):
    # given two pending hostnames, one of them pointing at the platform
    reseller = await reseller_with(sessions)
    await order(sessions, reseller, "a.acme.test")
    await order(sessions, reseller, "b.acme.test")
    resolver = FakeResolver({"a.acme.test": {PLATFORM_IP}})
    now = utcnow()
    # when the worker's job runs, both are checked and one becomes active
    assert await brands.recheck_due(sessions, SETTINGS, now, resolver=resolver) == 1
    assert sorted(resolver.asked) == ["a.acme.test", "b.acme.test"]
    # and the other is not asked again before ten minutes have passed
    resolver.asked.clear()
    resolver.records["b.acme.test"] = {PLATFORM_IP}
    assert await brands.recheck_due(sessions, SETTINGS, now, resolver=resolver) == 0
    assert resolver.asked == []
    later = now + brands.DNS_RECHECK_EVERY + timedelta(hours=1)
    assert await brands.recheck_due(sessions, SETTINGS, later, resolver=resolver) == 1
    assert resolver.asked == ["b.acme.test"]


async def test_only_the_operator_approves_a_hostname(sessions):
    acme = await reseller_with(sessions)
    globex = await reseller_with(sessions)
    hostname = await order(sessions, acme)
    await refused(
        sessions,
        ErrorCode.PERMISSION_DENIED,
        brands.approve_hostname,
        reseller_actor(acme),
        hostname.id,
    )
    await refused(
        sessions,
        ErrorCode.NOT_FOUND,
        brands.record_dns_check,
        reseller_actor(globex),
        hostname.id,
        {PLATFORM_IP},
        settings=SETTINGS,
    )
    async with transaction(sessions) as s:
        approved = await brands.approve_hostname(s, operator_actor(), hostname.id)
    assert (approved.status, approved.activated_by) == ("active", "operator")
    assert (await resolve(sessions, "portal.acme.test")).reseller.id == acme.id


async def test_the_platform_host_serves_the_operators_default_brand(sessions):
    owner = await resolve(sessions, "Portal.Dialtone.test:8000")
    assert owner.reseller is None and theme_of(owner).display_name == "Dialtone"
    assert await resolve(sessions, "unknown.example.com") is None
    async with sessions() as s:
        url = await brands.reseller_base_url(s, 1, settings=SETTINGS)
    assert url == "https://portal.dialtone.test"


# --- the host cache ----------------------------------------------------------------------------


async def test_every_process_sees_a_change_at_its_next_use(sessions):
    # given two processes' caches, both holding Acme's host as pending (nothing)
    reseller = await reseller_with(sessions, name="Acme")
    hostname = await order(sessions, reseller)
    first, second = BrandCache(), BrandCache()
    for cache in (first, second):
        async with sessions() as s:
            assert await cache.theme(s, "portal.acme.test", SETTINGS) is None
    # when the operator approves the hostname
    async with transaction(sessions) as s:
        await brands.approve_hostname(s, operator_actor(), hostname.id)
    # then both resolve it
    for cache in (first, second):
        async with sessions() as s:
            assert (await cache.theme(s, "portal.acme.test", SETTINGS)).display_name == "Acme"
    # and when the reseller changes its look, both draw the new one
    async with transaction(sessions) as s:
        await brands.update_brand(
            s, reseller_actor(reseller), None, {"display_name": "Acme 2", "text_color": "#fefdfc"}
        )
    for cache in (first, second):
        async with sessions() as s:
            theme = await cache.theme(s, "portal.acme.test", SETTINGS)
        assert (theme.display_name, theme.text_color) == ("Acme 2", "#fefdfc")


async def test_renaming_a_reseller_shows_its_new_name_on_its_host(sessions):
    # given Acme's active host, drawn (cached) under its name as it set no display name
    reseller = await reseller_with(sessions, name="Acme")
    hostname = await order(sessions, reseller)
    async with transaction(sessions) as s:
        await brands.approve_hostname(s, operator_actor(), hostname.id)
    cache = BrandCache()
    async with sessions() as s:
        assert (await cache.theme(s, "portal.acme.test", SETTINGS)).display_name == "Acme"
    # when the operator renames it (and when a change leaves the name as it is)
    async with transaction(sessions) as s:
        await accounts.update_reseller(s, SYSTEM, reseller.id, {"name": "Acme Telecom"})
    async with transaction(sessions) as s:
        await accounts.update_reseller(s, SYSTEM, reseller.id, {"name": "Acme Telecom"})
    # then its host shows the new name
    async with sessions() as s:
        theme = await cache.theme(s, "portal.acme.test", SETTINGS)
        assert theme.display_name == "Acme Telecom"
        assert await stamps.read(s, brands.STAMP) == 2  # the approval, the rename


async def test_the_cache_keeps_answers_until_the_stamp_moves(sessions, engine):
    from tests.factories import count_statements

    reseller = await reseller_with(sessions)
    hostname = await order(sessions, reseller)
    async with transaction(sessions) as s:
        await brands.approve_hostname(s, operator_actor(), hostname.id)
    cache = BrandCache()
    async with sessions() as s:
        await cache.theme(s, "portal.acme.test", SETTINGS)
    with count_statements(engine) as statements:
        async with sessions() as s:
            await cache.theme(s, "portal.acme.test", SETTINGS)
    # one read of the stamp, nothing else
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 1


def test_the_stylesheet_holds_only_hex_colors():
    owner = brands.BrandOwner(None, Brand(header_background="#102030", text_color="red;}"))
    lines = render_css(theme_of(owner)).splitlines()
    assert lines[0] == ":root {" and lines[-1] == "}"
    assert all(re.fullmatch(r"  --brand-[a-z-]+: #[0-9a-f]{6};", line) for line in lines[1:-1])
    assert "  --brand-header-bg: #102030;" in lines
    assert f"  --brand-text: {DEFAULT_COLORS['text_color']};" in lines


async def test_a_color_written_around_the_checks_never_reaches_the_stylesheet(sessions):
    reseller = await reseller_with(sessions)
    hostname = await order(sessions, reseller)
    async with transaction(sessions) as s:
        await brands.approve_hostname(s, operator_actor(), hostname.id)
        await brands.update_brand(s, reseller_actor(reseller), None, {"display_name": "Acme"})
        await s.execute(update(Brand).values(content_text="#fff;}"))
    owner = await resolve(sessions, "portal.acme.test")
    assert theme_of(owner).content_text == DEFAULT_COLORS["content_text"]


# --- contrast ----------------------------------------------------------------------------------

hex_colors = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#777777", "#ffffff", 4.48),  # the grey that just misses AA on white
        ("#767676", "#ffffff", 4.54),  # the one that just makes it
        ("#ffffff", "#1f2a44", 14.26),  # the default header
    ],
)
def test_the_contrast_ratio_of_known_pairs(first, second, expected):
    assert brands.contrast_ratio(first, second) == pytest.approx(expected, abs=0.01)


@given(hex_colors, hex_colors)
def test_the_contrast_ratio_is_symmetric_and_between_1_and_21(first, second):
    ratio = brands.contrast_ratio(first, second)
    assert ratio == pytest.approx(brands.contrast_ratio(second, first))
    assert 1.0 <= ratio <= 21.0 + 1e-9
    assert brands.contrast_ratio(first, first) == pytest.approx(1.0)


@given(hex_colors)
def test_black_or_white_always_reaches_aa_on_any_color(background):
    # a property of the WCAG formula that lets every reseller find a readable text color
    best = max(brands.contrast_ratio(t, background) for t in ("#000000", "#ffffff"))
    assert best >= brands.MIN_CONTRAST


async def test_colors_that_fail_aa_contrast_are_refused_naming_the_pair(sessions):
    # given a reseller with a dark header and white text
    reseller = await reseller_with(sessions, name="Acme")
    async with transaction(sessions) as s:
        await brands.update_brand(
            s, reseller_actor(reseller), None, {"header_background": "#203040"}
        )
    # when it picks a light grey title bar under the white text
    with pytest.raises(DomainErrors) as info:
        async with transaction(sessions) as s:
            await brands.update_brand(
                s, reseller_actor(reseller), None, {"title_background": "#aaaaaa"}
            )
    # then it is refused, naming the pair and its ratio
    [error] = info.value.errors
    assert (error.code, error.field) == (ErrorCode.VALIDATION, "titleBackground")
    assert error.message == (
        "textColor #ffffff on titleBackground #aaaaaa has a contrast ratio of 2.32:1; "
        "WCAG AA needs at least 4.5:1"
    )
    # and text that is unreadable on both bars names both pairs
    with pytest.raises(DomainErrors) as info:
        async with transaction(sessions) as s:
            await brands.update_brand(s, reseller_actor(reseller), None, {"text_color": "#333333"})
    assert [e.field for e in info.value.errors] == ["textColor", "textColor"]
    assert "on headerBackground #203040" in info.value.errors[0].message
    assert "on titleBackground #2f5d8a" in info.value.errors[1].message
    # and nothing changed
    async with sessions() as s:
        brand = await s.scalar(select(Brand).where(Brand.reseller_id == reseller.id))
    assert (brand.header_background, brand.title_background, brand.text_color) == (
        "#203040",
        "",
        "",
    )
    # while readable colors pass, and an unrelated change never trips on the pairs
    async with transaction(sessions) as s:
        owner = await brands.update_brand(
            s,
            reseller_actor(reseller),
            None,
            {"text_color": "#111111", "header_background": "#f0f0f0", "title_background": "#ffd"},
        )
    assert owner.brand.title_background == "#ffffdd"
