"""The binary COPY encoder of call ingestion (``api.domain._copy``): what PostgreSQL reads from
it is what was encoded, as asyncpg's own encoding of the same rows gives; a bad value is refused
with its row and column."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.domain import _copy, calls

TYPES = "tiqTnq"
COLUMNS = ["name", "small", "big", "at", "rate", "tail"]
TABLE = "(name text, small int4, big int8, at timestamptz, rate numeric(20,6), tail int8)"
MICROS = 10**18 - 1

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
stamps = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=13))]),
)
rates = st.one_of(
    st.integers(-MICROS, MICROS).map(lambda m: Decimal(m).scaleb(-6)),
    st.integers(-MICROS, MICROS),
    st.integers(-(10**12) + 1, 10**12 - 1).map(Decimal),  # no decimals at all
    st.integers(-999, 999).map(lambda m: Decimal(m).scaleb(-3)),  # fewer than six
)
rows = st.tuples(
    st.one_of(st.none(), texts),
    st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    st.integers(-(2**63), 2**63 - 1),
    st.one_of(st.none(), stamps),
    st.one_of(st.none(), rates),
)


async def _driver(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    connection = await engine.connect()
    raw = await connection.get_raw_connection()
    return connection, raw.driver_connection


def _as_given(row: tuple) -> tuple:
    """A row as asyncpg encodes it, and as it reads back: an int of micros is a Decimal, a
    time is in UTC."""
    name, small, big, at, rate, tail = row
    if rate.__class__ is int:
        rate = Decimal(rate).scaleb(-6)
    return (name, small, big, at and at.astimezone(UTC), rate, tail)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(groups=st.lists(st.tuples(st.lists(rows, max_size=20), st.integers(0, 2**40)), max_size=5))
async def test_what_postgresql_reads_is_what_was_encoded(engine, groups):
    connection, driver = await _driver(engine)
    try:
        async with driver.transaction():
            await driver.execute(f"create temp table encoded {TABLE} on commit drop")
            await driver.execute(f"create temp table reference {TABLE} on commit drop")
            payload = _copy.encode([(r, (tail,)) for r, tail in groups], TYPES)
            await driver.copy_to_table(
                "encoded", source=memoryview(payload), columns=COLUMNS, format="binary"
            )
            expected = [(*row, tail) for r, tail in groups for row in r]
            await driver.copy_records_to_table(
                "reference",
                records=[_as_given(row) for row in expected],
                columns=COLUMNS,
            )
            order = "order by big, tail, name nulls first, small nulls first, at nulls first"
            got = [tuple(r) for r in await driver.fetch(f"select * from encoded {order}")]
            reference = [tuple(r) for r in await driver.fetch(f"select * from reference {order}")]
    finally:
        await connection.close()
    assert got == reference
    assert sorted(got, key=repr) == sorted(map(_as_given, expected), key=repr)


async def test_calls_stored_through_copy_read_back_as_given(engine):
    """The calls table's own types: a row of every column, NULLs where they may be."""
    connection, driver = await _driver(engine)
    at = datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-8)))
    row = (
        "c-1", 1, 2, None, "outbound", "", "4420", at, 61, 60, "answered", "44", "Ünïted Kingdom",
        "USD", 12_345, 60, 12_345, Decimal("0.014197"), 60, 14_197, "markup", 0,
    )  # fmt: skip
    try:
        async with driver.transaction():
            await driver.execute(
                "create temp table copied (like calls including defaults) on commit drop"
            )
            await driver.copy_to_table(
                "copied",
                source=memoryview(_copy.encode([([row], (None, at))], calls._CALL_TYPES)),
                columns=list(calls.CALL_COLUMNS),
                format="binary",
            )
            stored = await driver.fetchrow(f"select {', '.join(calls.CALL_COLUMNS)} from copied")
    finally:
        await connection.close()
    assert tuple(stored) == (*row[:7], at.astimezone(UTC), *row[8:], None, at.astimezone(UTC))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("x", "1", 1, None, None), "row 1, column 1: expected an int"),
        (("x", 2**31, 1, None, None), "row 1, column 1: out of the range of int4"),
        (("x", 1, 2**63, None, None), "row 1, column 2: out of the range of int8"),
        ((1, 1, 1, None, None), "row 1, column 0: expected a str"),
        (("x", 1, 1, "2026-01-01", None), "row 1, column 3: expected a datetime"),
        (("x", 1, 1, None, Decimal("0.0000001")), "at most six places"),
        (("x", 1, 1, None, Decimal("NaN")), "at most six places"),
        (("x", 1, 1, None, Decimal("1E+13")), "at most six places"),
        (("x", 1, 1, None, 10**18), "row 1, column 4: 1000000000000000000 micros is not below"),
        (("x", 1, 1, None), "row 1: 5 values for 6 columns"),
    ],
)
def test_a_bad_value_is_refused_with_its_row_and_column(row, message):
    good = ("x", 1, 1, None, Decimal("0.5"))
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        _copy.encode([([good], (0,)), ([row], (0,))], TYPES)


def test_the_payload_is_postgresql_binary_copy():
    payload = _copy.encode([([("a", 1, 2, None, 0)], (3,))], TYPES)
    assert payload.startswith(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    assert payload.endswith(b"\xff\xff")
    assert _copy.encode([], TYPES) == b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\xff\xff"
