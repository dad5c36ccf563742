"""CDR file readers: the real Asterisk and FreeSWITCH formats, and the generic CSV."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.domain import cdr_formats
from api.domain.cdr_formats import CallRecord
from api.domain.errors import DomainError

DATA = Path(__file__).resolve().parent.parent / "data"


def read(fmt: str, name: str, zone: str | None = None):
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(cdr_formats.read(fmt, fh, cdr_formats.timezone_named(zone)))


def errors(parsed) -> dict[int, str]:
    return {line: item for line, item in parsed if isinstance(item, str)}


def records(parsed) -> dict[int, CallRecord]:
    return {line: item for line, item in parsed if not isinstance(item, str)}


def test_asterisk_master_csv():
    # given a Master.csv with good, duplicate and broken lines
    parsed = read("asterisk-csv", "asterisk-Master.csv")
    # then each good line is a call of the channel's sub-account, with its uniqueid
    good = records(parsed)
    assert sorted(good) == [1, 2, 3, 4, 5, 8, 10]
    first = good[1]
    assert first == CallRecord(
        call_id="1709287200.1",
        destination="442071234567",
        started_at=datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
        duration=32,
        billsec=27,
        disposition="answered",
        sub_account="alice",
        a_number="1001",
    )
    assert good[2].sub_account == "alice" and good[2].disposition == "no_answer"  # PJSIP
    assert good[5].disposition == "busy" and good[5].billsec == 0
    assert good[4].call_id == first.call_id  # the duplicate is the ingester's to report
    assert good[10].sub_account is None and good[10].a_number == "15551230001"  # DAHDI trunk
    # and each broken line says why, by its line number
    assert errors(parsed) == {
        6: "start is not a date and time: 'yesterday'",
        7: "unknown disposition 'HELD'",
        9: "expected at least 17 columns (…, amaflags, uniqueid), found 6",
    }


def test_freeswitch_default_template():
    parsed = read("freeswitch-csv", "freeswitch-Master.csv")
    good = records(parsed)
    assert sorted(good) == [1, 2, 3, 4, 5, 7, 8]
    assert good[1].call_id == "a1b2c3d4-0000-4000-8000-000000000001"
    assert good[1].account_code == "alice" and good[1].billsec == 27
    assert good[1].sub_account == "1001"  # tried when the account code names no sub-account
    assert [good[n].disposition for n in (1, 2, 3, 4)] == [
        "answered",
        "no_answer",
        "busy",
        "failed",
    ]
    # no accountcode: the caller id number is tried as username, then as A-number
    assert good[7].sub_account == "15551230001" and good[7].a_number == "15551230001"
    assert errors(parsed) == {
        6: "duration must be a whole number of seconds, not 'thirty'",
        9: "expected 15 columns (the default template), found 5",
    }


def test_local_stamps_are_read_in_the_given_zone():
    parsed = read("freeswitch-csv", "freeswitch-Master.csv", zone="Europe/Lisbon")
    # Lisbon is UTC+0 in winter; New York is UTC-5 in early March
    assert records(parsed)[1].started_at == datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    parsed = read("freeswitch-csv", "freeswitch-Master.csv", zone="America/New_York")
    assert records(parsed)[1].started_at == datetime(2024, 3, 2, 15, 0, tzinfo=UTC)


def test_unknown_zone_is_a_user_error():
    with pytest.raises(DomainError) as exc:
        cdr_formats.timezone_named("Mars/Olympus")
    assert exc.value.field == "timezone"


def test_generic_csv_with_header():
    parsed = read("generic-csv", "generic.csv")
    good = records(parsed)
    assert sorted(good) == [2, 3, 4, 5, 7]
    assert good[3].a_number == "+1 555 123 0001" and good[3].sub_account is None
    assert good[3].started_at == datetime(2024, 3, 3, 10, 0, tzinfo=UTC)  # +01:00 -> UTC
    assert good[4].direction == "outbound" and good[4].disposition == "busy"
    assert good[7].direction == "inbound"
    assert errors(parsed) == {
        6: "started_at is not a date and time: 'not a time'",
        8: "billsec is longer than duration",
        9: "expected 9 columns as in the header, found 4",
    }


def test_generic_csv_needs_its_columns():
    parsed = cdr_formats.read_text("generic-csv", "call_id,destination\nx,1\n")
    assert parsed == [
        (
            1,
            "the header lacks the column(s) started_at, duration, disposition, "
            "sub_account or a_number",
        )
    ]


def test_unanswered_calls_bill_nothing_and_a_caller_is_required():
    row = {
        "call_id": "x",
        "destination": "44",
        "started_at": "2024-01-01T00:00:00Z",
        "duration": 30,
        "billsec": 10,
        "disposition": "NO ANSWER",
        "sub_account": "alice",
    }
    assert cdr_formats.record_from_mapping(row).billsec == 0
    with pytest.raises(cdr_formats.RecordError, match="caller is missing"):
        cdr_formats.record_from_mapping({**row, "sub_account": ""})


SPANNING = (
    "call_id,sub_account,destination,started_at,duration,billsec,disposition\n"
    "s-1,alice,4420,2024-03-01T10:00:00Z,30,27,answered\n"
    '"s-2\nspans",alice,4420,2024-03-01T10:00:00Z,30,27,answered\n'
    "s-3,alice,4420,2024-03-01T10:00:00Z,thirty,27,answered\n"
    '"s-4",alice,"44\n20",2024-03-01T10:00:00Z,30,27,answered\n'
    "\n"
    "s-5,alice,4420,2024-03-01T10:00:00Z,30,27,answered\n"
)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("generic-csv", (DATA / "generic.csv").read_text()),
        ("generic-csv", SPANNING),
        ("asterisk-csv", (DATA / "asterisk-Master.csv").read_text()),
        ("freeswitch-csv", (DATA / "freeswitch-Master.csv").read_text()),
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_file_read_in_parts_reads_as_it_does_whole(fmt, text, size):
    from api.cli_calls import _header, _Reading

    whole = list(cdr_formats.read(fmt, io.StringIO(text, newline=""), UTC))
    parts = list(cdr_formats.parts(io.StringIO(text, newline=""), size))
    # no part cuts a record, each part but the last has at least ``size`` lines
    assert "".join(t for _, t in parts) == text
    assert all(t.count('"') % 2 == 0 and t.count("\n") >= size for _, t in parts[:-1])
    reading = _Reading(fmt, None, _header(fmt, parts[0][1]))
    assert [row for part in parts for row in reading.rows(*part)] == whole


def test_a_record_spanning_lines_is_numbered_by_its_first():
    parsed = list(cdr_formats.read("generic-csv", io.StringIO(SPANNING, newline=""), UTC))
    assert [line for line, _ in parsed] == [2, 3, 5, 6, 9]
    assert errors(parsed) == {
        3: "call_id contains control characters",
        5: "duration must be a whole number of seconds, not 'thirty'",
        6: "destination contains control characters",
    }
