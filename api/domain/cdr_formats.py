"""Readers of the CDR files switches write, turned into :class:`CallRecord` rows.

Each reader yields ``(line_number, CallRecord | str)``: a record, or the reason its line was
refused. Line numbers are 1-based lines of the file (a quoted field spanning lines counts from
the line it starts on).

Formats:

* ``asterisk-csv``: Asterisk ``cdr_csv`` ``Master.csv``, no header, in its fixed column order
  ``accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
  answer, end, duration, billsec, disposition, amaflags[, uniqueid[, userfield]]``. The caller's
  sub-account is the peer name of the channel (``SIP/<username>-0000001a``,
  ``PJSIP/<username>-00000002``, ``IAX2/<username>-1234``); ``src`` is its A-number; ``uniqueid``
  is the call id (required: enable ``loguniqueid`` in ``cdr.conf``). Dispositions ``ANSWERED``,
  ``NO ANSWER``, ``BUSY``, ``FAILED`` (``CONGESTION`` counts as failed).
* ``freeswitch-csv``: ``mod_cdr_csv`` with the default ``example`` template, every field quoted:
  ``caller_id_name, caller_id_number, destination_number, context, start_stamp, answer_stamp,
  end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec,
  write_codec``. The sub-account is ``accountcode`` when set, else ``caller_id_number`` (which is
  also tried as an A-number); ``uuid`` is the call id. A call with ``billsec > 0`` is answered;
  otherwise ``USER_BUSY`` is busy, the no-answer and cancel causes are no answer, and every other
  cause is a failure.
* ``generic-csv``: a header line naming the columns ``call_id, sub_account | a_number,
  destination, started_at, duration, billsec, disposition[, direction]`` in any order;
  ``started_at`` in ISO 8601 (a time without an offset is read in the given zone).

Asterisk and FreeSWITCH write local wall-clock stamps without a zone: they are read as UTC unless
a time zone is given (``--timezone Europe/Lisbon``). Every stored time is UTC.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
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
_CHANNEL = re.compile(r"^(?:SIP|PJSIP|IAX2)/([^-/@;]+)")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished call as a switch reported it, before matching and rating."""

    call_id: str
    destination: str
    started_at: datetime  # UTC
    duration: int
    billsec: int
    disposition: str  # answered | no_answer | busy | failed
    direction: str = "outbound"
    sub_account: str | None = None  # the SIP username, when known
    a_number: str = ""


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


def _seconds(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise RecordError(f"{name} must be a whole number of seconds")
    if isinstance(value, int):
        seconds = value
    else:
        text = str(value if value is not None else "").strip()
        if not text.isdigit():
            raise RecordError(f"{name} must be a whole number of seconds, not {text!r}")
        seconds = int(text)
    if seconds < 0 or seconds > MAX_SECONDS:
        raise RecordError(f"{name} must be between 0 and {MAX_SECONDS} seconds")
    return seconds


def _stamp(name: str, value: Any, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            raise RecordError(f"{name} is missing")
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RecordError(f"{name} is not a date and time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _text(name: str, value: Any, max_len: int, *, required: bool = False) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise RecordError(f"{name} is missing")
    if len(text) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if text and not text.isprintable():
        raise RecordError(f"{name} contains control characters")
    return text


def _record(
    *,
    call_id: Any,
    destination: Any,
    started_at: datetime,
    duration: Any,
    billsec: Any,
    disposition: str,
    direction: str = "outbound",
    sub_account: Any = None,
    a_number: Any = "",
) -> CallRecord:
    duration_s = _seconds("duration", duration)
    billsec_s = _seconds("billsec", billsec)
    if billsec_s > duration_s:
        raise RecordError("billsec is longer than duration")
    if disposition != "answered":
        billsec_s = 0  # nothing is billed on a call that was not answered
    username = _text("sub_account", sub_account, 64) or None
    a_num = _text("a_number", a_number, MAX_NUMBER)
    if username is None and not a_num:
        raise RecordError("the caller is missing: give a sub_account or an a_number")
    return CallRecord(
        call_id=_text("call_id", call_id, MAX_CALL_ID, required=True),
        destination=_text("destination", destination, MAX_NUMBER, required=True),
        started_at=started_at,
        duration=duration_s,
        billsec=billsec_s,
        disposition=disposition,
        direction=direction,
        sub_account=username,
        a_number=a_num,
    )


def disposition_named(value: Any) -> str:
    """Our disposition for ours or Asterisk's words (``answered``, ``NO ANSWER``, …)."""
    text = str(value or "").strip()
    lowered = text.lower().replace(" ", "_")
    if lowered in DISPOSITIONS:
        return lowered
    found = _ASTERISK_DISPOSITIONS.get(text.upper())
    if found is None:
        raise RecordError(f"unknown disposition {text!r}")
    return found


def direction_named(value: Any) -> str:
    text = str(value or "outbound").strip().lower() or "outbound"
    if text not in DIRECTIONS:
        raise RecordError(f"direction must be outbound or inbound, not {text!r}")
    return text


def record_from_mapping(row: Mapping[str, Any], zone: tzinfo = UTC) -> CallRecord:
    """A record from named fields: the generic CSV, the JSON of ``/switch/cdrs``, GraphQL."""
    return _record(
        call_id=row.get("call_id"),
        destination=row.get("destination"),
        started_at=_stamp("started_at", row.get("started_at"), zone),
        duration=row.get("duration"),
        billsec=row.get("billsec", 0),
        disposition=disposition_named(row.get("disposition")),
        direction=direction_named(row.get("direction")),
        sub_account=row.get("sub_account"),
        a_number=row.get("a_number") or "",
    )


def channel_username(channel: str) -> str | None:
    """The peer name in an Asterisk channel: ``PJSIP/alice-00000002`` -> ``alice``."""
    match = _CHANNEL.match(channel.strip())
    return match.group(1) if match else None


def asterisk_record(fields: list[str], zone: tzinfo = UTC) -> CallRecord:
    if len(fields) < 17:
        raise RecordError(
            f"expected at least 17 columns (…, amaflags, uniqueid), found {len(fields)}"
        )
    row = dict(zip(ASTERISK_COLUMNS, fields, strict=False))
    username = channel_username(row["channel"])
    if username is None and not row["src"].strip():
        raise RecordError(f"no sub-account in channel {row['channel']!r} and no src")
    return _record(
        call_id=row["uniqueid"],
        destination=row["dst"],
        started_at=_stamp("start", row["start"], zone),
        duration=row["duration"],
        billsec=row["billsec"],
        disposition=disposition_named(row["disposition"]),
        sub_account=username,
        a_number=row["src"],
    )


def freeswitch_record(fields: list[str], zone: tzinfo = UTC) -> CallRecord:
    if len(fields) < 13:
        raise RecordError(f"expected 15 columns (the default template), found {len(fields)}")
    row = dict(zip(FREESWITCH_COLUMNS, fields, strict=False))
    billsec = _seconds("billsec", row["billsec"])
    cause = row["hangup_cause"].strip().upper()
    if billsec > 0:
        disposition = "answered"
    elif cause == "USER_BUSY":
        disposition = "busy"
    elif cause in _FREESWITCH_NO_ANSWER:
        disposition = "no_answer"
    else:
        disposition = "failed"
    return _record(
        call_id=row["uuid"],
        destination=row["destination_number"],
        started_at=_stamp("start_stamp", row["start_stamp"], zone),
        duration=row["duration"],
        billsec=billsec,
        disposition=disposition,
        sub_account=row["accountcode"].strip() or row["caller_id_number"],
        a_number=row["caller_id_number"],
    )


# --- file readers -------------------------------------------------------------------------------


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str] | str]]:
    """CSV rows with the file line each starts on; a line the csv module refuses is an error."""
    numbered = _Numbered(lines)
    reader = csv.reader(numbered, strict=True)
    while True:
        start = numbered.line + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, f"not valid CSV: {exc}"
            continue
        if not fields or all(not f.strip() for f in fields):
            continue
        yield start, fields


