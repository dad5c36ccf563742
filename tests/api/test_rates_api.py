"""GraphQL API of rates: decks, base decks, packages, overrides, quotes; permissions and tenancy."""

from __future__ import annotations

from decimal import Decimal

from tests.api.conftest import gid

HEADER = "prefix,destination,country,rate,connection_fee,first_increment,increment,effective_from"
DECK_CSV = "\n".join(
    [
        HEADER,
        "44,United Kingdom,GB,0.0100,0,60,60,2026-01-01",
        "447,UK Mobile,GB,0.0400,0.0100,60,60,2026-01-01",
        "4x,Broken,GB,0.01,0,60,60,",
        "1,USA,US,0.0050,0,6,6,2026-01-01",
        "33,France,FR,0.01,0,6,6,not-a-date",
    ]
)
ERR = "errors { code field message }"


async def make_deck(gql, world, csv: str = DECK_CSV) -> str:
    op = world.tokens["operator"]
    body = await gql(
        'mutation { rateDeckCreate(input: {name: "Base", currency: "USD"})'
        f" {{ rateDeck {{ id name version }} {ERR} }} }}",
        token=op,
    )
    deck_id = body["data"]["rateDeckCreate"]["rateDeck"]["id"]
    body = await gql(
        "mutation($d: ID!, $csv: String!) { rateDeckImport(input: {deckId: $d, csv: $csv})"
        f" {{ imported rejected rowErrors {{ line message }} rateDeck {{ version rateCount }}"
        f" {ERR} }} }}",
        {"d": deck_id, "csv": csv},
        token=op,
    )
    assert body["data"]["rateDeckImport"]["errors"] == [], body
    body = await gql(
        "mutation($r: ID!, $d: ID!) { resellerBaseDeckSet(input: {resellerId: $r, deckId: $d})"
        f" {{ reseller {{ name }} rateDeck {{ name }} {ERR} }} }}",
        {"r": gid("Reseller", world.acme_id), "d": deck_id},
        token=op,
    )
    assert body["data"]["resellerBaseDeckSet"]["errors"] == [], body
    return deck_id


async def make_package(gql, world, **fields) -> str:
    body = await gql(
        "mutation($in: PackageCreateInput!) { packageCreate(input: $in)"
        f" {{ package {{ id name markupPct markupFixed {{ amount }} }} {ERR} }} }}",
        {"in": {"name": "Gold", "markupPct": "20", **fields}},
        token=world.tokens["acme"],
    )
    assert body["data"]["packageCreate"]["errors"] == [], body
    return body["data"]["packageCreate"]["package"]["id"]


async def test_operator_imports_a_deck_with_row_numbered_errors(gql, world):
    # given the operator and a deck
    op = world.tokens["operator"]
    body = await gql(
        f'mutation {{ rateDeckCreate(input: {{name: "Base", currency: "usd"}}) {{ rateDeck {{ id'
        f" currency version rateCount }} {ERR} }} }}",
        token=op,
    )
    deck = body["data"]["rateDeckCreate"]["rateDeck"]
    assert (deck["currency"], deck["rateCount"]) == ("USD", 0)
    # when a CSV with good and bad rows is imported
    body = await gql(
        "mutation($d: ID!, $csv: String!) { rateDeckImport(input: {deckId: $d, csv: $csv})"
        f" {{ imported rejected rowErrors {{ line message }} rateDeck {{ version rateCount }}"
        f" {ERR} }} }}",
        {"d": deck["id"], "csv": DECK_CSV},
        token=op,
    )
    result = body["data"]["rateDeckImport"]
    # then the good rows land, the bad ones are listed by line, and the version moved
    assert (result["imported"], result["rejected"]) == (3, 2)
    assert [e["line"] for e in result["rowErrors"]] == [4, 6]
    assert "prefix" in result["rowErrors"][0]["message"]
    assert "effective_from" in result["rowErrors"][1]["message"]
    assert result["rateDeck"] == {"version": deck["version"] + 1, "rateCount": 3}
    # and the rates can be listed under a prefix
    body = await gql(
        'query($d: ID!) { rates(deckId: $d, prefix: "44") { edges { node { prefix destination'
        " rate { amount currency } connectionFee { amount } firstIncrement effectiveFrom } } } }",
        {"d": deck["id"]},
        token=op,
    )
    nodes = [e["node"] for e in body["data"]["rates"]["edges"]]
    assert [(n["prefix"], n["rate"]["amount"]) for n in nodes] == [
        ("44", "0.010000"),
        ("447", "0.040000"),
    ]
    assert nodes[0]["effectiveFrom"].startswith("2026-01-01T00:00:00")


