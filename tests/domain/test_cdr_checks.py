"""What a CDR row must hold to be billed: every stamp a date and time, in order, and sane
durations; and whose call it is (account code, channel). Read by the Asterisk and FreeSWITCH
readers, and on every path that ingests their files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from api.cli_calls import cmd_calls_import
from api.db import transaction
from api.domain import callers, cdr_formats, payments
from api.domain.actors import SYSTEM
from api.models import Call, SubAccount
from tests.callers_data import assign_deck, make_deck
from tests.factories import (
    assert_ledger_consistent,
    client_balance,
    fund_reseller,
    make_client,
    make_reseller,
)

START = "2024-03-01 10:00:00"
ANSWER = "2024-03-01 10:00:05"
END = "2024-03-01 10:00:32"


def asterisk_line(
    *,
    channel: str = "SIP/alice-00000001",
    accountcode: str = "",
    start: str = START,
    answer: str = ANSWER,
    end: str = END,
    duration: str = "32",
    billsec: str = "27",
    disposition: str = "ANSWERED",
    uniqueid: str = "1709287200.1",
    dst: str = "442071234567",
) -> str:
    fields = [accountcode, "1001", dst, "from-internal", '"Alice" <1001>', channel]
    fields += ["SIP/trunk-00000002", "Dial", f"SIP/trunk/{dst},60", start, answer, end]
    fields += [duration, billsec, disposition, "DOCUMENTATION", uniqueid, ""]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(fields)
    return out.getvalue()


def freeswitch_line(
    *,
    number: str = "1001",
    accountcode: str = "alice",
    start: str = START,
    answer: str = ANSWER,
    end: str = END,
    duration: str = "32",
    billsec: str = "27",
    cause: str = "NORMAL_CLEARING",
    uuid: str = "a1b2c3d4-0000-4000-8000-000000000001",
    dst: str = "442071234567",
) -> str:
    fields = ["Alice", number, dst, "default", start, answer, end, duration, billsec, cause]
    fields += [uuid, "", accountcode, "PCMU", "PCMU"]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(fields)
    return out.getvalue()


def read_one(fmt: str, line: str, zone: str | None = None):
    [(number, item)] = cdr_formats.read_text(fmt, line, cdr_formats.timezone_named(zone))
    assert number == 1
    return item


BAD_STAMPS = [
    ({"end": "garbage"}, "end is not a date and time: 'garbage'"),
    ({"end": ""}, "end is missing"),
    ({"answer": "2024-13-01 10:00:05"}, "answer is not a date and time: '2024-13-01 10:00:05'"),
    ({"start": "yesterday"}, "start is not a date and time: 'yesterday'"),
    (
        {"answer": "2024-03-01 09:59:59"},
        "answer 2024-03-01 09:59:59 is before start 2024-03-01 10:00:00",
    ),
    (
        {"end": "2024-03-01 10:00:04"},
        "end 2024-03-01 10:00:04 is before answer 2024-03-01 10:00:05",
    ),
    ({"answer": ""}, "answer is missing on an answered call"),
    (
        {"answer": "", "end": "2024-03-01 09:00:00", "billsec": "0", "disposition": "NO ANSWER"},
        "end 2024-03-01 09:00:00 is before start 2024-03-01 10:00:00",
    ),
    ({"duration": "-32"}, "duration is negative: -32"),
    ({"billsec": "-1"}, "billsec is negative: -1"),
    ({"billsec": "33"}, "billsec is longer than duration"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_STAMPS)
def test_an_asterisk_row_with_a_bad_stamp_or_duration_is_refused(change, reason):
    assert read_one("asterisk-csv", asterisk_line(**change)) == reason


_FS_NAMES = {"start": "start_stamp", "answer": "answer_stamp", "end": "end_stamp"}


@pytest.mark.parametrize(("change", "reason"), BAD_STAMPS)
def test_a_freeswitch_row_with_a_bad_stamp_or_duration_is_refused(change, reason):
    # the same rows in FreeSWITCH's columns (answered means billsec > 0 there)
    change = {k: v for k, v in change.items() if k != "disposition"}
    for ours, theirs in _FS_NAMES.items():
        reason = reason.replace(f"{ours} ", f"{theirs} ")
    if reason.startswith("answer_stamp is missing"):
        reason = "answer_stamp is missing on an answered call"
    if change.get("billsec") == "0":
        change["cause"] = "NO_ANSWER"
    assert read_one("freeswitch-csv", freeswitch_line(**change)) == reason


@pytest.mark.parametrize("fmt", ["asterisk-csv", "freeswitch-csv"])
def test_an_unanswered_call_may_leave_its_answer_stamp_empty(fmt):
    if fmt == "asterisk-csv":
        line = asterisk_line(answer="", billsec="0", disposition="NO ANSWER")
    else:
        line = freeswitch_line(answer="", billsec="0", cause="NO_ANSWER")
    record = read_one(fmt, line)
    assert record.disposition == "no_answer" and record.billsec == 0
    assert record.started_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def test_a_call_across_the_end_of_summer_time_is_not_refused():
    # Lisbon's clocks go back from 02:00 to 01:00 on 27 October 2024: a call started at
    # 01:59:50 (the first pass) and answered at 01:00:05 (the second) is in order
    line = asterisk_line(
        start="2024-10-27 01:59:50",
        answer="2024-10-27 01:00:05",
        end="2024-10-27 01:01:05",
        duration="75",
        billsec="60",
    )
    record = read_one("asterisk-csv", line, "Europe/Lisbon")
    assert record.started_at == datetime(2024, 10, 27, 0, 59, 50, tzinfo=UTC)
    # while the same stamps in UTC are out of order
    assert read_one("asterisk-csv", line).startswith("answer 2024-10-27 01:00:05 is before")


_T0 = datetime(2024, 3, 1, 10, 0)


@hypothesis.settings(max_examples=200, deadline=None)
@given(
    answer=st.one_of(st.none(), st.integers(-100, 100)),
    end=st.integers(-100, 200),
    fmt=st.sampled_from(["asterisk-csv", "freeswitch-csv"]),
)
def test_a_row_is_read_only_when_its_stamps_are_in_order(answer, end, fmt):
    # given a call's answer and end as seconds after its start (no answer: unanswered)
    start = _T0.isoformat(" ")
    end_at = (_T0 + timedelta(seconds=end)).isoformat(" ")
    if answer is None:
        answer_at, billsec, state = "", "0", {"disposition": "NO ANSWER", "cause": "NO_ANSWER"}
    else:
        answer_at = (_T0 + timedelta(seconds=answer)).isoformat(" ")
        billsec, state = "1", {"disposition": "ANSWERED", "cause": "NORMAL_CLEARING"}
    kw = {"start": start, "answer": answer_at, "end": end_at, "duration": "300"}
    if fmt == "asterisk-csv":
        line = asterisk_line(**kw, billsec=billsec, disposition=state["disposition"])
    else:
        line = freeswitch_line(**kw, billsec=billsec, cause=state["cause"])
    item = read_one(fmt, line)
    # then it is a record exactly when start <= answer <= end (start <= end unanswered)
    in_order = (0 <= answer <= end) if answer is not None else end >= 0
    assert isinstance(item, cdr_formats.CallRecord) == in_order, item
    if in_order:
        assert item.started_at == _T0.replace(tzinfo=UTC)


# --- on the paths that ingest files ---------------------------------------------------------

DECK = [{"prefix": "44", "destination": "United Kingdom", "country": "GB", "rate": 10_000}]


async def world(sessions, *usernames: str):
    """A markup reseller on a deck with 44 at 0.0100/min (60/60), funded with 100; a
    permissive client with 10.00 and sub-accounts ``usernames`` (no package: sold at cost)."""
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "markup")
        await assign_deck(s, reseller, await make_deck(s, DECK))
        await fund_reseller(s, reseller, "100")
        client = await make_client(s, reseller, "prepaid_permissive")
        await payments.client_payment(s, SYSTEM, client.id, "10", f"pay-{client.id}")
        subs = [
            SubAccount(
                reseller_id=reseller.id,
                client_id=client.id,
                username=username,
                secret_encrypted="x",
            )
            for username in usernames
        ]
        s.add_all(subs)
        await s.flush()
    return client, {sub.username: sub.id for sub in subs}


async def imported(sessions, settings, tmp_path, fmt: str, lines: list[str]):
    """``dialtone calls import`` of ``lines`` (one line a batch), with its output."""
    path = tmp_path / "Master.csv"
    path.write_text("".join(lines))
    out, err = io.StringIO(), io.StringIO()
    await cmd_calls_import(settings, str(path), fmt, None, 1, out=out, err=err, workers=1)
    reported = [line.removeprefix(f"{path}:") for line in err.getvalue().splitlines()]
    async with sessions() as s:
        calls = {c.call_id: c for c in await s.scalars(select(Call))}
    return out.getvalue(), [line for line in reported if line[:1].isdigit()], calls


@pytest.mark.parametrize("fmt", ["asterisk-csv", "freeswitch-csv"])
async def test_a_corrupt_row_of_an_imported_file_is_refused_by_its_line(
    sessions, settings, tmp_path, fmt
):
    # given a file of four calls of one minute, two of them corrupt (an end that is not a date,
    # an answer before the start), and an unanswered call without an answer stamp
    client, _ = await world(sessions, "alice")
    line = asterisk_line if fmt == "asterisk-csv" else freeswitch_line
    ids = "uniqueid" if fmt == "asterisk-csv" else "uuid"
    unanswered = {"disposition": "NO ANSWER"} if fmt == "asterisk-csv" else {"cause": "NO_ANSWER"}
    answered = {"duration": "65", "billsec": "60", "end": "2024-03-01 10:01:05"}
    lines = [
        line(**{ids: "c-1"}, **answered),
        line(**{ids: "c-2"}, **{**answered, "end": "2024-03-01 10:0l:05"}),
        line(**{ids: "c-3"}, **answered, answer="2024-03-01 09:59:00"),
        line(**{ids: "c-4"}, **answered),
        line(**{ids: "c-5"}, **unanswered, answer="", billsec="0"),
    ]
    # when it is imported
    out, reported, stored = await imported(sessions, settings, tmp_path, fmt, lines)
    # then the corrupt rows are refused with their line numbers, and only the good calls cost
    end, answer, start = ("end", "answer", "start")
    if fmt == "freeswitch-csv":
        end, answer, start = ("end_stamp", "answer_stamp", "start_stamp")
    assert reported == [
        f"2: {end} is not a date and time: '2024-03-01 10:0l:05'",
        f"3: {answer} 2024-03-01 09:59:00 is before {start} 2024-03-01 10:00:00",
    ]
    assert "3 ingested, 0 duplicates, 2 rejected, of 5 rows" in out
    assert sorted(stored) == ["c-1", "c-4", "c-5"]
    async with sessions() as s:
        assert await client_balance(s, client) == 10_000_000 - 2 * 10_000
        await assert_ledger_consistent(s)


# --- whose call it is ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "username"),
    [
        ("SIP/alice-00000001", "alice"),
        ("SIP/perm-sip1-0000000d", "perm-sip1"),
        ("PJSIP/perm-sip1-00000002", "perm-sip1"),
        ("IAX2/perm-sip1-1234", "perm-sip1"),
        ("SIP/bob.smith-0000001a", "bob.smith"),
        ("PJSIP/office.desk-2-0000001f", "office.desk-2"),
        ("PJSIP/front-desk-cafe-000000ab", "front-desk-cafe"),
        ("IAX2/alice@pbx.example-4567", "alice"),
        ("SIP/alice", "alice"),
        (" SIP/alice-00000001 ", "alice"),
        ("DAHDI/1-1", None),
        ("Local/1001@from-internal-00000001;1", None),
        ("", None),
    ],
)
def test_a_channel_names_its_peer_without_the_unique_suffix(channel, username):
    assert cdr_formats.channel_username(channel) == username


@hypothesis.settings(max_examples=300, deadline=None)
@given(
    username=st.from_regex(callers.USERNAME_RE, fullmatch=True),
    tech=st.sampled_from(["SIP", "PJSIP", "IAX2"]),
    sequence=st.integers(0, 2**32 - 1),
)
def test_every_username_a_sub_account_may_have_is_read_back_from_its_channel(
    username, tech, sequence
):
    # the suffix Asterisk appends: eight hex digits (SIP, PJSIP), a call number (IAX2)
    suffix = f"{sequence:08x}" if tech != "IAX2" else str(sequence % 32768)
    assert cdr_formats.channel_username(f"{tech}/{username}-{suffix}") == username


async def test_asterisk_rows_are_billed_to_the_sub_account_their_account_code_or_channel_names(
    sessions, settings, tmp_path
):
    # given sub-accounts with a dash and a dot in their names
    _, subs = await world(sessions, "perm-sip1", "desk.two")
    lines = [
        asterisk_line(uniqueid="a-1", channel="SIP/perm-sip1-0000000d"),
        asterisk_line(uniqueid="a-2", channel="PJSIP/desk.two-00000002"),
        asterisk_line(uniqueid="a-3", channel="IAX2/perm-sip1-1234"),
        # an account code that names a sub-account wins over the channel
        asterisk_line(uniqueid="a-4", channel="SIP/perm-sip1-0000000e", accountcode="desk.two"),
        # one that names none (a cost centre) leaves the channel to say
        asterisk_line(uniqueid="a-5", channel="PJSIP/desk.two-00000003", accountcode="CC-17"),
        # and the dashed name's first part is nobody
        asterisk_line(uniqueid="a-6", channel="SIP/perm-0000000f", accountcode="CC-17"),
    ]
    # when the file is imported
    _, reported, stored = await imported(sessions, settings, tmp_path, "asterisk-csv", lines)
    # then each call is its sub-account's
    assert reported == ["6: unknown caller perm (accountcode CC-17)"]
    assert {call_id: c.sub_account_id for call_id, c in stored.items()} == {
        "a-1": subs["perm-sip1"],
        "a-2": subs["desk.two"],
        "a-3": subs["perm-sip1"],
        "a-4": subs["desk.two"],
        "a-5": subs["desk.two"],
    }


async def test_freeswitch_rows_take_the_account_code_else_the_caller_id_number(
    sessions, settings, tmp_path
):
    # given sub-accounts "perm-sip1" and "1001"
    _, subs = await world(sessions, "perm-sip1", "1001")
    lines = [
        freeswitch_line(uuid="f-1", accountcode="perm-sip1", number="1001"),
        freeswitch_line(uuid="f-2", accountcode="CC-17", number="1001"),
        freeswitch_line(uuid="f-3", accountcode="", number="1001"),
        freeswitch_line(uuid="f-4", accountcode="CC-17", number="2002"),
    ]
    _, reported, stored = await imported(sessions, settings, tmp_path, "freeswitch-csv", lines)
    assert reported == ["4: unknown caller 2002 (accountcode CC-17)"]
    assert {call_id: c.sub_account_id for call_id, c in stored.items()} == {
        "f-1": subs["perm-sip1"],
        "f-2": subs["1001"],
        "f-3": subs["1001"],
    }


async def test_an_imported_row_refused_for_its_caller_leaves_its_call_id_to_the_next(
    sessions, settings, tmp_path
):
    # given a Master.csv where a call's row names a channel of nobody, then the same call
    # from the right channel, then that row again
    client, subs = await world(sessions, "perm-sip1")
    lines = [
        asterisk_line(uniqueid="d-1", channel="SIP/perm-0000000d"),
        asterisk_line(uniqueid="d-1", channel="SIP/perm-sip1-0000000d"),
        asterisk_line(uniqueid="d-1", channel="SIP/perm-sip1-0000000d"),
    ]
    # when it is imported in one batch
    path = tmp_path / "Master.csv"
    path.write_text("".join(lines))
    out, err = io.StringIO(), io.StringIO()
    await cmd_calls_import(
        settings, str(path), "asterisk-csv", None, 100, out=out, err=err, workers=1
    )
    # then the call lands once, on the right sub-account, and only the third row is its
    # duplicate
    assert "1 ingested, 1 duplicates, 1 rejected, of 3 rows" in out.getvalue()
    assert f"{path}:1: unknown caller perm" in err.getvalue()
    assert f"{path}:3: duplicate call id d-1 (earlier in this batch)" in err.getvalue()
    async with sessions() as s:
        [call] = list(await s.scalars(select(Call)))
        assert call.sub_account_id == subs["perm-sip1"]
        assert await client_balance(s, client) == 10_000_000 - 10_000
