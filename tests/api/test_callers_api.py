"""Who calls over GraphQL: sub-accounts with their one-time secret, A-numbers, PINs, the
blacklist, and callAuthorize, on the two-tenant world."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy import select

from api.db import transaction
from api.domain import secrets
from api.models import AuditEvent, Call, Reseller, SubAccount
from tests.api.conftest import gid
from tests.callers_data import make_deck, make_package

ERR = "errors { code field message }"
CREATE = (
    "mutation($c: ID!, $u: String!, $p: ID) { subAccountCreate(input: {clientId: $c,"
    ' username: $u, callerId: "+1 555 0100", packageId: $p}) {'
    f" secret subAccount {{ id username callerId status activationFeeCharged"
    f" nextBillingDate client {{ name }} }} {ERR} }} }}"
)


async def acme_rates(sessions, world):
    """Acme on a deck with the UK at 0.0100/min (60/60) and a 20 % package billed 6/6."""
    async with transaction(sessions) as s:
        deck = await make_deck(s, [{"prefix": "44", "destination": "UK", "rate": 10_000}])
        acme = await s.get(Reseller, world.acme_id)
        acme.base_deck_id = deck.id
        globex = await s.get(Reseller, world.globex_id)
        globex.base_deck_id = deck.id
        package = await make_package(
            s, acme, markup_pct=Decimal(20), first_increment=6, increment=6
        )
        other = await make_package(s, globex)
    return package, other


async def create(gql, world, username="alice.sip", package=None, token=None):
    body = await gql(
        CREATE,
        {
            "c": gid("Client", world.acme_client_id),
            "u": username,
            "p": gid("Package", package.id) if package else None,
        },
        token=token or world.tokens["acme"],
    )
    return body["data"]["subAccountCreate"]


async def test_a_sub_account_secret_is_shown_once_and_stored_encrypted(
    gql, world, sessions, settings
):
    # when Acme creates a sub-account for Alice
    result = await create(gql, world)
    # then the secret comes back once, strong, and the account with it
    assert result["errors"] == []
    secret = result["secret"]
    assert len(secret) >= 20 and secret.isalnum()
    sub = result["subAccount"]
    assert (sub["username"], sub["callerId"], sub["status"]) == ("alice.sip", "15550100", "ACTIVE")
    assert (sub["activationFeeCharged"], sub["nextBillingDate"]) == (False, None)
    assert sub["client"]["name"] == "Alice"
    # and the database holds it encrypted, with its SIP digest beside it
    async with sessions() as s:
        row = await s.scalar(select(SubAccount))
    assert secret not in row.secret_encrypted
    assert secrets.decrypt(settings.secret_key, row.secret_encrypted) == secret
    expected_ha1 = hashlib.md5(f"alice.sip:dialtone:{secret}".encode()).hexdigest()
    assert row.ha1 == expected_ha1
    # and reads never show it again
    body = await gql(
        "query($c: ID!) { node(id: $c) { ... on Client { subAccounts { nodes { username } } } } }",
        {"c": gid("Client", world.acme_client_id)},
        token=world.tokens["acme"],
    )
    assert body["data"]["node"]["subAccounts"]["nodes"] == [{"username": "alice.sip"}]
    # but the owner may read it to provision a switch, and that read is audited
    read = "query($s: ID!) { subAccountSecret(id: $s) { username secret realm ha1 } }"
    body = await gql(read, {"s": sub["id"]}, token=world.tokens["acme"])
    assert body["data"]["subAccountSecret"] == {
        "username": "alice.sip",
        "secret": secret,
        "realm": "dialtone",
        "ha1": expected_ha1,
    }
    async with sessions() as s:
        actions = list(await s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["sub_account.created", "sub_account.secret_read"]
    # and staff may not read it
    body = await gql(read, {"s": sub["id"]}, token=world.tokens["acme_staff"])
    assert body["data"]["subAccountSecret"] is None
    assert "calls:write token reads secrets" in body["errors"][0]["message"]


async def test_usernames_are_unique_and_sip_safe(gql, world):
    assert (await create(gql, world, "alice.sip"))["errors"] == []
    taken = await create(gql, world, "ALICE.sip")
    assert [(e["code"], e["field"]) for e in taken["errors"]] == [("CONFLICT", "username")]
    bad = await create(gql, world, "alice sip@x")
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("VALIDATION", "username")]


async def test_calls_of_a_dashed_or_dotted_username_land_on_every_path(
    gql, world, sessions, settings, tmp_path
):
    import io

    from api.cli_calls import cmd_calls_import

    # given sub-accounts "perm-sip1" and "desk.two", as subAccountCreate accepts them
    await acme_rates(sessions, world)
    ids = {}
    for username in ("perm-sip1", "desk.two"):
        result = await create(gql, world, username=username)
        assert result["errors"] == []
        ids[username] = result["subAccount"]["id"]
    # when Acme's Asterisk box writes their calls (SIP, PJSIP and IAX2 channels, one with an
    # account code), imported as a Master.csv
    row = (
        '"{code}","1001","442071234567","from-internal","""Perm"" <1001>","{channel}",'
        '"SIP/trunk-00000002","Dial","SIP/trunk/442071234567,60","2024-03-01 10:00:00",'
        '"2024-03-01 10:00:05","2024-03-01 10:01:05",65,60,"ANSWERED","DOCUMENTATION",'
        '"{uid}",""\n'
    )
    channels = [
        ("ast-1", "", "SIP/perm-sip1-0000000d"),
        ("ast-2", "", "PJSIP/perm-sip1-00000002"),
        ("ast-3", "", "IAX2/desk.two-1234"),
        ("ast-4", "desk.two", "SIP/perm-sip1-0000000e"),
    ]
    path = tmp_path / "Master.csv"
    path.write_text("".join(row.format(uid=u, code=c, channel=ch) for u, c, ch in channels))
    out, err = io.StringIO(), io.StringIO()
    status = await cmd_calls_import(
        settings, str(path), "asterisk-csv", None, 100, out=out, err=err, workers=1
    )
    assert status == 0, err.getvalue()
    # and its other switches send them as callsIngest and /switch/cdrs
    call = {
        "destination": "442071234567",
        "startedAt": "2024-03-01T10:00:00Z",
        "duration": 65,
        "billsec": 60,
        "disposition": "ANSWERED",
    }
    body = await gql(
        "mutation($calls: [CallInput!]!) { callsIngest(input: {calls: $calls}) {"
        " ingested rowErrors { row message } } }",
        {"calls": [{**call, "callId": "gql-1", "subAccount": "perm-sip1"}]},
        token=world.api_token,
    )
    assert body["data"]["callsIngest"] == {"ingested": 1, "rowErrors": []}
    async with gql.client() as http:
        response = await http.post(
            "/switch/cdrs",
            json=[
                {
                    "call_id": "http-1",
                    "sub_account": "desk.two",
                    "destination": "442071234567",
                    "started_at": "2024-03-01T10:00:00Z",
                    "duration": 65,
                    "billsec": 60,
                    "disposition": "answered",
                }
            ],
            headers={"Authorization": f"Bearer {world.api_token}"},
        )
    assert (response.json()["ingested"], response.json()["errors"]) == (1, [])
    # then every call is its sub-account's, the account code winning over the channel
    async with sessions() as s:
        by_sub = {
            c.call_id: gid("SubAccount", c.sub_account_id) for c in await s.scalars(select(Call))
        }
    perm, desk = ids["perm-sip1"], ids["desk.two"]
    assert by_sub == {
        "ast-1": perm,
        "ast-2": perm,
        "ast-3": desk,
        "ast-4": desk,
        "gql-1": perm,
        "http-1": desk,
    }
    assert "4 ingested, 0 duplicates, 0 rejected" in out.getvalue()