async def test_a_bad_header_is_one_error_and_changes_nothing(gql, world):
    deck_id = await make_deck(gql, world)
    body = await gql(
        'mutation($d: ID!) { rateDeckImport(input: {deckId: $d, csv: "prefix,price\\n1,2"})'
        f" {{ imported {ERR} }} }}",
        {"d": deck_id},
        token=world.tokens["operator"],
    )
    [error] = body["data"]["rateDeckImport"]["errors"]
    assert error["code"] == "VALIDATION" and "missing column(s) rate" in error["message"]


async def test_resellers_read_their_base_deck_only_and_never_change_it(gql, world):
    deck_id = await make_deck(gql, world)
    # when Acme lists decks and tries to import
    body = await gql(
        "{ rateDecks { edges { node { name rateCount } } } }", token=world.tokens["acme"]
    )
    assert body["data"]["rateDecks"]["edges"] == [{"node": {"name": "Base", "rateCount": 3}}]
    body = await gql(
        'mutation($d: ID!) { rateDeckImport(input: {deckId: $d, csv: "prefix,rate\\n1,0"})'
        f" {{ imported {ERR} }} }}",
        {"d": deck_id},
        token=world.tokens["acme"],
    )
    assert body["data"]["rateDeckImport"]["errors"][0]["code"] == "PERMISSION_DENIED"
    # then Globex (no base deck) and Acme's client see no deck at all
    for viewer in ("globex", "acme_client"):
        body = await gql("{ rateDecks { edges { node { name } } } }", token=world.tokens[viewer])
        assert body["data"]["rateDecks"]["edges"] == []
    body = await gql(
        "query($d: ID!) { rates(deckId: $d) { edges { node { prefix } } } }",
        {"d": deck_id},
        token=world.tokens["acme_client"],
    )
    assert body["data"] is None and "not found" in body["errors"][0]["message"]


async def test_base_deck_assignment_is_audited(gql, world):
    await make_deck(gql, world)
    body = await gql(
        "{ auditEvents { edges { node { action subjectType before after } } } }",
        token=world.tokens["operator"],
    )
    events = [e["node"] for e in body["data"]["auditEvents"]["edges"]]
    assert any(
        e["action"] == "reseller.updated" and e["before"] == {"base_deck_id": None} for e in events
    )


