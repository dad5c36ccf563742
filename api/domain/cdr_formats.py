"""Readers of the CDR files switches write, turned into :class:`CallRecord` rows.

Each reader yields ``(line_number, CallRecord | str)``: a record, or the reason its line was
refused. Line numbers are 1-based lines of the file (a quoted field spanning lines counts from
the line it starts on).

Formats:

* ``asterisk-csv``: Asterisk ``cdr_csv`` ``Master.csv``, no header, in its fixed column order
  ``accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
  answer, end, duration, billsec, disposition, amaflags[, uniqueid[, userfield]]``. The caller's
  sub-account is the one ``accountcode`` names, else the peer name of the channel: the channel
  less its technology and its unique suffix after the last dash (``SIP/<username>-0000001a``,
  ``PJSIP/<username>-00000002``, ``IAX2/<username>-1234``; ``SIP/perm-sip1-0000000d`` is
  ``perm-sip1``); ``src`` is its A-number; ``uniqueid`` is the call id (required: enable
  ``loguniqueid`` in ``cdr.conf``). Dispositions ``ANSWERED``, ``NO ANSWER``, ``BUSY``,
  ``FAILED`` (``CONGESTION`` counts as failed).
* ``freeswitch-csv``: ``mod_cdr_csv`` with the default ``example`` template, every field quoted:
  ``caller_id_name, caller_id_number, destination_number, context, start_stamp, answer_stamp,
  end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec,
  write_codec``. The sub-account is the one ``accountcode`` names, else ``caller_id_number``
  (which is also tried as an A-number); ``uuid`` is the call id. A call with ``billsec > 0`` is
  answered; otherwise ``USER_BUSY`` is busy, the no-answer and cancel causes are no answer, and
  every other cause is a failure.
* ``generic-csv``: a header line naming the columns ``call_id, sub_account | a_number,
  destination, started_at, duration, billsec, disposition[, direction]`` in any order;
  ``started_at`` in ISO 8601 (a time without an offset is read in the given zone).

Both switches' rows are refused (with their line) unless each of their three stamps (start,
answer, end) is a date and time, in that order: an answer before the start, an end before the
answer, or an end before the start of an unanswered call is refused (a local time the clocks
went through twice counts as its second pass). Only a call that was not answered may leave its
answer stamp empty. In every format durations are whole seconds, not negative, at most a week,
and ``billsec`` is not longer than ``duration``.

Asterisk and FreeSWITCH write local wall-clock stamps without a zone: they are read as UTC unless
a time zone is given (``--timezone Europe/Lisbon``). Every stored time is UTC.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.domain.errors import invalid

FORMATS = ("asterisk-csv", "freeswitch-csv", "generic-csv")
DISPOSITIONS = ("answered", "no_answer", "busy", "failed")
DIRECTIONS = ("outbound", "inbound")
MAX_CALL_ID = 128
MAX_NUMBER = 40
MAX_SECONDS = 7 * 24 * 3600  # a week: anything longer is a broken record

ASTERISK_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)
FREESWITCH_COLUMNS = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)

_ASTERISK_DISPOSITIONS = {
    "ANSWERED": "answered",
    "NO ANSWER": "no_answer",
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "failed",
}
_FREESWITCH_NO_ANSWER = frozenset(
    {
        "NO_ANSWER",
        "NO_USER_RESPONSE",
        "ORIGINATOR_CANCEL",
        "NORMAL_CLEARING",  # hung up before an answer
        "ALLOTTED_TIMEOUT",
        "LOSE_RACE",
        "PICKED_OFF",
    }
)
# ``TECH/<peer>[@host][-<unique suffix>][;n]``: the peer is everything before the last dash
# followed by the channel's hex (or IAX2's decimal) sequence, so that a dashed or dotted
# username stays whole (``SIP/perm-sip1-0000000d`` -> ``perm-sip1``)
_CHANNEL = re.compile(r"^(?:SIP|PJSIP|IAX2)/([^/;@]+?)(?:@[^/;]*?)?(?:-[0-9A-Fa-f]+)?(?:;\d+)?$")


class CallRecord(NamedTuple):
    """One finished call as a switch reported it, before matching and rating (a named tuple:
    a file import makes millions of them)."""

    call_id: str
    destination: str
    started_at: datetime  # UTC
    duration: int
    billsec: int
    disposition: str  # answered | no_answer | busy | failed
    direction: str = "outbound"
    sub_account: str | None = None  # the SIP username, when known
    a_number: str = ""
    account_code: str | None = None  # the switch's account code: first tried as a username


Parsed = tuple[int, CallRecord | str]


class RecordError(ValueError):
    """Why one row cannot be read."""


def timezone_named(name: str | None) -> tzinfo:
    """The zone local stamps are read in (UTC by default); an unknown name is a user error."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("timezone", f"unknown time zone {name!r}") from None


