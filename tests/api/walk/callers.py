"""The walk's operations for who calls: sub-accounts, A-numbers, PINs, blacklist, and call
authorization."""

from __future__ import annotations

from api.db import transaction
from api.domain import callers
from api.domain.actors import SYSTEM
from api.models import BlacklistEntry, ClientNumber, SubAccount
from api.settings import Settings
from tests.api.conftest import gid

SNAPSHOT_MODELS = (SubAccount, ClientNumber, BlacklistEntry)
USERNAME = "acmewalksip"
NUMBER = "15550199"
REASON = "acme walk reason"

PAYLOAD = "errors { code field message }"
SUB = "id username callerId client { name }"

QUERIES = {
    "subAccounts": (
        "query($c: ID!) { all: subAccounts { edges { node { " + SUB + " } } }"
        " theirs: subAccounts(clientId: $c) { edges { node { id username } } } }"
    ),
    "subAccountSecret": ("query($sub: ID!) { subAccountSecret(id: $sub) { username secret ha1 } }"),
    "blacklist": (
        "query($r: ID!) { all: blacklist { edges { node { id number reason client { name } } } }"
        " theirs: blacklist(resellerId: $r) { edges { node { id reason } } } }"
    ),
    "callAuthorize": (
        '{ a: callAuthorize(subAccount: "' + USERNAME + '", destination: "447700") {'
        " allowed reason message maxSeconds matchedPrefix client { name } }"
        ' b: callAuthorize(aNumber: "' + NUMBER + '", destination: "447700") {'
        " allowed reason client { name } }"
        ' c: callAuthorize(aNumber: "1", pin: "48151623", destination: "447700") {'
        " allowed reason client { name } } }"
    ),
}

MUTATIONS = {
    "subAccountCreate": (
        'mutation($c: ID!) { subAccountCreate(input: {clientId: $c, username: "intruder1"})'
        f" {{ subAccount {{ id }} secret {PAYLOAD} }} }}"
    ),
    "subAccountUpdate": (
        'mutation($sub: ID!) { subAccountUpdate(input: {id: $sub, callerId: "1999",'
        f" status: DISABLED}}) {{ subAccount {{ {SUB} }} {PAYLOAD} }} }}"
    ),
    "subAccountCallerIdSet": (
        'mutation($sub: ID!) { subAccountCallerIdSet(input: {id: $sub, callerId: "1999"})'
        f" {{ subAccount {{ {SUB} }} {PAYLOAD} }} }}"
    ),
    "subAccountSecretReset": (
        "mutation($sub: ID!) { subAccountSecretReset(input: {id: $sub})"
        f" {{ subAccount {{ username }} secret {PAYLOAD} }} }}"
    ),
    "subAccountDelete": (
        "mutation($sub: ID!) { subAccountDelete(input: {id: $sub})"
        f" {{ deletedSubAccountId {PAYLOAD} }} }}"
    ),
    "clientNumbersSet": (
        'mutation($c: ID!) { clientNumbersSet(input: {clientId: $c, numbers: ["1999"]})'
        f" {{ client {{ name }} numbers {PAYLOAD} }} }}"
    ),
    "clientPinSet": (
        'mutation($c: ID!) { clientPinSet(input: {clientId: $c, pin: "99999"})'
        f" {{ client {{ name }} {PAYLOAD} }} }}"
    ),
    "clientPinClear": (
        "mutation($c: ID!) { clientPinClear(input: {clientId: $c})"
        f" {{ client {{ name }} {PAYLOAD} }} }}"
    ),
    "blacklistAdd": (
        "mutation($c: ID!, $r: ID!) {"
        ' a: blacklistAdd(input: {clientId: $c, reason: "x"})'
        f" {{ entry {{ id }} {PAYLOAD} }}"
        ' b: blacklistAdd(input: {resellerId: $r, number: "1999", reason: "x"})'
        f" {{ entry {{ id }} {PAYLOAD} }} }}"
    ),
    "blacklistRemove": (
        "mutation($bl: ID!) { blacklistRemove(input: {id: $bl})"
        f" {{ deletedBlacklistEntryId {PAYLOAD} }} }}"
    ),
}


async def prepare(sessions, world) -> tuple[dict, list[str]]:
    """Acme's Alice gets a sub-account, an A-number, a PIN and a blacklist entry."""
    settings = Settings(secret_key="dialtone-test-secret-key-0123456789")
    async with transaction(sessions) as s:
        sub, secret = await callers.create_sub_account(
            s, SYSTEM, world.acme_client_id, {"username": USERNAME}, settings=settings
        )
        await callers.set_client_numbers(s, SYSTEM, world.acme_client_id, [NUMBER])
        await callers.set_pin(s, SYSTEM, world.acme_client_id, "48151623", settings=settings)
        entry = await callers.add_to_blacklist(
            s, SYSTEM, reseller_id=world.acme_id, number="15550198", reason=REASON
        )
    variables = {"sub": gid("SubAccount", sub.id), "bl": gid("BlacklistEntry", entry.id)}
    return variables, [USERNAME, secret, sub.ha1, REASON, "15550198", *variables.values()]