async def test_a_package_must_be_the_resellers_own(gql, world, sessions):
    package, globex_package = await acme_rates(sessions, world)
    wrong = await create(gql, world, package=globex_package)
    assert [(e["code"], e["field"]) for e in wrong["errors"]] == [("NOT_FOUND", "packageId")]
    right = await create(gql, world, package=package)
    assert right["errors"] == []


async def test_update_reset_and_delete(gql, world, sessions):
    sub = (await create(gql, world))["subAccount"]
    token = world.tokens["acme"]
    body = await gql(
        'mutation($s: ID!) { subAccountUpdate(input: {id: $s, forwardTo: "+44 20 7946 0000",'
        f" status: DISABLED}}) {{ subAccount {{ forwardTo status }} {ERR} }} }}",
        {"s": sub["id"]},
        token=token,
    )
    assert body["data"]["subAccountUpdate"]["subAccount"] == {
        "forwardTo": "442079460000",
        "status": "DISABLED",
    }
    async with sessions() as s:
        ha1_before = (await s.scalar(select(SubAccount))).ha1
    body = await gql(
        f"mutation($s: ID!) {{ subAccountSecretReset(input: {{id: $s}}) {{ secret {ERR} }} }}",
        {"s": sub["id"]},
        token=token,
    )
    new_secret = body["data"]["subAccountSecretReset"]["secret"]
    async with sessions() as s:
        row = await s.scalar(select(SubAccount))
    assert row.ha1 != ha1_before
    assert row.ha1 == hashlib.md5(f"alice.sip:dialtone:{new_secret}".encode()).hexdigest()
    # a client with a sub-account cannot be deleted (nor with a balance)
    body = await gql(
        f"mutation($c: ID!) {{ clientDelete(input: {{id: $c}}) {{ {ERR} }} }}",
        {"c": gid("Client", world.acme_client_id)},
        token=token,
    )
    message = body["data"]["clientDelete"]["errors"][0]["message"]
    assert "its 1 sub-account" in message
    # deleting the sub-account
    body = await gql(
        "mutation($s: ID!) { subAccountDelete(input: {id: $s})"
        f" {{ deletedSubAccountId {ERR} }} }}",
        {"s": sub["id"]},
        token=token,
    )
    assert body["data"]["subAccountDelete"] == {"deletedSubAccountId": sub["id"], "errors": []}
    async with sessions() as s:
        assert await s.scalar(select(SubAccount)) is None


