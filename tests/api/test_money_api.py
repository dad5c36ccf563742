"""Money and client mutations through GraphQL, checked the way an integrator would."""

from __future__ import annotations

from tests.api.conftest import gid

ERR = "errors { code field message }"


async def balance_of(gql, token, client_gid):
    body = await gql(
        "query($id: ID!) { node(id: $id) { ... on Client { balance { amount } status } } }",
        {"id": client_gid},
        token=token,
    )
    return body["data"]["node"]


async def reseller_balance(gql, token):
    body = await gql("{ viewer { reseller { balance { amount currency } } } }", token=token)
    return body["data"]["viewer"]["reseller"]["balance"]


DEPOSIT = (
    "mutation($r: ID!, $a: Decimal!, $k: String!) { resellerDeposit(input: {resellerId: $r,"
    f" amount: $a, idempotencyKey: $k}}) {{ replayed reseller {{ balance {{ amount }} }}"
    f" {ERR} }} }}"
)
TRANSFER = (
    "mutation($c: ID!, $a: Decimal!, $k: String!) { clientTransfer(input: {clientId: $c,"
    f" amount: $a, idempotencyKey: $k}}) {{ replayed client {{ balance {{ amount }} status }}"
    f" {ERR} }} }}"
)
CHARGE = (
    "mutation($c: ID!, $a: Decimal!, $k: String!) { clientCharge(input: {clientId: $c,"
    ' amount: $a, memo: "setup", idempotencyKey: $k}) { client { balance { amount } status'
    f" statusReason }} {ERR} }} }}"
)


async def test_deposit_replay_and_conflicting_reuse_of_a_key(gql, world):
    op = world.tokens["operator"]
    r = gid("Reseller", world.acme_id)
    # when the operator deposits 25.50 twice with the same key
    first = await gql(DEPOSIT, {"r": r, "a": "25.50", "k": "dep-1"}, token=op)
    again = await gql(DEPOSIT, {"r": r, "a": "25.50", "k": "dep-1"}, token=op)
    # then it lands once, and the replay says so
    assert first["data"]["resellerDeposit"]["reseller"]["balance"]["amount"] == "1025.500000"
    assert first["data"]["resellerDeposit"]["replayed"] is False
    assert again["data"]["resellerDeposit"]["replayed"] is True
    assert (await reseller_balance(gql, world.tokens["acme"]))["amount"] == "1025.500000"
    # and the same key for another amount is refused
    other = await gql(DEPOSIT, {"r": r, "a": "99", "k": "dep-1"}, token=op)
    assert other["data"]["resellerDeposit"]["errors"][0]["code"] == "IDEMPOTENCY_CONFLICT"
    assert (await reseller_balance(gql, world.tokens["acme"]))["amount"] == "1025.500000"


async def test_a_reseller_cannot_move_more_credit_than_it_holds(gql, world):
    token = world.tokens["acme"]
    client = gid("Client", world.acme_client_id)
    # when Acme (balance 1000) moves 1000.01 to a client
    body = await gql(TRANSFER, {"c": client, "a": "1000.01", "k": "too-much"}, token=token)
    # then it is refused with a clear error and nothing moved
    [error] = body["data"]["clientTransfer"]["errors"]
    assert (error["code"], error["field"]) == ("INSUFFICIENT_FUNDS", "amount")
    assert "balance" in error["message"]
    assert (await reseller_balance(gql, token))["amount"] == "1000.000000"
    assert (await balance_of(gql, token, client))["balance"]["amount"] == "50.000000"
    # and exactly the balance can be moved
    body = await gql(TRANSFER, {"c": client, "a": "1000", "k": "all"}, token=token)
    assert body["data"]["clientTransfer"]["client"]["balance"]["amount"] == "1050.000000"
    assert (await reseller_balance(gql, token))["amount"] == "0.000000"


async def test_commission_transfer_credits_the_reseller_its_commission(gql, world):
    token = world.tokens["globex"]
    # Globex (10 %) had 1000, moved 40 to Gina at seeding (+4 commission) = 964
    assert (await reseller_balance(gql, token))["amount"] == "964.000000"
    body = await gql(
        TRANSFER, {"c": gid("Client", world.globex_client_id), "a": "100", "k": "t"}, token=token
    )
    assert body["data"]["clientTransfer"]["client"]["balance"]["amount"] == "140.000000"
    assert (await reseller_balance(gql, token))["amount"] == "874.000000"


