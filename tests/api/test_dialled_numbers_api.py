"""A reseller's home country through the API, and the dialled numbers it reads: resellerUpdate,
callsIngest (its homeCountry), /switch/cdrs (?home_country=), /switch/authorize."""

from __future__ import annotations

from sqlalchemy import select, update

from api.db import transaction
from api.models import Call, Reseller
from tests.api.conftest import gid
from tests.api.test_calls_api import ALICE_SIP, call_input, rate_world
from tests.api.test_switch_http import acme_caller, post

RESELLER_UPDATE = """mutation($id: ID!, $home: String) {
  resellerUpdate(input: {id: $id, homeCountry: $home}) {
    reseller { homeCountry } errors { code field message } } }"""

INGEST = """mutation($calls: [CallInput!]!, $home: String) {
  callsIngest(input: {calls: $calls, homeCountry: $home}) {
    ingested rejected rowErrors { row message } errors { code field message } } }"""


async def set_home(sessions, reseller_id: int, home: str) -> None:
    async with transaction(sessions) as s:
        await s.execute(
            update(Reseller).where(Reseller.id == reseller_id).values(home_country=home)
        )


async def test_the_operator_sets_a_resellers_home_country(gql, world, sessions):
    operator = world.tokens["operator"]
    acme = gid("Reseller", world.acme_id)
    body = await gql(RESELLER_UPDATE, {"id": acme, "home": "us"}, token=operator)
    assert body["data"]["resellerUpdate"] == {"reseller": {"homeCountry": "US"}, "errors": []}
    # an unknown country is a validation error on the field, and changes nothing
    body = await gql(RESELLER_UPDATE, {"id": acme, "home": "USA"}, token=operator)
    result = body["data"]["resellerUpdate"]
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("VALIDATION", "homeCountry")]
    async with sessions() as s:
        assert (await s.get(Reseller, world.acme_id)).home_country == "US"
    # and empty clears it
    body = await gql(RESELLER_UPDATE, {"id": acme, "home": ""}, token=operator)
    assert body["data"]["resellerUpdate"]["reseller"] == {"homeCountry": ""}


async def test_calls_ingest_reads_numbers_by_the_batchs_home_country(gql, world, sessions):
    await rate_world(sessions, world)
    london = [call_input("h-1", dest="020 7123 4567"), call_input("h-2", dest="011442071234567")]
    # without one, the national and the 011 numbers have no rate
    body = await gql(INGEST, {"calls": london}, token=world.api_token)
    assert body["data"]["callsIngest"]["rejected"] == 2
    # with GB, the national one is London; with US, the 011 one
    body = await gql(INGEST, {"calls": london[:1], "home": "GB"}, token=world.api_token)
    assert body["data"]["callsIngest"]["ingested"] == 1
    body = await gql(INGEST, {"calls": london[1:], "home": "US"}, token=world.api_token)
    assert body["data"]["callsIngest"]["ingested"] == 1
    async with sessions() as s:
        prefixes = (await s.scalars(select(Call.matched_prefix).order_by(Call.call_id))).all()
    assert prefixes == ["44", "44"]
    # an unknown one is an error of the field, and nothing lands
    body = await gql(INGEST, {"calls": [call_input("h-3")], "home": "ZZ"}, token=world.api_token)
    result = body["data"]["callsIngest"]
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("VALIDATION", "homeCountry")]
    async with sessions() as s:
        assert await s.scalar(select(Call.id).where(Call.call_id == "h-3")) is None


async def test_switch_cdrs_use_the_resellers_home_country_or_the_requests(gql, world, sessions):
    await rate_world(sessions, world)
    await set_home(sessions, world.acme_id, "US")
    row = {
        "sub_account": ALICE_SIP,
        "started_at": "2024-03-01T10:00:00Z",
        "duration": 30,
        "billsec": 27,
        "disposition": "answered",
    }
    headers = {"Authorization": f"Bearer {world.api_token}"}
    async with gql.client() as http:
        # Acme's own home country reads 011
        response = await http.post(
            "/switch/cdrs",
            json=[{**row, "call_id": "w-1", "destination": "011442071234567"}],
            headers=headers,
        )
        assert response.json()["ingested"] == 1, response.text
        # a request from a British box names its own
        response = await http.post(
            "/switch/cdrs?home_country=GB",
            json=[{**row, "call_id": "w-2", "destination": "02071234567"}],
            headers=headers,
        )
        assert response.json()["ingested"] == 1, response.text
        # an unknown one is a bad request, and nothing lands
        response = await http.post(
            "/switch/cdrs?home_country=XX",
            json=[{**row, "call_id": "w-3", "destination": "02071234567"}],
            headers=headers,
        )
        assert response.status_code == 400
        assert "not a country" in response.json()["error"]
    async with sessions() as s:
        calls = (await s.execute(select(Call.call_id, Call.matched_prefix))).all()
    assert sorted(calls) == [("w-1", "44"), ("w-2", "44")]


async def test_switch_authorize_reads_the_number_by_the_callers_resellers_home(
    app, world, sessions, settings
):
    await acme_caller(sessions, world, settings)
    call = {"sub_account": "alice.sip", "destination": "011 44 7700 900"}
    assert (await post(app, call, world.api_token)).json()["reason"] == "NO_ROUTE"
    await set_home(sessions, world.acme_id, "US")
    answer = (await post(app, call, world.api_token)).json()
    assert (answer["allowed"], answer["prefix"], answer["destination"]) == (True, "44", "447700900")
