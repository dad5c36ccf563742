"""Resellers and clients: validation, bulk orders, deletion, tenancy and the audit history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import accounts, audit, payments
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, DomainErrors, ErrorCode
from api.models import AuditEvent, Client, User
from tests.factories import (
    client_actor,
    client_balance,
    fund_reseller,
    make_client,
    make_reseller,
    make_user,
    operator_actor,
    reseller_actor,
    user_actor,
)

M = 1_000_000


async def call(sessions, fn, *args, **kw):
    async with transaction(sessions) as s:
        return await fn(s, *args, **kw)


async def client_count(sessions) -> int:
    async with sessions() as s:
        return len((await s.scalars(select(Client.id))).all())


# --- creation and validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Ann", "email": "not-an-email"}, "email"),
        ({"name": "Ann", "billing_mode": "prepaid"}, "billingMode"),
        ({"name": "Ann", "credit_limit": "-1"}, "creditLimit"),
        ({"name": "Ann", "credit_limit": "1.0000001"}, "creditLimit"),
        ({"name": "Ann", "low_balance_threshold": "-0.01"}, "lowBalanceThreshold"),
        ({"name": "Ann", "country": "USA"}, "country"),
        ({"name": "Ann", "language": "english"}, "language"),
        ({"name": "Ann", "characteristic": "vip"}, "characteristic"),
    ],
)
async def test_client_creation_errors_name_the_field_and_create_nothing(sessions, row, field):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)

    with pytest.raises(DomainErrors) as err:
        await call(sessions, accounts.create_clients, reseller_actor(reseller), None, [row])

    assert [e.field for e in err.value.errors] == [field]
    assert all(e.code == ErrorCode.VALIDATION for e in err.value.errors)
    assert err.value.errors[0].message.startswith("client 1: ")
    assert await client_count(sessions) == 0


async def test_every_bad_row_of_a_bulk_order_is_reported_and_none_land(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
    rows = [{"name": "Good"}, {"name": "", "email": "bad"}, {"name": "Also good"}]

    with pytest.raises(DomainErrors) as err:
        await call(sessions, accounts.create_clients, reseller_actor(reseller), None, rows)

    reported = sorted((e.field, e.message.split(":")[0]) for e in err.value.errors)
    assert reported == [("email", "client 2"), ("name", "client 2")]
    assert await client_count(sessions) == 0


async def test_a_reseller_creates_one_client_with_a_zero_balance(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, currency="EUR")

    [client] = await call(
        sessions,
        accounts.create_clients,
        reseller_actor(reseller),
        None,
        [{"name": " Ann ", "email": "ANN@Example.test", "credit_limit": "25"}],
    )

    assert (client.name, client.email, client.credit_limit) == ("Ann", "ann@example.test", 25 * M)
    assert (client.reseller_id, client.status) == (reseller.id, "active")
    async with sessions() as s:
        assert await client_balance(s, client) == 0
        acc = await accounts.client_account(s, client, "EUR")
        assert acc.currency == "EUR"


async def test_operator_bulk_order_needs_at_least_ten_clients(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
    op = operator_actor()
    rows = [{"name": f"Client {i}"} for i in range(10)]

    with pytest.raises(DomainError) as err:
        await call(sessions, accounts.create_clients, op, reseller.id, rows[:9])
    assert (err.value.code, err.value.field) == (ErrorCode.VALIDATION, "clients")
    assert "10" in err.value.message
    assert await client_count(sessions) == 0

    created = await call(sessions, accounts.create_clients, op, reseller.id, rows)
    assert len(created) == 10
    assert {c.reseller_id for c in created} == {reseller.id}


async def test_operator_must_name_the_reseller(sessions):
    with pytest.raises(DomainError) as err:
        await call(sessions, accounts.create_clients, operator_actor(), None, [{"name": "x"}] * 10)
    assert err.value.field == "resellerId"


@pytest.mark.parametrize("count", [0, accounts.BULK_MAX + 1])
async def test_a_bulk_order_holds_between_1_and_1000_clients(sessions, count):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
    with pytest.raises(DomainError) as err:
        await call(
            sessions,
            accounts.create_clients,
            reseller_actor(reseller),
            None,
            [{"name": "x"}] * count,
        )
    assert err.value.field == "clients"


async def test_reseller_creation_validates_its_fields(sessions):
    data = {"name": "", "currency": "dollars", "billing_model": "resale", "commission_pct": "101"}
    with pytest.raises(DomainErrors) as err:
        await call(sessions, accounts.create_reseller, SYSTEM, data)
    assert sorted(e.field for e in err.value.errors) == [
        "billingModel",
        "commissionPct",
        "currency",
        "name",
    ]


async def test_a_resellers_currency_cannot_change(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, currency="USD")
    with pytest.raises(DomainError) as err:
        await call(sessions, accounts.update_reseller, SYSTEM, reseller.id, {"currency": "EUR"})
    assert err.value.field == "currency"


# --- deletion ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signed", ["12.5", "-3"])
async def test_a_client_with_a_balance_cannot_be_deleted_until_it_is_zero(sessions, signed):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller, "prepaid_permissive")
        await fund_reseller(s, reseller, "100")
        login = await make_user(s, "client", client=client)
    actor = reseller_actor(reseller)
    if signed.startswith("-"):
        await call(sessions, payments.client_charge, actor, client.id, "3", "c", "calls")
    else:
        await call(sessions, payments.client_transfer, actor, client.id, signed, "t")

    with pytest.raises(DomainError) as err:
        await call(sessions, accounts.delete_client, actor, client.id)

    assert err.value.code == ErrorCode.CONFLICT
    shown = "12.50" if signed == "12.5" else "-3.00"
    assert f"its balance is {shown}, not zero" in err.value.message
    async with sessions() as s:
        assert (await s.get(Client, client.id)).deleted_at is None

    if signed.startswith("-"):
        await call(sessions, payments.client_payment, actor, client.id, "3", "p")
    else:
        await call(sessions, payments.client_refund, actor, client.id, signed, "r")
    await call(sessions, accounts.delete_client, actor, client.id)

    async with sessions() as s:
        row = await s.get(Client, client.id)
        assert row.deleted_at is not None
        assert (await s.get(User, login.id)).is_active is False
        with pytest.raises(DomainError) as gone:
            await accounts.get_client(s, actor, client.id)
        assert gone.value.code == ErrorCode.NOT_FOUND
        listed = (await s.scalars(accounts.clients_query(actor))).all()
        assert client.id not in [c.id for c in listed]


async def test_a_client_that_never_had_money_can_be_deleted(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
    deleted = await call(sessions, accounts.delete_client, reseller_actor(reseller), client.id)
    assert deleted.deleted_at is not None


# --- tenancy ----------------------------------------------------------------------------------


async def _two_tenants(sessions):
    async with transaction(sessions) as s:
        acme = await make_reseller(s, name="Acme")
        globex = await make_reseller(s, name="Globex")
        acme_clients = [await make_client(s, acme) for _ in range(3)]
        globex_client = await make_client(s, globex)
        await fund_reseller(s, acme, "100")
        await fund_reseller(s, globex, "100")
    await call(
        sessions, payments.client_transfer, reseller_actor(acme), acme_clients[0].id, "10", "t"
    )
    return acme, globex, acme_clients, globex_client


@pytest.mark.parametrize("role", ["reseller_owner", "reseller_staff"])
async def test_another_resellers_client_is_not_found(sessions, role):
    _, globex, acme_clients, _ = await _two_tenants(sessions)
    target = acme_clients[0].id
    intruder = reseller_actor(globex, role)
    attempts = [
        (accounts.get_client, (intruder, target)),
        (accounts.update_client, (intruder, target, {"credit_limit": "1000"})),
        (accounts.delete_client, (intruder, target)),
        (payments.client_transfer, (intruder, target, "5", "x1")),
        (payments.client_payment, (intruder, target, "5", "x2")),
        (payments.client_charge, (intruder, target, "5", "x3", "steal")),
        (payments.client_refund, (intruder, target, "5", "x4")),
    ]

    for fn, args in attempts:
        with pytest.raises(DomainError) as err:
            await call(sessions, fn, *args)
        assert err.value.code == ErrorCode.NOT_FOUND, fn.__name__
        assert err.value.message == "client not found"

    async with sessions() as s:
        assert await client_balance(s, target) == 10 * M
        row = await s.get(Client, target)
        assert row.credit_limit == 0 and row.deleted_at is None


async def test_a_resellers_lists_hold_only_its_own_clients_and_entries(sessions):
    acme, globex, acme_clients, globex_client = await _two_tenants(sessions)

    async with sessions() as s:
        globex_sees = (await s.scalars(accounts.clients_query(reseller_actor(globex)))).all()
        acme_sees = (await s.scalars(accounts.clients_query(reseller_actor(acme)))).all()
        op_sees = (await s.scalars(accounts.clients_query(operator_actor()))).all()
        spying = (
            await s.scalars(accounts.clients_query(reseller_actor(globex), reseller_id=acme.id))
        ).all()
        globex_entries = (await s.scalars(payments.entries_query(reseller_actor(globex)))).all()

    assert [c.id for c in globex_sees] == [globex_client.id]
    assert sorted(c.id for c in acme_sees) == sorted(c.id for c in acme_clients)
    assert len(op_sees) == 4
    assert spying == []
    assert {e.reseller_id for e in globex_entries} == {globex.id}


async def test_a_client_sees_only_itself(sessions):
    _, _, acme_clients, _ = await _two_tenants(sessions)
    me, neighbour = acme_clients[0], acme_clients[1]
    actor = client_actor(me)

    async with sessions() as s:
        listed = (await s.scalars(accounts.clients_query(actor))).all()
        assert [c.id for c in listed] == [me.id]
        assert (await accounts.get_client(s, actor, me.id)).id == me.id
        with pytest.raises(DomainError) as err:
            await accounts.get_client(s, actor, neighbour.id)
        assert err.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as err:
        await call(sessions, payments.client_transfer, actor, me.id, "1", "self")
    assert err.value.code == ErrorCode.PERMISSION_DENIED


# --- audit ------------------------------------------------------------------------------------


async def events(sessions, **where) -> list[AuditEvent]:
    async with sessions() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list((await s.scalars(stmt)).all())


async def test_client_creation_is_audited_with_who_did_it(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        owner = await user_actor(s, "reseller_owner", reseller=reseller)

    [client] = await call(
        sessions, accounts.create_clients, owner, None, [{"name": "Ann", "credit_limit": "5"}]
    )

    [event] = await events(sessions, action="client.created")
    assert (event.subject_type, event.subject_id) == ("client", client.id)
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "user",
        owner.user_id,
        owner.label,
    )
    assert (event.reseller_id, event.client_id) == (reseller.id, client.id)
    assert event.after["name"] == "Ann"
    assert event.after["credit_limit"] == {"amount": "5.00", "currency": reseller.currency}
    assert event.after["billing_mode"] == "prepaid_strict"


async def test_credit_limit_and_billing_mode_changes_are_audited_before_and_after(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller, "prepaid_permissive", credit_limit="10")
        staff = await user_actor(s, "reseller_staff", reseller=reseller)

    await call(
        sessions,
        accounts.update_client,
        staff,
        client.id,
        {"credit_limit": "250", "billing_mode": "postpaid", "notes": "moved to invoices"},
    )
    # an update that changes nothing records nothing
    await call(sessions, accounts.update_client, staff, client.id, {"credit_limit": "250"})

    [event] = await events(sessions, action="client.updated")
    assert event.before == {
        "billing_mode": "prepaid_permissive",
        "credit_limit": {"amount": "10.00", "currency": reseller.currency},
        "notes": "",
    }
    assert event.after == {
        "billing_mode": "postpaid",
        "credit_limit": {"amount": "250.00", "currency": reseller.currency},
        "notes": "moved to invoices",
    }
    assert (event.actor_id, event.actor_label) == (staff.user_id, staff.label)
    assert (event.reseller_id, event.client_id) == (reseller.id, client.id)


async def test_switching_to_strict_prepaid_at_zero_suspends_and_is_audited(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller, "prepaid_permissive")
    actor = reseller_actor(reseller)

    await call(
        sessions, accounts.update_client, actor, client.id, {"billing_mode": "prepaid_strict"}
    )

    [change] = await events(sessions, action="client.status_changed")
    assert change.before == {"status": "active", "status_reason": ""}
    assert change.after == {"status": "suspended", "status_reason": "balance exhausted"}


async def test_money_movements_are_audited_with_who_and_the_balances(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", currency="EUR", commission_pct="10")
        client = await make_client(s, reseller)
        operator = await user_actor(s, "operator")
        owner = await user_actor(s, "reseller_owner", reseller=reseller)

    deposit = await call(sessions, payments.reseller_deposit, operator, reseller.id, "200", "d")
    transfer = await call(
        sessions, payments.client_transfer, owner, client.id, "50", "t", "first top-up"
    )

    [dep_event] = await events(sessions, action="money.reseller_deposit")
    assert (dep_event.subject_type, dep_event.subject_id) == ("ledger_entry", deposit.entry.id)
    assert (dep_event.actor_type, dep_event.actor_id) == ("user", operator.user_id)
    assert dep_event.after["amount"] == "200.00"
    assert dep_event.after["currency"] == "EUR"
    assert dep_event.before["balances"][f"reseller:{reseller.id}"] == "0.00"
    assert dep_event.after["balances"][f"reseller:{reseller.id}"] == "200.00"

    [tr_event] = await events(sessions, action="money.client_transfer")
    assert tr_event.subject_id == transfer.entry.id
    assert (tr_event.actor_id, tr_event.actor_label) == (owner.user_id, owner.label)
    assert (tr_event.reseller_id, tr_event.client_id) == (reseller.id, client.id)
    assert tr_event.after["memo"] == "first top-up"
    assert tr_event.before["balances"] == {
        f"reseller:{reseller.id}": "200.00",
        f"client:{client.id}": "0.00",
        "operator:commission:EUR": "0.00",
    }
    assert tr_event.after["balances"] == {
        f"reseller:{reseller.id}": "155.00",
        f"client:{client.id}": "50.00",
        "operator:commission:EUR": "-5.00",
    }
    async with sessions() as s:
        entry = await payments.get_entry(s, owner, transfer.entry.id)
        assert (entry.actor_type, entry.actor_id) == ("user", owner.user_id)
        visible = (await s.scalars(audit.scoped_query(owner))).all()
        assert {e.reseller_id for e in visible} == {reseller.id}


async def test_a_refused_movement_leaves_no_audit_event(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
    before = len(await events(sessions))

    with pytest.raises(DomainError):
        await call(
            sessions, payments.client_transfer, reseller_actor(reseller), client.id, "1", "t"
        )

    assert len(await events(sessions)) == before