NUMBERS = (
    "mutation($c: ID!, $n: [String!]!) { clientNumbersSet(input: {clientId: $c, numbers: $n})"
    f" {{ numbers client {{ numbers }} {ERR} }} }}"
)


async def test_a_numbers_are_normalized_and_unique_on_the_platform(gql, world):
    body = await gql(
        NUMBERS,
        {"c": gid("Client", world.acme_client_id), "n": ["+1 (555) 0100", "0044 20 7946 0000"]},
        token=world.tokens["acme"],
    )
    result = body["data"]["clientNumbersSet"]
    assert result["numbers"] == ["15550100", "442079460000"]
    assert result["client"]["numbers"] == ["15550100", "442079460000"]
    # another reseller's client cannot take one of them
    body = await gql(
        NUMBERS,
        {"c": gid("Client", world.globex_client_id), "n": ["15550100", "4930123"]},
        token=world.tokens["globex"],
    )
    errors = body["data"]["clientNumbersSet"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("CONFLICT", "numbers")]
    assert "15550100" in errors[0]["message"]
    # replacing the list drops what is not given
    body = await gql(
        NUMBERS,
        {"c": gid("Client", world.acme_client_id), "n": ["15550100"]},
        token=world.tokens["acme"],
    )
    assert body["data"]["clientNumbersSet"]["numbers"] == ["15550100"]
    body = await gql(
        NUMBERS,
        {"c": gid("Client", world.acme_client_id), "n": ["abc"]},
        token=world.tokens["acme"],
    )
    assert body["data"]["clientNumbersSet"]["errors"][0]["code"] == "VALIDATION"


PIN_SET = (
    "mutation($c: ID!, $p: String!) { clientPinSet(input: {clientId: $c, pin: $p})"
    f" {{ client {{ hasPin }} {ERR} }} }}"
)


async def test_pins_are_digits_unique_and_clearable(gql, world, sessions):
    acme, alice = world.tokens["acme"], gid("Client", world.acme_client_id)
    body = await gql(PIN_SET, {"c": alice, "p": "12"}, token=acme)
    assert body["data"]["clientPinSet"]["errors"][0]["field"] == "pin"
    body = await gql(PIN_SET, {"c": alice, "p": "271828"}, token=acme)
    assert body["data"]["clientPinSet"] == {"client": {"hasPin": True}, "errors": []}
    # the digest is stored, never the PIN
    async with sessions() as s:
        from api.models import Client

        digest = (await s.get(Client, world.acme_client_id)).pin_digest
    assert digest and "271828" not in digest
    # the same PIN is refused for another client
    body = await gql(
        PIN_SET, {"c": gid("Client", world.acme_client2_id), "p": "271828"}, token=acme
    )
    assert body["data"]["clientPinSet"]["errors"][0]["code"] == "CONFLICT"
    body = await gql(
        "mutation($c: ID!) { clientPinClear(input: {clientId: $c})"
        f" {{ client {{ hasPin }} {ERR} }} }}",
        {"c": alice},
        token=acme,
    )
    assert body["data"]["clientPinClear"] == {"client": {"hasPin": False}, "errors": []}


