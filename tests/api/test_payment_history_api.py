"""``Client.payments`` (the payment history) and ``paypalCheckoutAvailable`` through GraphQL:
each payment's method and status follow its refunds, reversals and canceled reversals; a
client sees its own, a reseller its clients', nobody another tenant's; a page costs the same
number of statements whatever its size."""

from __future__ import annotations

from sqlalchemy import event

from api.db import transaction
from api.domain import deposits, payments, paypal_credentials
from api.domain.actors import SYSTEM
from api.models import PaypalOrder
from tests.api.conftest import gid

U = 1_000_000
HISTORY = (
    "query($c: ID!, $first: Int, $after: String) { node(id: $c) { ... on Client {"
    " payments(first: $first, after: $after) { edges { cursor node { id method status"
    " amount { amount currency } refunded { amount } memo corrections { kind amount { amount }"
    " } } } pageInfo { hasNextPage endCursor } } } } }"
)


async def _history(gql, token, client_id, **variables):
    body = await gql(HISTORY, {"c": gid("Client", client_id), **variables}, token=token)
    assert "errors" not in body, body
    node = body["data"]["node"]
    return None if node is None else node["payments"]


async def _paypal(s, client_id: int, txn: str, amount: int) -> None:
    await deposits.credit(
        s,
        source=deposits.PAYPAL,
        external_id=txn,
        client_id=client_id,
        reseller_id=None,
        amount=amount,
        currency="USD",
        memo="PayPal",
        raw_id=None,
    )


async def test_statuses_follow_refunds_reversals_and_their_cancellation(gql, world, sessions):
    c = world.acme_client_id
    async with transaction(sessions) as s:
        await payments.client_transfer(s, SYSTEM, c, "5", "h-transfer")
        await _paypal(s, c, "TXN-REFUNDED", 20 * U)
        await _paypal(s, c, "TXN-REVERSED", 30 * U)
        await _paypal(s, c, "TXN-BACK", 40 * U)
        for txn, original, amount, reason in (
            ("TXN-R1", "TXN-REFUNDED", 20 * U, "refund"),
            ("TXN-V1", "TXN-REVERSED", 10 * U, "refund"),
            ("TXN-V2", "TXN-REVERSED", 20 * U, "reversal"),
            ("TXN-B1", "TXN-BACK", 40 * U, "reversal"),
        ):
            await deposits.debit(
                s,
                source=deposits.PAYPAL,
                external_id=txn,
                original_external_id=original,
                amount=amount,
                currency="USD",
                memo="",
                raw_id=None,
                reason=reason,
            )
        await deposits.reinstate(
            s,
            source=deposits.PAYPAL,
            external_id="TXN-B2",
            original_external_id="TXN-BACK",
            amount=15 * U,
            currency="USD",
            memo="",
            raw_id=None,
        )
    found = await _history(gql, world.tokens["acme_client"], c)
    rows = [e["node"] for e in found["edges"]]
    # newest first: the three PayPal payments, the transfer, the seed's payment by hand
    summary = [
        (r["method"], r["status"], r["amount"]["amount"], r["refunded"]["amount"]) for r in rows
    ]
    assert summary == [
        ("PAYPAL", "PARTIALLY_REFUNDED", "40.000000", "25.000000"),  # 40 reversed, 15 back
        ("PAYPAL", "REVERSED", "30.000000", "30.000000"),
        ("PAYPAL", "REFUNDED", "20.000000", "20.000000"),
        ("RESELLER_CREDIT", "COMPLETED", "5.000000", "0.000000"),
        ("MANUAL", "COMPLETED", "50.000000", "0.000000"),
    ]
    assert [c["kind"] for c in rows[0]["corrections"]] == ["REVERSAL", "CANCELED_REVERSAL"]
    assert rows[0]["amount"]["currency"] == "USD"
    # the id is the ledger entry a refund names (paymentId)
    assert rows[-1]["id"] == gid("LedgerEntry", world.payment_entry_id)


async def test_a_payment_by_checkout_is_told_apart(gql, world, sessions):
    c = world.acme_client_id
    async with transaction(sessions) as s:
        await _paypal(s, c, "CAPTURE-1", 12 * U)
        s.add(
            PaypalOrder(
                paypal_id="ORDER-1",
                reference="ref-1",
                reseller_id=world.acme_id,
                client_id=c,
                payee=f"reseller:{world.acme_id}",
                amount=12 * U,
                currency="USD",
                status="COMPLETED",
                capture_id="CAPTURE-1",
            )
        )
    found = await _history(gql, world.tokens["acme"], c, first=1)
    assert found["edges"][0]["node"]["method"] == "PAYPAL_CHECKOUT"
    assert found["pageInfo"]["hasNextPage"] is True
    # the next page starts after it
    rest = await _history(gql, world.tokens["acme"], c, after=found["pageInfo"]["endCursor"])
    assert [e["node"]["method"] for e in rest["edges"]] == ["MANUAL"]


async def test_another_tenant_sees_none_of_it(gql, world):
    for viewer in ("globex_client", "globex"):
        assert await _history(gql, world.tokens[viewer], world.acme_client_id) is None
    # Acme's other client's history is not this client's to read
    assert await _history(gql, world.tokens["acme_client"], world.acme_client2_id) is None


async def test_a_page_costs_the_same_statements_whatever_its_size(gql, world, sessions, app):
    c = world.acme_client_id
    async with transaction(sessions) as s:
        for n in range(30):
            await _paypal(s, c, f"TXN-N{n}", U)
            if n % 2:
                await deposits.debit(
                    s,
                    source=deposits.PAYPAL,
                    external_id=f"TXN-N{n}-R",
                    original_external_id=f"TXN-N{n}",
                    amount=U // 2,
                    currency="USD",
                    memo="",
                    raw_id=None,
                )
    counts = []
    engine = app.state.engine.sync_engine
    for first in (2, 25):
        seen: list[str] = []

        def count(*args, seen=seen):
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            found = await _history(gql, world.tokens["acme_client"], c, first=first)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(found["edges"]) == first
        counts.append(len([q for q in seen if q.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1]


async def test_checkout_is_offered_only_once_the_payee_set_up_its_app(
    gql, world, sessions, settings
):
    query = "{ paypalCheckoutAvailable }"
    for viewer in ("acme_client", "acme", "operator"):
        body = await gql(query, token=world.tokens[viewer])
        assert body["data"]["paypalCheckoutAvailable"] is False, viewer
    async with transaction(sessions) as s:
        await paypal_credentials.set_credentials(
            s,
            SYSTEM,
            world.acme_id,
            {"client_id": "acme-app", "client_secret": "s", "webhook_id": "WH"},
            settings=settings,
        )
    # Acme's client pays Acme's app; Acme itself (its own balance) and Globex's commission
    # client pay the operator's, which is not set up
    expected = {"acme_client": True, "acme": False, "globex_client": False}
    for viewer, available in expected.items():
        body = await gql(query, token=world.tokens[viewer])
        assert body["data"]["paypalCheckoutAvailable"] is available, viewer
    assert (await gql(query))["data"]["paypalCheckoutAvailable"] is False  # anonymous
