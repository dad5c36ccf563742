"""The walk's operations for rates: decks, base decks, packages, overrides, quotes."""

from __future__ import annotations

from api.db import transaction
from api.domain import rates
from api.domain.actors import SYSTEM
from api.models import Package
from tests.api.conftest import gid

SNAPSHOT_MODELS = (Package,)

HEADER = "prefix,destination,country,rate,connection_fee,first_increment,increment,effective_from"


async def prepare(sessions, world):
    """Acme's base deck, a package with an override at a price only it has, and Alice on it."""
    async with transaction(sessions) as s:
        deck = await rates.create_deck(s, SYSTEM, "Acme Cost Deck", "USD")
        await rates.import_rates(
            s, SYSTEM, deck.id, [HEADER + "\n", "44,Acme Land,GB,0.0123,0,60,60,2026-01-01\n"]
        )
        await rates.set_base_deck(s, SYSTEM, world.acme_id, deck.id)
        package = await rates.create_package(
            s, SYSTEM, world.acme_id, {"name": "Acme Gold Package"}
        )
        await rates.set_overrides(
            s, SYSTEM, package.id, [{"kind": "prefix", "key": "44", "rate": "0.0777"}]
        )
        await rates.set_client_package(s, SYSTEM, world.acme_client_id, package.id)
    variables = {"deck": gid("RateDeck", deck.id), "pkg": gid("Package", package.id)}
    markers = [
        "Acme Cost Deck",
        "Acme Land",
        "Acme Gold Package",
        "0.0777",
        "0.0123",
        *variables.values(),
    ]
    return variables, markers


QUERIES = {
    "rateDecks": "{ rateDecks { edges { node { id name rateCount } } } }",
    "rates": (
        "query($deck: ID!) { rates(deckId: $deck) { edges { node { prefix destination"
        " rate { amount } } } } }"
    ),
    "packages": (
        "query($r: ID!) { all: packages { edges { node { id name } } }"
        " theirs: packages(resellerId: $r) { edges { node { id name } } } }"
    ),
    "rateQuote": (
        "query($c: ID!, $pkg: ID!, $deck: ID!) {"
        ' a: rateQuote(destination: "4420", clientId: $c) { destination sellRate { amount } }'
        ' b: rateQuote(destination: "4420", packageId: $pkg) { destination sellRate { amount } }'
        ' c: rateQuote(destination: "4420", deckId: $deck) { destination costRate { amount } }'
        ' d: rateQuote(destination: "4420") { destination costRate { amount } } }'
    ),
}

PAYLOAD = "errors { code field message }"
MUTATIONS = {
    "rateDeckCreate": (
        'mutation { rateDeckCreate(input: {name: "Evil Deck", currency: "USD"})'
        f" {{ rateDeck {{ id }} {PAYLOAD} }} }}"
    ),
    "rateDeckImport": (
        "mutation($deck: ID!) { rateDeckImport(input: {deckId: $deck,"
        f' csv: "{HEADER}\\n44,Hacked,GB,0,0,60,60,"}})'
        f" {{ imported rateDeck {{ name }} {PAYLOAD} }} }}"
    ),
    "resellerBaseDeckSet": (
        "mutation($r: ID!) { resellerBaseDeckSet(input: {resellerId: $r, deckId: null})"
        f" {{ reseller {{ name }} {PAYLOAD} }} }}"
    ),
    "packageCreate": (
        'mutation($r: ID!) { packageCreate(input: {resellerId: $r, name: "Intruder"})'
        f" {{ package {{ id }} {PAYLOAD} }} }}"
    ),
    "packageUpdate": (
        'mutation($pkg: ID!) { packageUpdate(input: {id: $pkg, name: "Hacked", markupPct: "1"})'
        f" {{ package {{ name }} {PAYLOAD} }} }}"
    ),
    "packageRateOverridesSet": (
        "mutation($pkg: ID!) { packageRateOverridesSet(input: {packageId: $pkg,"
        ' overrides: [{kind: PREFIX, key: "44", rate: "0"}]})'
        f" {{ package {{ name }} {PAYLOAD} }} }}"
    ),
    "packageRateOverridesImport": (
        "mutation($pkg: ID!) { packageRateOverridesImport(input: {packageId: $pkg,"
        ' csv: "kind,key,rate\\nprefix,44,0"})'
        f" {{ package {{ name }} rowErrors {{ line }} {PAYLOAD} }} }}"
    ),
    "clientPackageSet": (
        "mutation($c: ID!) { clientPackageSet(input: {clientId: $c, packageId: null})"
        f" {{ client {{ name }} {PAYLOAD} }} }}"
    ),
    "clientRatePercentSet": (
        'mutation($c: ID!) { clientRatePercentSet(input: {clientId: $c, percent: "50"})'
        f" {{ client {{ name }} {PAYLOAD} }} }}"
    ),
}