async def test_package_overrides_margin_warnings_and_quotes(gql, world):
    await make_deck(gql, world)
    acme = world.tokens["acme"]
    package_id = await make_package(gql, world, firstIncrement=6, increment=6)
    # when Acme sets overrides in bulk, one of them below the UK mobile cost
    body = await gql(
        "mutation($p: ID!) { packageRateOverridesSet(input: {packageId: $p, overrides: ["
        '{kind: COUNTRY, key: "GB", rate: "0.0300", connectionFee: "0.01"},'
        ' {kind: NANPA, rate: "0.0080"}]})'
        " { set removed package { version marginWarnings { kind key prefix destination"
        " costRate { amount } sellRate { amount } prefixesBelowCost }"
        f" rateOverrides {{ edges {{ node {{ kind key rate {{ amount }} }} }} }} }} {ERR} }} }}",
        {"p": package_id},
        token=acme,
    )
    result = body["data"]["packageRateOverridesSet"]
    assert result["errors"] == [] and result["set"] == 2
    package = result["package"]
    assert package["marginWarnings"] == [
        {
            "kind": "COUNTRY",
            "key": "GB",
            "prefix": "447",
            "destination": "UK Mobile",
            "costRate": {"amount": "0.040000"},
            "sellRate": {"amount": "0.030000"},
            "prefixesBelowCost": 1,
        }
    ]
    assert [e["node"]["key"] for e in package["rateOverrides"]["edges"]] == ["GB", "NANPA"]
    # and Alice is put on the package
    body = await gql(
        "mutation($c: ID!, $p: ID!) { clientPackageSet(input: {clientId: $c, packageId: $p})"
        f" {{ client {{ name }} package {{ name }} {ERR} }} }}",
        {"c": gid("Client", world.acme_client_id), "p": package_id},
        token=acme,
    )
    assert body["data"]["clientPackageSet"]["package"] == {"name": "Gold"}
    quote = (
        "query($c: ID) { rateQuote(destination: $dest, clientId: $c) { number prefix destination"
        " costRate { amount } costFirstIncrement sellRate { amount } sellConnectionFee"
        " { amount } firstIncrement increment rule belowCost refusedBelowCost } }"
    ).replace("$dest", '"+1 212 555 0100"')
    # then Acme's quote shows cost and sell; the NANPA override set the price
    body = await gql(quote, {"c": gid("Client", world.acme_client_id)}, token=acme)
    assert body["data"]["rateQuote"] == {
        "number": "12125550100",
        "prefix": "1",
        "destination": "USA",
        "costRate": {"amount": "0.005000"},
        "costFirstIncrement": 6,
        "sellRate": {"amount": "0.008000"},
        "sellConnectionFee": {"amount": "0.000000"},
        "firstIncrement": 6,
        "increment": 6,
        "rule": "NANPA",
        "belowCost": False,
        "refusedBelowCost": False,
    }
    # and Alice quotes her own rates without seeing cost
    body = await gql(
        quote.replace('"+1 212 555 0100"', '"4477001"'), {}, token=world.tokens["acme_client"]
    )
    mine = body["data"]["rateQuote"]
    assert (mine["costRate"], mine["costFirstIncrement"], mine["belowCost"]) == (None, None, False)
    assert (mine["rule"], mine["sellRate"]) == ("COUNTRY", {"amount": "0.030000"})
    # and a markup quote (France: (0.01) x 1.2) through the package itself
    body = await gql(
        'query($p: ID!) { rateQuote(destination: "0033123", packageId: $p) { rule'
        " sellRate { amount } } }",
        {"p": package_id},
        token=acme,
    )
    assert body["data"]["rateQuote"] is None  # France was rejected at import: no route


async def test_a_null_rate_removes_an_override_and_the_next_quote_sees_it(gql, world):
    await make_deck(gql, world)
    acme = world.tokens["acme"]
    package_id = await make_package(gql, world)
    mutation = (
        "mutation($p: ID!, $rate: Decimal) { packageRateOverridesSet(input: {packageId: $p,"
        ' overrides: [{kind: PREFIX, key: "44", rate: $rate}]})'
        f" {{ set removed package {{ version }} {ERR} }} }}"
    )
    quote = (
        'query($p: ID!) { rateQuote(destination: "4420", packageId: $p) { rule'
        " sellRate { amount } } }"
    )
    await gql(mutation, {"p": package_id, "rate": "0.05"}, token=acme)
    body = await gql(quote, {"p": package_id}, token=acme)
    assert body["data"]["rateQuote"] == {"rule": "PREFIX", "sellRate": {"amount": "0.050000"}}
    body = await gql(mutation, {"p": package_id, "rate": None}, token=acme)
    assert body["data"]["packageRateOverridesSet"]["removed"] == 1
    body = await gql(quote, {"p": package_id}, token=acme)
    assert body["data"]["rateQuote"] == {"rule": "MARKUP", "sellRate": {"amount": "0.012000"}}


async def test_override_csv_import_lists_bad_rows(gql, world):
    await make_deck(gql, world)
    package_id = await make_package(gql, world)
    body = await gql(
        "mutation($p: ID!, $csv: String!) { packageRateOverridesImport(input: {packageId: $p,"
        f" csv: $csv}}) {{ set rowErrors {{ line message }} {ERR} }} }}",
        {"p": package_id, "csv": "kind,key,rate,connection_fee\nprefix,44,0.02,0\nprefix,4a,1,0\n"},
        token=world.tokens["acme"],
    )
    result = body["data"]["packageRateOverridesImport"]
    assert result["set"] == 1
    assert result["rowErrors"] == [{"line": 3, "message": "a prefix key is 1 to 24 digits"}]