class _Numbered:
    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self.line = 0

    def __iter__(self) -> _Numbered:
        return self

    def __next__(self) -> str:
        value = next(self._lines)
        self.line += 1
        return value


def _read_fixed(lines: Iterable[str], reader, zone: tzinfo) -> Iterator[Parsed]:
    for line, fields in _csv_rows(lines):
        if isinstance(fields, str):
            yield line, fields
            continue
        try:
            yield line, reader(fields, zone)
        except RecordError as exc:
            yield line, str(exc)


def read_asterisk(lines: Iterable[str], zone: tzinfo = UTC) -> Iterator[Parsed]:
    return _read_fixed(lines, asterisk_record, zone)


def read_freeswitch(lines: Iterable[str], zone: tzinfo = UTC) -> Iterator[Parsed]:
    return _read_fixed(lines, freeswitch_record, zone)


GENERIC_REQUIRED = ("call_id", "destination", "started_at", "duration", "disposition")


def read_generic(lines: Iterable[str], zone: tzinfo = UTC) -> Iterator[Parsed]:
    rows = _csv_rows(lines)
    header: list[str] | None = None
    for line, fields in rows:
        if isinstance(fields, str):
            yield line, fields
            continue
        if header is None:
            header = [f.strip().lower().lstrip("\ufeff") for f in fields]
            missing = [c for c in GENERIC_REQUIRED if c not in header]
            if "sub_account" not in header and "a_number" not in header:
                missing.append("sub_account or a_number")
            if missing:
                yield line, "the header lacks the column(s) " + ", ".join(missing)
                return
            continue
        if len(fields) != len(header):
            yield line, f"expected {len(header)} columns as in the header, found {len(fields)}"
            continue
        try:
            yield line, record_from_mapping(dict(zip(header, fields, strict=True)), zone)
        except RecordError as exc:
            yield line, str(exc)


READERS = {
    "asterisk-csv": read_asterisk,
    "freeswitch-csv": read_freeswitch,
    "generic-csv": read_generic,
}


def read(fmt: str, lines: Iterable[str], zone: tzinfo = UTC) -> Iterator[Parsed]:
    """Records of a file in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in READERS:
        raise invalid("format", f"the format must be one of {', '.join(FORMATS)}")
    return READERS[fmt](lines, zone)


def read_text(fmt: str, text: str, zone: tzinfo = UTC) -> list[Parsed]:
    return list(read(fmt, io.StringIO(text, newline=""), zone))