async def test_blacklist_add_list_and_remove(gql, world):
    acme = world.tokens["acme"]
    body = await gql(
        "mutation($c: ID!) {"
        ' a: blacklistAdd(input: {number: "+44 900 123", reason: "premium rate"})'
        f" {{ entry {{ id number reason }} {ERR} }}"
        ' b: blacklistAdd(input: {clientId: $c, reason: "chargebacks"})'
        f" {{ entry {{ id client {{ name }} }} {ERR} }}"
        ' c: blacklistAdd(input: {number: "44900123"}) {' + ERR + " } }",
        {"c": gid("Client", world.acme_client2_id)},
        token=acme,
    )
    data = body["data"]
    assert data["a"]["entry"]["number"] == "44900123" and data["a"]["errors"] == []
    assert data["b"]["entry"]["client"] == {"name": "Arnold"}
    assert data["c"]["errors"][0]["code"] == "CONFLICT"
    listing = "{ blacklist { nodes { number reason } } }"
    body = await gql(listing, token=acme)
    assert body["data"]["blacklist"]["nodes"] == [
        {"number": "44900123", "reason": "premium rate"},
        {"number": None, "reason": "chargebacks"},
    ]
    assert (await gql(listing, token=world.tokens["globex"]))["data"]["blacklist"]["nodes"] == []
    body = await gql(
        "mutation($b: ID!) { blacklistRemove(input: {id: $b})"
        f" {{ deletedBlacklistEntryId {ERR} }} }}",
        {"b": data["a"]["entry"]["id"]},
        token=acme,
    )
    assert body["data"]["blacklistRemove"]["errors"] == []
    body = await gql(listing, token=acme)
    assert [n["reason"] for n in body["data"]["blacklist"]["nodes"]] == ["chargebacks"]


AUTHORIZE = (
    "query($s: String, $a: String, $p: String, $d: String!) {"
    " callAuthorize(subAccount: $s, aNumber: $a, pin: $p, destination: $d) {"
    " allowed reason message maxSeconds destination matchedPrefix destinationName"
    " costRate { amount currency } sellRate { amount } sellFirstIncrement sellIncrement rule"
    " client { name } subAccountId } }"
)


async def test_call_authorize_for_the_resellers_token_and_the_operator(gql, world, sessions):
    # given Alice (50.00) with a sub-account on Acme's 20 % package
    package, _ = await acme_rates(sessions, world)
    sub = (await create(gql, world, package=package))["subAccount"]
    variables = {"s": "alice.sip", "d": "+44 7700 900"}
    # when Acme's API token asks
    body = await gql(AUTHORIZE, variables, token=world.api_token)
    # then 50.00 at 0.012/min buys 250,000 s, capped at 4 hours
    assert body["data"]["callAuthorize"] == {
        "allowed": True,
        "reason": "ACTIVE",
        "message": "",
        "maxSeconds": 14400,
        "destination": "447700900",
        "matchedPrefix": "44",
        "destinationName": "UK",
        "costRate": {"amount": "0.010000", "currency": "USD"},
        "sellRate": {"amount": "0.012000"},
        "sellFirstIncrement": 6,
        "sellIncrement": 6,
        "rule": "markup",
        "client": {"name": "Alice"},
        "subAccountId": sub["id"],
    }
    # the operator's staff sees every tenant
    body = await gql(AUTHORIZE, variables, token=world.tokens["operator"])
    assert body["data"]["callAuthorize"]["allowed"] is True
    # Globex learns nothing about Acme's callers
    body = await gql(AUTHORIZE, variables, token=world.tokens["globex"])
    assert body["data"]["callAuthorize"]["reason"] == "UNKNOWN_CALLER"
    assert body["data"]["callAuthorize"]["client"] is None
    # staff without calls:write, clients and anonymous callers are refused
    for token in (world.tokens["acme_staff"], world.tokens["acme_client"], None):
        body = await gql(AUTHORIZE, variables, token=token)
        assert body["data"] is None and body["errors"], body


async def test_call_authorize_by_a_number_and_pin(gql, world, sessions):
    await acme_rates(sessions, world)
    alice, acme = gid("Client", world.acme_client_id), world.tokens["acme"]
    await gql(NUMBERS, {"c": alice, "n": ["15550100"]}, token=acme)
    await gql(PIN_SET, {"c": alice, "p": "271828"}, token=acme)
    ask = {"d": "447700"}
    body = await gql(AUTHORIZE, {**ask, "a": "+1 555 0100"}, token=acme)
    assert body["data"]["callAuthorize"]["client"] == {"name": "Alice"}
    # no package: sold at the deck's cost, 60/60
    assert body["data"]["callAuthorize"]["rule"] == "base"
    body = await gql(AUTHORIZE, {**ask, "a": "15559999"}, token=acme)
    assert body["data"]["callAuthorize"]["reason"] == "PIN_REQUIRED"
    body = await gql(AUTHORIZE, {**ask, "a": "15559999", "p": "271828"}, token=acme)
    assert body["data"]["callAuthorize"]["allowed"] is True