async def test_package_validation_errors_change_nothing(gql, world):
    body = await gql(
        'mutation { packageCreate(input: {name: "", markupPct: "-1", firstIncrement: 0})'
        f" {{ package {{ id }} {ERR} }} }}",
        token=world.tokens["acme"],
    )
    errors = body["data"]["packageCreate"]["errors"]
    assert {e["field"] for e in errors} == {"name", "markupPct", "firstIncrement"}
    body = await gql("{ packages { edges { node { id } } } }", token=world.tokens["acme"])
    assert body["data"]["packages"]["edges"] == []


async def test_another_reseller_and_clients_cannot_see_or_change_acme_packages(gql, world):
    package_id = await make_package(gql, world)
    for viewer in ("globex", "acme_client"):
        body = await gql("{ packages { edges { node { id name } } } }", token=world.tokens[viewer])
        assert body["data"]["packages"]["edges"] == []
        body = await gql(
            'mutation($p: ID!) { packageUpdate(input: {id: $p, name: "Mine"})'
            f" {{ package {{ name }} {ERR} }} }}",
            {"p": package_id},
            token=world.tokens[viewer],
        )
        code = body["data"]["packageUpdate"]["errors"][0]["code"]
        assert code == ("NOT_FOUND" if viewer == "globex" else "PERMISSION_DENIED")
    body = await gql("{ packages { edges { node { name } } } }", token=world.tokens["acme"])
    assert body["data"]["packages"]["edges"] == [{"node": {"name": "Gold"}}]


async def test_commission_client_personal_percent(gql, world):
    # given Globex (commission) with a base deck in EUR, and its client Gina
    op = world.tokens["operator"]
    body = await gql(
        'mutation { rateDeckCreate(input: {name: "EU", currency: "EUR"}) { rateDeck { id } } }',
        token=op,
    )
    deck_id = body["data"]["rateDeckCreate"]["rateDeck"]["id"]
    await gql(
        "mutation($d: ID!, $csv: String!) { rateDeckImport(input: {deckId: $d, csv: $csv})"
        " { imported } }",
        {"d": deck_id, "csv": f"{HEADER}\n49,Germany,DE,0.0200,0,60,60,2026-01-01"},
        token=op,
    )
    await gql(
        "mutation($r: ID!, $d: ID!) { resellerBaseDeckSet(input: {resellerId: $r, deckId: $d})"
        " { errors { code } } }",
        {"r": gid("Reseller", world.globex_id), "d": deck_id},
        token=op,
    )
    # when Globex gives Gina 10 %
    body = await gql(
        'mutation($c: ID!) { clientRatePercentSet(input: {clientId: $c, percent: "10"})'
        f" {{ personalRatePct {ERR} }} }}",
        {"c": gid("Client", world.globex_client_id)},
        token=world.tokens["globex"],
    )
    assert Decimal(body["data"]["clientRatePercentSet"]["personalRatePct"]) == 10
    # then her quote is the base rate + 10 %
    body = await gql(
        '{ rateQuote(destination: "4930") { rule sellRate { amount currency } costRate'
        " { amount } } }",
        token=world.tokens["globex_client"],
    )
    assert body["data"]["rateQuote"] == {
        "rule": "PERSONAL",
        "sellRate": {"amount": "0.022000", "currency": "EUR"},
        "costRate": None,
    }
    # and Acme (markup) cannot give a personal percent
    body = await gql(
        'mutation($c: ID!) { clientRatePercentSet(input: {clientId: $c, percent: "5"})'
        f" {{ {ERR} }} }}",
        {"c": gid("Client", world.acme_client_id)},
        token=world.tokens["acme"],
    )
    assert body["data"]["clientRatePercentSet"]["errors"][0]["code"] == "VALIDATION"
