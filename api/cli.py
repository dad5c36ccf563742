"""The ``dialtone`` command: serve, migrate, demo, create-operator, worker, rates, calls, dids.

Settings come from ``DIALTONE_*`` environment variables (``api.settings``). Errors a user can
cause (a duplicate email, a short password) print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.cli_calls import DEFAULT_BATCH, WORKERS
from api.db import create_engine, session_factory, transaction
from api.settings import Settings

EXIT_USER_ERROR = 2
PASSWORD_ENV = "DIALTONE_OPERATOR_PASSWORD"


class CommandError(Exception):
    """A user's mistake on the command line: printed as one line, exit status 2."""


# --- helpers ---------------------------------------------------------------------------------


async def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Any]
) -> Any:
    engine = create_engine(settings.database_url, echo=settings.echo_sql)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


def progress_printer(
    stream: TextIO | None = None, width: int = 20
) -> Callable[[int, int, str], None]:
    """A progress callback drawing ``[#####.....] 12/24 creating clients`` on ``stream``
    (stderr by default): redrawn in place on a terminal, one line per step otherwise."""
    out = stream if stream is not None else sys.stderr
    tty = out.isatty()
    shown = [0]

    def show(done: int, total: int, label: str) -> None:
        filled = width * done // total if total else width
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}"
        if tty:
            out.write("\r" + line.ljust(shown[0]) + ("\n" if done >= total else ""))
            shown[0] = len(line)
        else:
            out.write(line + "\n")
        out.flush()

    return show