async def test_strict_client_is_suspended_at_zero_and_permissive_stays_active(gql, world):
    token = world.tokens["acme"]
    alice = gid("Client", world.acme_client_id)  # strict, balance 50
    body = await gql(CHARGE, {"c": alice, "a": "50", "k": "c1"}, token=token)
    client = body["data"]["clientCharge"]["client"]
    assert client == {
        "balance": {"amount": "0.000000"},
        "status": "SUSPENDED",
        "statusReason": "balance exhausted",
    }
    # a permissive client may go negative and stays active
    body = await gql(
        'mutation { clientCreate(input: {name: "Pat", billingMode: PREPAID_PERMISSIVE})'
        " { client { id } errors { code } } }",
        token=token,
    )
    pat = body["data"]["clientCreate"]["client"]["id"]
    body = await gql(CHARGE, {"c": pat, "a": "5", "k": "c2"}, token=token)
    assert body["data"]["clientCharge"]["client"]["balance"]["amount"] == "-5.000000"
    assert body["data"]["clientCharge"]["client"]["status"] == "ACTIVE"
    # and a payment brings the suspended client back
    body = await gql(
        'mutation($c: ID!) { clientPaymentRecord(input: {clientId: $c, amount: "10",'
        ' idempotencyKey: "p1"}) { client { status balance { amount } } errors { code } } }',
        {"c": alice},
        token=token,
    )
    assert body["data"]["clientPaymentRecord"]["client"]["status"] == "ACTIVE"


async def test_bad_amounts_are_refused_naming_the_field(gql, world):
    token = world.tokens["acme"]
    alice = gid("Client", world.acme_client_id)
    for amount in ("0", "-1", "1.0000001"):
        body = await gql(TRANSFER, {"c": alice, "a": amount, "k": f"bad-{amount}"}, token=token)
        [error] = body["data"]["clientTransfer"]["errors"]
        assert (error["code"], error["field"]) == ("VALIDATION", "amount"), amount
    assert (await reseller_balance(gql, token))["amount"] == "1000.000000"


async def test_amounts_python_would_read_but_a_person_would_not_type_move_nothing(gql, world):
    op = world.tokens["operator"]
    r = gid("Reseller", world.acme_id)
    for amount in ("1_0", "1e3", "NaN", "+5", ".5", "\u0663", True, 1e-7):
        # when the operator deposits an amount in a spelling Decimal() alone would accept
        body = await gql(DEPOSIT, {"r": r, "a": amount, "k": f"odd-{amount}"}, token=op)
        # then the variable is refused, saying what an amount looks like
        assert body.get("data") is None, amount
        [error] = body["errors"]
        assert "Expected a string of digits" in error["message"], amount
    # and the balance has not moved
    assert (await reseller_balance(gql, world.tokens["acme"]))["amount"] == "1000.000000"
    # while a plain JSON integer is still read as the amount it is
    body = await gql(DEPOSIT, {"r": r, "a": 10, "k": "int-10"}, token=op)
    assert body["data"]["resellerDeposit"]["reseller"]["balance"]["amount"] == "1010.000000"


async def test_operator_bulk_order_needs_ten_clients(gql, world):
    op = world.tokens["operator"]
    doc = (
        "mutation($r: ID!, $cs: [ClientFieldsInput!]!) { clientBulkCreate(input:"
        f" {{resellerId: $r, clients: $cs}}) {{ clients {{ name reseller {{ name }} }} {ERR} }} }}"
    )
    r = gid("Reseller", world.globex_id)
    nine = [{"name": f"Bulk {i}"} for i in range(9)]
    body = await gql(doc, {"r": r, "cs": nine}, token=op)
    assert body["data"]["clientBulkCreate"]["errors"][0]["code"] == "VALIDATION"
    body = await gql(doc, {"r": r, "cs": [*nine, {"name": "Bulk 9"}]}, token=op)
    created = body["data"]["clientBulkCreate"]["clients"]
    assert len(created) == 10 and {c["reseller"]["name"] for c in created} == {"Globex"}
    # a bad row names its place, and none of the order lands
    rows = [{"name": f"Row {i}"} for i in range(11)] + [{"name": "x", "email": "not-an-email"}]
    body = await gql(doc, {"r": r, "cs": rows}, token=op)
    [error] = body["data"]["clientBulkCreate"]["errors"]
    assert error["field"] == "email" and error["message"].startswith("client 12:")
    body = await gql('{ clients(search: "Row ") { edges { node { id } } } }', token=op)
    assert body["data"]["clients"]["edges"] == []