# --- field readers ------------------------------------------------------------------------------
# Each takes what a file or a request gave (text, or already a number or a moment) and checks it;
# the common case (clean text) is tried first, since a file import reads millions of rows.


def _seconds(name: str, value: Any) -> int:
    if value.__class__ is str and value.isdecimal():
        seconds = int(value)
    elif isinstance(value, bool):
        raise RecordError(f"{name} must be a whole number of seconds")
    elif isinstance(value, int):
        seconds = value
    else:
        text = str(value if value is not None else "").strip()
        if not text.isdecimal():
            if text[:1] == "-" and text[1:].isdecimal():
                raise RecordError(f"{name} is negative: {text}")
            raise RecordError(f"{name} must be a whole number of seconds, not {text!r}")
        seconds = int(text)
    if seconds < 0:
        raise RecordError(f"{name} is negative: {seconds}")
    if seconds > MAX_SECONDS:
        raise RecordError(f"{name} must be at most {MAX_SECONDS} seconds")
    return seconds


_iso = datetime.fromisoformat


def _moment(name: str, value: Any) -> datetime:
    """A date and time as given, local (no offset) or not."""
    if value.__class__ is str:
        try:
            return _iso(value)  # the common case: clean text
        except ValueError:
            pass
    elif isinstance(value, datetime):
        return value
    text = str(value or "").strip()
    if not text:
        raise RecordError(f"{name} is missing")
    try:
        return datetime.fromisoformat(text)  # also reads a trailing Z as UTC
    except ValueError:
        raise RecordError(f"{name} is not a date and time: {text!r}") from None