def open_import(path: str) -> tuple[TextIO, int]:
    """A file to import, open (UTF-8, a BOM skipped), and its number of lines: a file that
    cannot be read, or is not UTF-8 text, is the user's error."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 (the caller's)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        lines = sum(1 for _ in handle)
        handle.seek(0)
    except UnicodeDecodeError:
        handle.close()
        raise CommandError(f"cannot read {path}: not UTF-8 text") from None
    return handle, lines


def _schema_missing(exc: Exception) -> bool:
    message = str(exc).lower()
    return "no such table" in message or "does not exist" in message


# --- commands ----------------------------------------------------------------------------------


def cmd_serve(settings: Settings, host: str | None, port: int | None, workers: int = 1) -> int:
    import uvicorn

    if workers < 1:
        raise CommandError("--workers must be at least 1")
    uvicorn.run(
        "api.app:create_served_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        access_log=settings.access_log,
        # the peer address stays the real one: X-Forwarded-* headers are believed only from
        # DIALTONE_TRUSTED_PROXIES, by the code that reads them (branding/hosts.py)
        proxy_headers=False,
    )
    return 0


async def _current_revision(settings: Settings) -> str | None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except (OperationalError, ProgrammingError):
        return None  # no alembic_version table yet: an empty database
    finally:
        await engine.dispose()


def cmd_migrate(settings: Settings, out: TextIO) -> int:
    from alembic.script import ScriptDirectory

    from api.db import alembic_config, migrate

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    before = asyncio.run(_current_revision(settings))
    migrate(settings.database_url)
    after = asyncio.run(_current_revision(settings))
    where = _display_url(settings.database_url)
    if before == after:
        print(f"{where}: already up to date (revision {after}, head {head})", file=out)
    else:
        print(f"{where}: migrated from {before or 'an empty database'} to {after}", file=out)
    return 0


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def cmd_demo(settings: Settings, *, if_empty: bool, out: TextIO, err: TextIO) -> int:
    from api.domain import demo

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        try:
            populated = await demo.has_users(sessions)
        except (OperationalError, ProgrammingError) as exc:
            if _schema_missing(exc):
                raise CommandError(
                    "the database has no tables yet: run `dialtone migrate`"
                ) from None
            raise
        if if_empty and populated:
            print("demo: the database already has users; nothing seeded", file=out)
            if await demo.is_seeded(sessions):
                print(_logins_table(demo.DEMO_LOGINS), file=out)
            return 0
        result = await demo.seed(sessions, progress=progress_printer(err), settings=settings)
        print(
            f"demo: seeded {len(result.reseller_ids)} resellers, {len(result.client_ids)} clients, "
            f"{result.entries} ledger entries",
            file=out,
        )
        print(_logins_table(demo.DEMO_LOGINS), file=out)
        return 0

    return await _with_sessions(settings, work)


def _logins_table(logins: Sequence[tuple[str, str, str]]) -> str:
    rows = [("email", "role", "password"), *logins]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["Demo logins:"]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def _read_password(given: str | None) -> str:
    if given:
        return given
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise CommandError(f"give --password, set {PASSWORD_ENV}, or run in a terminal")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password (again): ")
    if first != second:
        raise CommandError("the passwords do not match")
    return first


async def cmd_create_operator(settings: Settings, email: str, password: str, out: TextIO) -> int:
    from api.domain import auth
    from api.domain.actors import SYSTEM

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        try:
            async with transaction(sessions) as session:
                user = await auth.create_user(
                    session, SYSTEM, email=email, password=password, role="operator"
                )
        except (OperationalError, ProgrammingError) as exc:
            if _schema_missing(exc):
                raise CommandError(
                    "the database has no tables yet: run `dialtone migrate`"
                ) from None
            raise
        print(f"created operator {user.email} (user id {user.id})", file=out)
        return 0

    return await _with_sessions(settings, work)


async def cmd_rates_import(
    settings: Settings,
    path: str,
    deck_name: str,
    currency: str | None,
    *,
    out: TextIO,
    err: TextIO,
) -> int:
    """Import a rate deck CSV (``api.domain.rates``), creating the deck when it is new. Bad
    rows are printed as ``FILE:LINE: reason``; exit 0 when rows landed, 1 when none did, 2 when
    the file cannot be read."""
    from sqlalchemy import select

    from api.domain import rates
    from api.domain.actors import SYSTEM
    from api.models import RateDeck

    handle, lines = open_import(path)
    total = max(lines - 1, 0)  # data lines, for the progress bar
    with handle:
        show = progress_printer(err)

        async def work(sessions: async_sessionmaker[AsyncSession]):
            async with transaction(sessions) as session:
                deck = await session.scalar(select(RateDeck).where(RateDeck.name == deck_name))
                created = deck is None
                if deck is None:
                    deck = await rates.create_deck(session, SYSTEM, deck_name, currency or "USD")
                elif currency and currency.strip().upper() != deck.currency:
                    raise CommandError(f"deck {deck_name!r} is in {deck.currency}, not {currency}")
                result = await rates.import_rates(
                    session,
                    SYSTEM,
                    deck.id,
                    handle,
                    progress=lambda done: show(min(done, total), total, "rows"),
                )
                return deck, created, result

        try:
            deck, created, result = await _with_sessions(settings, work)
        except UnicodeDecodeError:
            raise CommandError(f"cannot read {path}: not UTF-8 text") from None
    for error in result.errors:
        print(f"{path}:{error.line}: {error.message}", file=err)
    print(
        f"rates import: {result.imported} rows imported, {result.rejected} rejected into deck "
        f"{deck.name!r} ({deck.currency}{', new' if created else ''}, version {deck.version})",
        file=out,
    )
    return 0 if result.imported else 1


async def cmd_dids_import(
    settings: Settings, path: str, currency: str, *, out: TextIO, err: TextIO
) -> int:
    """Import numbers into the DID inventory (``api.domain.numbers``). Bad rows are printed as
    ``FILE:LINE: reason``; exit 0 when rows landed, 1 when none did, 2 when the file cannot be
    read."""
    from api.domain import numbers
    from api.domain.actors import SYSTEM

    handle, lines = open_import(path)
    total = max(lines - 1, 0)  # data lines, for the progress bar
    with handle:
        show = progress_printer(err)

        async def work(sessions: async_sessionmaker[AsyncSession]):
            async with transaction(sessions) as session:
                return await numbers.import_numbers(
                    session,
                    SYSTEM,
                    handle,
                    currency=currency,
                    progress=lambda done: show(min(done, total), total, "rows"),
                )

        try:
            result = await _with_sessions(settings, work)
        except UnicodeDecodeError:
            raise CommandError(f"cannot read {path}: not UTF-8 text") from None
        except (OperationalError, ProgrammingError) as exc:
            if _schema_missing(exc):
                raise CommandError(
                    "the database has no tables yet: run `dialtone migrate`"
                ) from None
            raise
    for error in result.errors:
        print(f"{path}:{error.line}: {error.message}", file=err)
    print(
        f"dids import: {result.imported} numbers imported, {result.rejected} rejected",
        file=out,
    )
    return 0 if result.imported else 1


async def cmd_worker(settings: Settings, *, once: bool, out: TextIO) -> int:
    """Run the worker's jobs (``api.worker``): one round with ``once``, else until stopped.
    Rounds that did something print one line: ``worker: paypal-ipn=2``."""
    import logging

    from api import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def report(done: dict[str, int]) -> None:
        print("worker: " + " ".join(f"{name}={count}" for name, count in done.items()), file=out)
        out.flush()

    if await _current_revision(settings) is None:
        raise CommandError("the database has no tables yet: run `dialtone migrate`")

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        if once:
            done = await worker.run_once(sessions, settings)
            report(done)
            return 1 if any(count < 0 for count in done.values()) else 0
        print(
            f"worker: running {', '.join(job.name for job in worker.JOBS)} every "
            f"{settings.worker_interval_seconds} s (Ctrl-C stops)",
            file=out,
        )
        out.flush()
        await worker.run_forever(sessions, settings, report=report)
        return 0

    return await _with_sessions(settings, work)


# --- entry point -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialtone",
        description="Dialtone, the white-label VoIP reseller billing platform.",
        epilog="Settings come from DIALTONE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the API server (uvicorn)")
    serve.add_argument("--host", help="address to bind (default: DIALTONE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: DIALTONE_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (default 1; one per core is a good start)",
    )

    sub.add_parser("migrate", help="create or upgrade the database tables (Alembic)")

    demo = sub.add_parser("demo", help="seed demo resellers, clients and payments")
    demo.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database already has users"
    )

    operator = sub.add_parser("create-operator", help="create an operator (platform staff) login")
    operator.add_argument("email")
    operator.add_argument(
        "--password",
        help=f"the password (default: ${PASSWORD_ENV}, else asked for twice)",
    )
    rates_cmd = sub.add_parser("rates", help="rate decks")
    rates_sub = rates_cmd.add_subparsers(dest="rates_command", required=True, metavar="ACTION")
    rates_import = rates_sub.add_parser(
        "import",
        help="import a rate deck CSV (prefix,destination,country,rate,connection_fee,"
        "first_increment,increment,effective_from)",
    )
    rates_import.add_argument("file", help="the CSV file (header row first)")
    rates_import.add_argument("--deck", required=True, help="the deck's name (created if new)")
    rates_import.add_argument("--currency", help="a new deck's currency (default USD)")

    dids_cmd = sub.add_parser("dids", help="the DID (phone number) inventory")
    dids_sub = dids_cmd.add_subparsers(dest="dids_command", required=True, metavar="ACTION")
    dids_import = dids_sub.add_parser(
        "import",
        help="import numbers into the inventory from CSV (number,country,city,monthly_cost,"
        "setup_cost,per_minute,currency)",
    )
    dids_import.add_argument("file", help="the CSV file (header row first)")
    dids_import.add_argument(
        "--currency", default="USD", help="the currency of rows that name none (default USD)"
    )

    worker_cmd = sub.add_parser(
        "worker", help="run background jobs (PayPal IPN verification retries, ...)"
    )
    worker_cmd.add_argument("--once", action="store_true", help="run one round and exit")

    calls_cmd = sub.add_parser("calls", help="calls (CDRs)")
    calls_sub = calls_cmd.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    calls_import = calls_sub.add_parser(
        "import", help="import a CDR file: rate, store and post its calls"
    )
    calls_import.add_argument("file", help="the CDR file (Master.csv, FreeSWITCH or generic CSV)")
    calls_import.add_argument(
        "--format",
        required=True,
        choices=["asterisk-csv", "freeswitch-csv", "generic-csv"],
        help="the file's format",
    )
    calls_import.add_argument(
        "--timezone", help="the zone of the switch's local time stamps (default UTC)"
    )
    calls_import.add_argument(
        "--home-country",
        help="the country the switch dials from (ISO code, e.g. GB): how national numbers "
        "and its exit code are read (default: each caller's reseller's home country)",
    )
    calls_import.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"lines per transaction (default {DEFAULT_BATCH})",
    )
    calls_import.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help=f"processes ingesting at once on PostgreSQL (default {WORKERS})",
    )
    return parser


def _format_domain_error(exc: Exception) -> str:
    from api.domain.errors import DomainError, DomainErrors

    errors = exc.errors if isinstance(exc, DomainErrors) else [exc]
    parts = []
    for error in errors:
        if isinstance(error, DomainError) and error.field:
            parts.append(f"{error.field}: {error.message}")
        else:
            parts.append(str(getattr(error, "message", error)))
    return "; ".join(parts)


def run(argv: Sequence[str] | None = None) -> int:
    from api.domain.errors import DomainError, DomainErrors

    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "serve":
            return cmd_serve(settings, args.host, args.port, args.workers)
        if args.command == "migrate":
            return cmd_migrate(settings, out)
        if args.command == "demo":
            return asyncio.run(cmd_demo(settings, if_empty=args.if_empty, out=out, err=err))
        if args.command == "create-operator":
            from api.domain import validation

            validation.email("email", args.email, required=True)  # before asking for a password
            password = _read_password(args.password)
            return asyncio.run(cmd_create_operator(settings, args.email, password, out))
        if args.command == "worker":
            return asyncio.run(cmd_worker(settings, once=args.once, out=out))
        if args.command == "calls" and args.calls_command == "import":
            from api.cli_calls import cmd_calls_import

            return asyncio.run(
                cmd_calls_import(
                    settings,
                    args.file,
                    args.format,
                    args.timezone,
                    args.batch,
                    out=out,
                    err=err,
                    workers=args.workers,
                    home_country=args.home_country,
                )
            )
        if args.command == "dids" and args.dids_command == "import":
            return asyncio.run(
                cmd_dids_import(settings, args.file, args.currency, out=out, err=err)
            )
        if args.command == "rates" and args.rates_command == "import":
            return asyncio.run(
                cmd_rates_import(settings, args.file, args.deck, args.currency, out=out, err=err)
            )
    except (DomainError, DomainErrors) as exc:
        print(f"dialtone {args.command}: {_format_domain_error(exc)}", file=err)
        return EXIT_USER_ERROR
    except CommandError as exc:
        print(f"dialtone {args.command}: {exc}", file=err)
        return EXIT_USER_ERROR
    except (OperationalError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        where = _display_url(settings.database_url)
        print(f"dialtone {args.command}: cannot use the database {where}: {reason}", file=err)
        return 1
    except KeyboardInterrupt:
        print(f"dialtone {args.command}: interrupted", file=err)
        return 130
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":  # pragma: no cover
    main()