async def test_client_with_a_balance_cannot_be_deleted(gql, world):
    token = world.tokens["acme"]
    alice = gid("Client", world.acme_client_id)
    doc = f"mutation($c: ID!) {{ clientDelete(input: {{id: $c}}) {{ deletedClientId {ERR} }} }}"
    body = await gql(doc, {"c": alice}, token=token)
    [error] = body["data"]["clientDelete"]["errors"]
    assert error["code"] == "CONFLICT" and "balance is 50.00" in error["message"]
    # Arnold has nothing left: he can go, and is gone from lists
    arnold = gid("Client", world.acme_client2_id)
    body = await gql(doc, {"c": arnold}, token=token)
    assert body["data"]["clientDelete"] == {"deletedClientId": arnold, "errors": []}
    body = await gql("{ clients { edges { node { name } } } }", token=token)
    assert [e["node"]["name"] for e in body["data"]["clients"]["edges"]] == ["Alice"]


async def test_changes_to_limits_and_modes_are_in_the_audit_history(gql, world):
    token = world.tokens["acme_staff"]
    arnold = gid("Client", world.acme_client2_id)
    body = await gql(
        'mutation($c: ID!) { clientUpdate(input: {id: $c, creditLimit: "250",'
        f" billingMode: PREPAID_PERMISSIVE}}) {{ client {{ creditLimit {{ amount }} }} {ERR} }} }}",
        {"c": arnold},
        token=token,
    )
    assert body["data"]["clientUpdate"]["errors"] == []
    body = await gql(
        'query($id: Int!) { auditEvents(subjectType: "client", subjectId: $id) { edges { node'
        " { action actorLabel before after } } } }",
        {"id": world.acme_client2_id},
        token=world.tokens["acme"],
    )
    latest = body["data"]["auditEvents"]["edges"][0]["node"]
    assert latest["action"] == "client.updated"
    assert latest["actorLabel"] == "staff@acme.test"
    # money as the API shows it everywhere: a decimal string with its currency
    assert latest["before"] == {
        "billing_mode": "postpaid",
        "credit_limit": {"amount": "0.00", "currency": "USD"},
    }
    assert latest["after"] == {
        "billing_mode": "prepaid_permissive",
        "credit_limit": {"amount": "250.00", "currency": "USD"},
    }


WARNING = (
    "query($id: ID!) { node(id: $id) { ... on Client { balance { amount } lowBalance"
    " lowBalanceThreshold { amount } creditUsed { amount currency } creditLimit { amount } } } }"
)


async def test_low_balance_warning_and_credit_used_follow_the_balance(gql, world):
    token = world.tokens["acme"]
    alice = gid("Client", world.acme_client_id)  # strict, balance 50, no threshold
    arnold = gid("Client", world.acme_client2_id)  # postpaid, balance 0
    node = (await gql(WARNING, {"id": alice}, token=token))["data"]["node"]
    assert node["lowBalance"] is False  # a threshold of 0 never warns
    update = (
        "mutation($c: ID!, $t: Decimal) { clientUpdate(input: {id: $c,"
        f" lowBalanceThreshold: $t, creditLimit: 100}}) {{ {ERR} }} }}"
    )
    for client in (alice, arnold):
        body = await gql(update, {"c": client, "t": "50"}, token=token)
        assert body["data"]["clientUpdate"]["errors"] == []
    # at the threshold: no warning; one cent under it: the warning
    node = (await gql(WARNING, {"id": alice}, token=token))["data"]["node"]
    assert node["lowBalance"] is False and node["creditUsed"]["amount"] == "0.000000"
    await gql(CHARGE, {"c": alice, "a": "0.01", "k": "w1"}, token=token)
    node = (await gql(WARNING, {"id": alice}, token=token))["data"]["node"]
    assert node["balance"]["amount"] == "49.990000" and node["lowBalance"] is True
    # a postpaid client owing 30.5 uses 30.5 of its credit limit of 100
    await gql(CHARGE, {"c": arnold, "a": "30.5", "k": "w2"}, token=token)
    node = (await gql(WARNING, {"id": arnold}, token=token))["data"]["node"]
    assert node["creditUsed"] == {"amount": "30.500000", "currency": "USD"}
    assert node["creditLimit"]["amount"] == "100.000000"
    # the client sees the same on its own record
    body = await gql(
        "{ viewer { client { lowBalance creditUsed { amount } } } }",
        token=world.tokens["acme_client"],
    )
    assert body["data"]["viewer"]["client"] == {
        "lowBalance": True,
        "creditUsed": {"amount": "0.000000"},
    }