def _utc(moment: datetime, zone: tzinfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _stamp(name: str, value: Any, zone: tzinfo) -> datetime:
    return _utc(_moment(name, value), zone)


def _before(later: datetime, earlier: datetime, zone: tzinfo) -> bool:
    """Whether ``later`` is before ``earlier``, both read in ``zone``. A local time the clocks
    went through twice (the hour repeated when summer time ends) counts as its second pass, so
    that a call across the change is not refused."""
    if later.tzinfo is None and earlier.tzinfo is None:
        if later >= earlier:  # the common case: plain wall-clock order
            return False
        later = later.replace(fold=1)
    return _utc(later, zone) < _utc(earlier, zone)


def _call_start(
    names: tuple[str, str, str], start: str, answer: str, end: str, answered: bool, zone: tzinfo
) -> datetime:
    """When (UTC) a call started, from the start, answer and end stamps a switch wrote (their
    column ``names``): each must be a date and time, in that order; only a call that was not
    ``answered`` may have an empty answer stamp."""
    began = _moment(names[0], start)
    ended = _moment(names[2], end)
    if answer and not answer.isspace():
        picked_up = _moment(names[1], answer)
        if (
            began.tzinfo is None
            and picked_up.tzinfo is None
            and ended.tzinfo is None
            and began <= picked_up <= ended
        ):
            pass  # the common case: local stamps in wall-clock order
        elif _before(picked_up, began, zone):
            raise RecordError(f"{names[1]} {answer.strip()} is before {names[0]} {start.strip()}")
        if _before(ended, picked_up, zone):
            raise RecordError(f"{names[2]} {end.strip()} is before {names[1]} {answer.strip()}")
    elif answered:
        raise RecordError(f"{names[1]} is missing on an answered call")
    elif _before(ended, began, zone):
        raise RecordError(f"{names[2]} {end.strip()} is before {names[0]} {start.strip()}")
    return _utc(began, zone)


def _text(name: str, value: Any, max_len: int, *, required: bool = False) -> str:
    text = value.strip() if value.__class__ is str else str(value or "").strip()
    if not text:
        if required:
            raise RecordError(f"{name} is missing")
        return text
    if len(text) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if not text.isprintable():
        raise RecordError(f"{name} contains control characters")
    return text


def _record(
    call_id: Any,
    destination: Any,
    started_at: datetime,
    duration: Any,
    billsec: Any,
    disposition: str,
    direction: str = "outbound",
    sub_account: Any = None,
    a_number: Any = "",
    account_code: str | None = None,
) -> CallRecord:
    duration_s = _seconds("duration", duration)
    billsec_s = _seconds("billsec", billsec)
    if billsec_s > duration_s:
        raise RecordError("billsec is longer than duration")
    if disposition != "answered":
        billsec_s = 0  # nothing is billed on a call that was not answered
    username = _text("sub_account", sub_account, 64) or None
    a_num = _text("a_number", a_number, MAX_NUMBER)
    if username is None and not a_num and account_code is None:
        raise RecordError("the caller is missing: give a sub_account or an a_number")
    return CallRecord(
        _text("call_id", call_id, MAX_CALL_ID, required=True),
        _text("destination", destination, MAX_NUMBER, required=True),
        started_at,
        duration_s,
        billsec_s,
        disposition,
        direction,
        username,
        a_num,
        account_code,
    )


# each disposition word as given, ours or Asterisk's, to ours (anything else is normalized first)
_DISPOSITION_WORDS = {**{d: d for d in DISPOSITIONS}, **_ASTERISK_DISPOSITIONS}


def disposition_named(value: Any) -> str:
    """Our disposition for ours or Asterisk's words (``answered``, ``NO ANSWER``, …)."""
    found = _DISPOSITION_WORDS.get(value) if value.__class__ is str else None
    if found is not None:
        return found
    text = str(value or "").strip()
    lowered = text.lower().replace(" ", "_")
    if lowered in DISPOSITIONS:
        return lowered
    found = _ASTERISK_DISPOSITIONS.get(text.upper())
    if found is None:
        raise RecordError(f"unknown disposition {text!r}")
    return found


def direction_named(value: Any) -> str:
    if value in DIRECTIONS:
        return value
    text = str(value or "outbound").strip().lower() or "outbound"
    if text not in DIRECTIONS:
        raise RecordError(f"direction must be outbound or inbound, not {text!r}")
    return text


def record_from_mapping(row: Mapping[str, Any], zone: tzinfo = UTC) -> CallRecord:
    """A record from named fields: the generic CSV, the JSON of ``/switch/cdrs``, GraphQL."""
    return _record(
        row.get("call_id"),
        row.get("destination"),
        _stamp("started_at", row.get("started_at"), zone),
        row.get("duration"),
        row.get("billsec", 0),
        disposition_named(row.get("disposition")),
        direction_named(row.get("direction")),
        row.get("sub_account"),
        row.get("a_number") or "",
    )


def channel_username(channel: str) -> str | None:
    """The peer name in an Asterisk channel, less the channel's unique suffix:
    ``PJSIP/alice-00000002`` -> ``alice``, ``SIP/perm-sip1-0000000d`` -> ``perm-sip1``,
    ``IAX2/bob.smith-1234`` -> ``bob.smith``; None for other technologies (``DAHDI/1-1``)."""
    match = _CHANNEL.match(channel.strip())
    return match.group(1) if match else None


def _account_code(value: str) -> str | None:
    """An account code that could name a sub-account (else None: the row is matched by its
    channel or number)."""
    code = value.strip()
    return code if code and len(code) <= 64 and code.isprintable() else None


_AST = {name: i for i, name in enumerate(ASTERISK_COLUMNS)}
_A_CODE, _A_SRC, _A_DST = _AST["accountcode"], _AST["src"], _AST["dst"]
_A_CHANNEL, _A_START = _AST["channel"], _AST["start"]
_A_ANSWER, _A_END = _AST["answer"], _AST["end"]
_A_DURATION, _A_BILLSEC, _A_DISPOSITION = _AST["duration"], _AST["billsec"], _AST["disposition"]
_A_UNIQUEID = _AST["uniqueid"]
_A_STAMPS = ("start", "answer", "end")


def asterisk_record(fields: list[str], zone: tzinfo = UTC) -> CallRecord:
    if len(fields) < 17:
        raise RecordError(
            f"expected at least 17 columns (…, amaflags, uniqueid), found {len(fields)}"
        )
    channel = fields[_A_CHANNEL]
    username = channel_username(channel)
    account_code = _account_code(fields[_A_CODE])
    if username is None and account_code is None and not fields[_A_SRC].strip():
        raise RecordError(f"no sub-account in channel {channel!r}, no accountcode and no src")
    disposition = disposition_named(fields[_A_DISPOSITION])
    started_at = _call_start(
        _A_STAMPS,
        fields[_A_START],
        fields[_A_ANSWER],
        fields[_A_END],
        disposition == "answered",
        zone,
    )
    return _record(
        fields[_A_UNIQUEID],
        fields[_A_DST],
        started_at,
        fields[_A_DURATION],
        fields[_A_BILLSEC],
        disposition,
        sub_account=username,
        a_number=fields[_A_SRC],
        account_code=account_code,
    )


_FS = {name: i for i, name in enumerate(FREESWITCH_COLUMNS)}
_F_NUMBER, _F_DESTINATION = _FS["caller_id_number"], _FS["destination_number"]
_F_START, _F_ANSWER, _F_END = _FS["start_stamp"], _FS["answer_stamp"], _FS["end_stamp"]
_F_STAMPS = ("start_stamp", "answer_stamp", "end_stamp")
_F_DURATION, _F_BILLSEC, _F_CAUSE = _FS["duration"], _FS["billsec"], _FS["hangup_cause"]
_F_UUID, _F_ACCOUNTCODE = _FS["uuid"], _FS["accountcode"]


def freeswitch_record(fields: list[str], zone: tzinfo = UTC) -> CallRecord:
    if len(fields) < 13:
        raise RecordError(f"expected 15 columns (the default template), found {len(fields)}")
    billsec = _seconds("billsec", fields[_F_BILLSEC])
    cause = fields[_F_CAUSE].strip().upper()
    if billsec > 0:
        disposition = "answered"
    elif cause == "USER_BUSY":
        disposition = "busy"
    elif cause in _FREESWITCH_NO_ANSWER:
        disposition = "no_answer"
    else:
        disposition = "failed"
    started_at = _call_start(
        _F_STAMPS, fields[_F_START], fields[_F_ANSWER], fields[_F_END], billsec > 0, zone
    )
    number = fields[_F_NUMBER]
    return _record(
        fields[_F_UUID],
        fields[_F_DESTINATION],
        started_at,
        fields[_F_DURATION],
        billsec,
        disposition,
        sub_account=number,
        a_number=number,
        account_code=_account_code(fields[_F_ACCOUNTCODE]),
    )


# --- file readers -------------------------------------------------------------------------------


def _csv_rows(reader: Any, line_offset: int = 0) -> Iterator[tuple[int, list[str] | str]]:
    """The rows of a ``csv.reader`` with the file line each starts on (a quoted field may span
    lines; ``line_offset``: the lines of the file before the reader's first); a line the csv
    module refuses is an error, a blank one is skipped."""
    while True:
        start = reader.line_num + 1 + line_offset
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, f"not valid CSV: {exc}"
            continue
        if fields and (fields[0].strip() or any(f.strip() for f in fields)):
            yield start, fields


def _read_rows(
    rows: Iterable[tuple[int, list[str] | str]], reader: Callable[[list[str]], CallRecord]
) -> Iterator[Parsed]:
    for line, fields in rows:
        if fields.__class__ is str:
            yield line, fields
            continue
        try:
            record = reader(fields)
        except RecordError as exc:
            yield line, str(exc)
            continue
        yield line, record


def _csv(lines: Iterable[str], line_offset: int = 0) -> Iterator[tuple[int, list[str] | str]]:
    return _csv_rows(csv.reader(lines, strict=True), line_offset)


def read_asterisk(
    lines: Iterable[str], zone: tzinfo = UTC, line_offset: int = 0
) -> Iterator[Parsed]:
    return _read_rows(_csv(lines, line_offset), lambda fields: asterisk_record(fields, zone))


def read_freeswitch(
    lines: Iterable[str], zone: tzinfo = UTC, line_offset: int = 0
) -> Iterator[Parsed]:
    return _read_rows(_csv(lines, line_offset), lambda fields: freeswitch_record(fields, zone))


GENERIC_REQUIRED = ("call_id", "destination", "started_at", "duration", "disposition")
GENERIC_OPTIONAL = ("billsec", "direction", "sub_account", "a_number")


def _generic_record(header: list[str], zone: tzinfo) -> Callable[[list[str]], CallRecord]:
    """The reader of one row under ``header`` (the fields of ``record_from_mapping``, taken by
    position: of a column named twice, the last)."""
    at = {name: i for i, name in enumerate(header)}
    call_id, destination, started_at, duration, disposition = (at[c] for c in GENERIC_REQUIRED)
    billsec, direction, sub_account, a_number = (at.get(c) for c in GENERIC_OPTIONAL)
    width = len(header)

    def reader(fields: list[str]) -> CallRecord:
        if len(fields) != width:
            raise RecordError(f"expected {width} columns as in the header, found {len(fields)}")
        return _record(
            fields[call_id],
            fields[destination],
            _stamp("started_at", fields[started_at], zone),
            fields[duration],
            0 if billsec is None else fields[billsec],
            disposition_named(fields[disposition]),
            "outbound" if direction is None else direction_named(fields[direction]),
            None if sub_account is None else fields[sub_account],
            "" if a_number is None else fields[a_number],
        )

    return reader


def read_generic(
    lines: Iterable[str], zone: tzinfo = UTC, line_offset: int = 0
) -> Iterator[Parsed]:
    rows = _csv(lines, line_offset)
    for line, fields in rows:
        if fields.__class__ is str:
            yield line, fields
            continue
        header = [f.strip().lower().lstrip("\ufeff") for f in fields]
        missing = [c for c in GENERIC_REQUIRED if c not in header]
        if "sub_account" not in header and "a_number" not in header:
            missing.append("sub_account or a_number")
        if missing:
            yield line, "the header lacks the column(s) " + ", ".join(missing)
            return
        yield from _read_rows(rows, _generic_record(header, zone))
        return


READERS = {
    "asterisk-csv": read_asterisk,
    "freeswitch-csv": read_freeswitch,
    "generic-csv": read_generic,
}


HAS_HEADER = {"generic-csv"}


def read(
    fmt: str, lines: Iterable[str], zone: tzinfo = UTC, header: str = "", line_offset: int = 0
) -> Iterator[Parsed]:
    """Records of a file in format ``fmt`` (one of :data:`FORMATS`); ``lines`` may be a part of
    the file after ``line_offset`` of its lines (:func:`parts`), with the file's ``header`` line
    given apart for a format that has one (:data:`HAS_HEADER`)."""
    if fmt not in READERS:
        raise invalid("format", f"the format must be one of {', '.join(FORMATS)}")
    if header:
        lines = itertools.chain((header,), lines)
        line_offset -= 1
    return READERS[fmt](lines, zone, line_offset)


def parts(lines: Iterable[str], size: int) -> Iterator[tuple[int, str]]:
    """A CSV file as parts of about ``size`` lines each, ``(lines before it, its text)``: a part
    ends only where the quotes so far are balanced, so that no record (a quoted field may span
    lines) is cut in two."""
    before = 0
    taken: list[str] = []
    quoted = False
    for line in lines:
        taken.append(line)
        if line.count('"') & 1:
            quoted = not quoted
        if not quoted and len(taken) >= size:
            yield before, "".join(taken)
            before += len(taken)
            taken = []
    if taken:
        yield before, "".join(taken)


def read_text(fmt: str, text: str, zone: tzinfo = UTC) -> list[Parsed]:
    return list(read(fmt, io.StringIO(text, newline=""), zone))
