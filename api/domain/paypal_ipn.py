"""PayPal Instant Payment Notification: the classic "PayPal integration" of a reseller.

The flow, for every message PayPal posts to ``/webhooks/paypal/ipn``:

1. :func:`receive` stores the exact bytes first (``PaypalIpnMessage.raw``) with the charset the
   body's own ``charset`` field names (PayPal's default is windows-1252), and the fields read
   from it. A sandbox message (``test_ipn=1``) is ``refused`` there unless
   ``DIALTONE_PAYPAL_SANDBOX`` is on. The endpoint then answers 200 at once.
2. :func:`verify_and_process` posts the same bytes back, prefixed with
   ``cmd=_notify-validate&``, to PayPal (the live endpoint, or the sandbox one for a sandbox
   message); PayPal answers ``VERIFIED`` or ``INVALID``. No database transaction is open while
   it waits. When the answer does not come (network error, HTTP 5xx, anything else), the
   message is set to ``retry`` with a backoff and :func:`retry_due` (run by ``dialtone
   worker``) tries again, up to ``DIALTONE_PAYPAL_IPN_MAX_ATTEMPTS`` times.
3. A verified message is processed once (its row is locked and its status checked first):

   * ``Completed`` credits the client named by the signed ``custom`` reference, once per
     ``txn_id``, if it was paid to the right receiver in the right currency;
   * ``Refunded`` / ``Reversed`` take money back from the payment ``parent_txn_id`` (never more
     than is left of it); ``Canceled_Reversal`` gives back what a reversal took. PayPal does
     not keep the order of its messages: one that comes before its payment is credited waits
     as ``pending``, and so does a canceled reversal before reversals took its amount; it is
     applied in the transaction that credits the payment (or records the reversal), and
     :func:`settle_waiting` (the worker) flags it once it has waited
     ``DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS``;
   * ``Pending`` waits (the ``Completed`` message of the same ``txn_id`` credits it later);
     other statuses change nothing (``ignored``).

   Anything that does not check out is ``flagged`` with a reason and credits nothing; a payment
   announced again is a ``duplicate``. All money moves through :mod:`api.domain.deposits`.

Whose message it is (``reseller_id``, what ``paypalIpnMessages`` shows a reseller): the
reseller of the client its signed ``custom`` names, else (no or a forged ``custom``) the
reseller whose PayPal receiver email was paid, set when it is stored; the operator's own email,
or one no single reseller has set, leaves it to the operator, who sees every message.

Who is paid (see the posting rules in ``api/domain/payments.py``): a markup reseller's clients pay
the reseller's own PayPal account (its brand's receiver email); a commission reseller's clients
pay the operator (the operator's default brand's receiver email), since the operator holds
their balances.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote_to_bytes

import httpx
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import money
from api.db import transaction
from api.domain import brands, deposits
from api.domain.actors import Actor
from api.domain.brands import PaypalSettings
from api.domain.errors import DomainError, not_found
from api.models import Brand, Client, PaypalIpnMessage, Reseller
from api.models.base import utcnow
from api.settings import Settings

DEFAULT_CHARSET = "windows-1252"
MAX_BODY_BYTES = 64 * 1024  # real messages are a few kilobytes
VERIFY_PREFIX = b"cmd=_notify-validate&"
STATUSES = (
    "received",
    "retry",
    "failed",
    "invalid",
    "refused",
    "flagged",
    "pending",
    "ignored",
    "credited",
    "debited",
    "reinstated",
    "duplicate",
)
WAITING = ("received", "retry")  # not verified yet
PAYMENTS = ("Completed", "Pending")  # a payment's own messages (its txn_id)
CORRECTIONS = ("Refunded", "Reversed", "Canceled_Reversal")  # they follow parent_txn_id
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 6 * 3600
STALE_RECEIVED = timedelta(minutes=5)  # a message the endpoint stored but never verified
RETRY_BATCH = 100
IPN_PATH = "/webhooks/paypal/ipn"


class VerificationUnavailable(Exception):
    """PayPal's answer to a postback did not come, or was not VERIFIED / INVALID."""


# --- the message's bytes --------------------------------------------------------------------------


def charset_of(raw: bytes) -> str:
    """The encoding the body's own ``charset`` field names (a known codec), else PayPal's
    default, windows-1252."""
    for name, value in _pairs(raw):
        if name == b"charset":
            try:
                return codecs.lookup(value.decode("ascii").strip()).name
            except (LookupError, UnicodeDecodeError):
                break
    return codecs.lookup(DEFAULT_CHARSET).name


def fields_of(raw: bytes, charset: str) -> dict[str, str]:
    """The message's fields, percent-decoded and read in ``charset`` (the first of a repeated
    name wins)."""
    out: dict[str, str] = {}
    for name, value in _pairs(raw):
        key = name.decode(charset, errors="replace")
        out.setdefault(key, value.decode(charset, errors="replace"))
    return out


def payer_name(fields: dict[str, str]) -> str:
    """Who paid, as PayPal names them: ``first_name last_name``, else the business name."""
    name = " ".join(fields.get(key, "").strip() for key in ("first_name", "last_name")).strip()
    return name or fields.get("payer_business_name", "").strip()


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(value: bytes) -> bytes:
    return unquote_to_bytes(value.replace(b"+", b" "))


# --- the signed client reference (``custom``) ----------------------------------------------------


def client_reference(secret_key: str, client_id: int) -> str:
    """``custom`` for a client's top-up form: its id and a keyed signature of it, so that a
    payer cannot credit someone else by editing the form."""
    return f"c{client_id}.{_signature(secret_key, client_id)}"


def read_client_reference(secret_key: str, custom: str) -> int | None:
    """The client id of a reference we signed, or None."""
    head, _, signature = custom.strip().partition(".")
    if not head.startswith("c") or not head[1:].isdigit() or len(head) > 20:
        return None
    client_id = int(head[1:])
    if not hmac.compare_digest(signature, _signature(secret_key, client_id)):
        return None
    return client_id


def _signature(secret_key: str, client_id: int) -> str:
    digest = hmac.new(
        secret_key.encode(), f"paypal-custom:client:{client_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


# --- who is paid ----------------------------------------------------------------------------------


async def payee(session: AsyncSession, reseller: Reseller) -> PaypalSettings | None:
    """Where this reseller's clients pay, and the amounts offered: the reseller's own PayPal
    settings (markup), or the operator's, in the reseller's currency (commission). None while
    the one paid has no PayPal receiver set."""
    if reseller.billing_model != "commission":
        return await brands.paypal_settings(session, reseller.id)
    operator = await brands.paypal_settings(session, None)
    if operator is None:
        return None
    return PaypalSettings(operator.receiver_email, reseller.currency, operator.amounts)


# --- 1. receive -----------------------------------------------------------------------------------


async def receive(
    session: AsyncSession, settings: Settings, raw: bytes, remote_addr: str = ""
) -> PaypalIpnMessage:
    """Store one message as it came, with the fields read from it."""
    charset = charset_of(raw)
    fields = fields_of(raw, charset)
    message = PaypalIpnMessage(
        raw=raw,
        charset=charset,
        remote_addr=remote_addr[:64],
        txn_id=fields.get("txn_id", "")[:128],
        parent_txn_id=fields.get("parent_txn_id", "")[:128],
        txn_type=fields.get("txn_type", "")[:64],
        payment_status=fields.get("payment_status", "")[:32],
        receiver_email=fields.get("receiver_email", "")[:320],
        payer_email=fields.get("payer_email", "")[:320],
        gross=fields.get("mc_gross", "")[:32],
        currency=fields.get("mc_currency", "")[:8],
        custom=fields.get("custom", "")[:256],
        test_ipn=fields.get("test_ipn", "").strip() == "1",
        reseller_id=await _receiver_reseller(session, fields.get("receiver_email", "")),
        status="received",
        reason="",
        attempts=0,
    )
    if message.test_ipn and not settings.paypal_sandbox:
        message.status = "refused"
        message.reason = "a sandbox message (test_ipn=1), and sandbox is off"
    session.add(message)
    await session.flush()
    return message


async def _receiver_reseller(session: AsyncSession, receiver_email: str) -> int | None:
    """The reseller whose PayPal receiver email (its brand's) was paid: whose message it is
    until a client reference we signed says otherwise. None for the operator's own email, and
    for an email no reseller, or more than one, has set."""
    email = receiver_email.strip().lower()
    if not email:
        return None
    owners = set(
        await session.scalars(
            select(Brand.reseller_id).where(func.lower(Brand.paypal_receiver_email) == email)
        )
    )
    return owners.pop() if len(owners) == 1 else None


# --- 2. verify ------------------------------------------------------------------------------------


def verify_url(settings: Settings, message: PaypalIpnMessage) -> str:
    return settings.paypal_sandbox_ipn_url if message.test_ipn else settings.paypal_ipn_url


async def verify(raw: bytes, url: str, timeout: float) -> bool:
    """Post the exact bytes back to PayPal: True for VERIFIED, False for INVALID."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.post(
                url,
                content=VERIFY_PREFIX + raw,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": "Dialtone-IPN-Verifier",
                },
            )
    except httpx.HTTPError as exc:
        raise VerificationUnavailable(f"PayPal could not be reached: {exc!r}"[:400]) from None
    if response.status_code != 200:
        raise VerificationUnavailable(f"PayPal answered HTTP {response.status_code}")
    answer = response.content.strip()
    if answer == b"VERIFIED":
        return True
    if answer == b"INVALID":
        return False
    raise VerificationUnavailable(f"PayPal answered {answer[:40]!r}")


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed verification: doubling from a minute, at
    most six hours."""
    return timedelta(seconds=min(RETRY_FIRST_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS))


async def verify_and_process(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    message_id: int,
    *,
    now: datetime | None = None,
) -> str:
    """Verify a waiting message with PayPal, then process it; returns its status after."""
    async with transaction(sessions) as session:
        message = await session.get(PaypalIpnMessage, message_id)
        if message is None or message.status not in WAITING:
            return message.status if message else "missing"
        raw, url = message.raw, verify_url(settings, message)
    try:
        verified: bool | None = await verify(raw, url, settings.paypal_ipn_timeout_seconds)
        problem = ""
    except VerificationUnavailable as exc:
        verified, problem = None, str(exc)
    async with transaction(sessions) as session:
        message = await session.get(PaypalIpnMessage, message_id, with_for_update=True)
        assert message is not None
        if message.status not in WAITING:  # another worker got there first
            return message.status
        now = now or utcnow()
        message.attempts += 1
        if verified is None:
            _postpone(message, settings, problem, now)
        elif not verified:
            _settle(message, "invalid", "PayPal did not confirm this message (INVALID)", now)
        else:
            message.verified_at = now
            await _process(session, settings, message, now)
            await _follow(session, settings, message, now)
        await session.flush()
        return message.status


async def _follow(
    session: AsyncSession, settings: Settings, message: PaypalIpnMessage, now: datetime
) -> None:
    """Apply, in this transaction, the corrections that waited for what ``message`` moved."""
    awaited = _awaited_by_corrections(message)
    if awaited:
        await session.flush()  # what they look for is this message's deposit
        await _process_waiting_corrections(session, settings, awaited, now)


def _awaited_by_corrections(message: PaypalIpnMessage) -> str:
    """The payment whose waiting corrections are to be looked at again now that this message
    moved money (or found it moved): its own for a payment, its parent's for a reversal (a
    canceled reversal waits for it); empty otherwise."""
    if message.deposit_id is None:
        return ""
    if message.payment_status in PAYMENTS:
        return message.txn_id
    if message.payment_status == "Reversed":
        return message.parent_txn_id
    return ""


def _postpone(message: PaypalIpnMessage, settings: Settings, problem: str, now: datetime) -> None:
    if message.attempts >= settings.paypal_ipn_max_attempts:
        _settle(message, "failed", f"gave up after {message.attempts} attempts: {problem}", now)
        return
    message.status = "retry"
    message.reason = problem[:500]
    message.next_attempt_at = now + retry_delay(message.attempts)


def _settle(message: PaypalIpnMessage, status: str, reason: str, now: datetime) -> None:
    message.status = status
    message.reason = reason[:500]
    message.next_attempt_at = None
    message.processed_at = now


def due_query(now: datetime) -> Select:
    """Messages the worker should verify now: due retries, and ones the endpoint stored but
    did not get to (the process stopped)."""
    return (
        select(PaypalIpnMessage.id)
        .where(
            or_(
                (PaypalIpnMessage.status == "retry") & (PaypalIpnMessage.next_attempt_at <= now),
                (PaypalIpnMessage.status == "received")
                & (PaypalIpnMessage.received_at <= now - STALE_RECEIVED),
            )
        )
        .order_by(PaypalIpnMessage.id)
        .limit(RETRY_BATCH)
    )


async def retry_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """The worker's job: verify and process every due message, then settle the corrections
    that wait (:func:`settle_waiting`); returns how many it tried or settled."""
    async with sessions() as session:
        ids = list(await session.scalars(due_query(now)))
    for message_id in ids:
        await verify_and_process(sessions, settings, message_id, now=now)
    return len(ids) + await settle_waiting(sessions, settings, now)


async def settle_waiting(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Corrections still ``pending``, oldest first: each is processed again (what it waits for
    may have been recorded since), and one that still waits after
    ``DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS`` from its arrival is flagged. Returns how many
    stopped waiting."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(PaypalIpnMessage.id, PaypalIpnMessage.custom)
                .where(
                    PaypalIpnMessage.status == "pending",
                    PaypalIpnMessage.payment_status.in_(CORRECTIONS),
                )
                .order_by(PaypalIpnMessage.received_at, PaypalIpnMessage.id)
                .limit(RETRY_BATCH)
            )
        ).all()
    settled = 0
    for message_id, custom in rows:
        async with transaction(sessions) as session:
            named = read_client_reference(settings.secret_key, custom)
            if named is not None:  # the client first, as a payment's credit locks them
                await _lock_client(session, named)
            message = await session.get(
                PaypalIpnMessage, message_id, with_for_update=True, populate_existing=True
            )
            assert message is not None
            if message.status != "pending":
                continue
            await _process(session, settings, message, now)
            await _follow(session, settings, message, now)
            waited = settings.paypal_correction_wait
            if message.status == "pending" and message.received_at <= now - waited:
                days = settings.paypal_correction_wait_days
                _settle(message, "flagged", f"still {message.reason} after {days} days", now)
            settled += message.status != "pending"
    return settled


# --- 3. process -----------------------------------------------------------------------------------


class Flag(Exception):
    """A verified message that does not check out: flagged with this reason."""


async def _process(
    session: AsyncSession, settings: Settings, message: PaypalIpnMessage, now: datetime
) -> None:
    status = message.payment_status
    try:
        if status == "Completed":
            outcome = await _completed(session, settings, message)
        elif status in CORRECTIONS:
            outcome = await _correction(session, settings, message)
        elif status == "Pending":
            why = fields_of(message.raw, message.charset).get("pending_reason") or "unknown"
            outcome = ("pending", f"PayPal holds the payment ({why}); its Completed credits it")
        else:
            outcome = ("ignored", f"payment status {status or '(none)'!r} moves no money")
    except Flag as exc:
        outcome = ("flagged", str(exc))
    _settle(message, *outcome, now)


async def _completed(
    session: AsyncSession, settings: Settings, message: PaypalIpnMessage
) -> tuple[str, str]:
    client_id = read_client_reference(settings.secret_key, message.custom)
    if client_id is None:
        raise Flag("the client reference (custom) is missing or not signed by us")
    client = await _lock_client(session, client_id)
    if client is None:
        raise Flag("the client of the reference no longer exists")
    reseller = await _attribute(session, message, client.id, client.reseller_id)
    await _check_payee(session, reseller, message)
    return await _move(
        session,
        message,
        deposits.credit,
        "credited",
        client_id=client.id,
        reseller_id=reseller.id,
    )


async def _correction(
    session: AsyncSession, settings: Settings, message: PaypalIpnMessage
) -> tuple[str, str]:
    if not message.parent_txn_id:
        raise Flag(f"a {message.payment_status} message without parent_txn_id")
    named = read_client_reference(settings.secret_key, message.custom)
    if named is not None:
        # PayPal repeats the payment's custom on its corrections. Locking that client first
        # waits for a credit of the payment in progress (it holds the same lock), so that
        # what follows sees it, and a credit after this sees this one waiting.
        client = await _lock_client(session, named)
        if client is not None:  # its reseller sees it while it waits
            message.client_id, message.reseller_id = client.id, client.reseller_id
    parent = message.parent_txn_id
    amount = abs(_amount(message))
    original = await deposits.find(session, deposits.PAYPAL, parent)
    if original is None:
        return "pending", f"waiting for the payment {parent} to be credited"
    if original.kind != "credit":
        raise Flag(f"{parent} is not a payment")
    if original.client_id is not None:
        await _lock_client(session, original.client_id)
    reseller = await _attribute(session, message, original.client_id, original.reseller_id)
    await _check_payee(session, reseller, message)
    if message.payment_status != "Canceled_Reversal":
        return await _move(
            session,
            message,
            deposits.debit,
            "debited",
            original_external_id=parent,
            reason="refund" if message.payment_status == "Refunded" else "reversal",
        )
    if await deposits.find(
        session, deposits.PAYPAL, message.txn_id
    ) is None and amount > await deposits.reversed_of(session, original):
        return (
            "pending",
            f"waiting for a reversal of the payment {parent} of at least"
            f" {money.format_amount(amount)}",
        )
    return await _move(
        session, message, deposits.reinstate, "reinstated", original_external_id=parent
    )


async def _process_waiting_corrections(
    session: AsyncSession, settings: Settings, txn_id: str, now: datetime
) -> None:
    """Corrections of the payment ``txn_id`` that waited (``pending``) for it or for one of its
    reversals: processed again now, in the transaction that recorded what they waited for;
    refunds and reversals first, in the order they came, then canceled reversals. Each is
    then done with, or still waits for another message."""
    waiting = await session.scalars(
        select(PaypalIpnMessage)
        .where(
            PaypalIpnMessage.parent_txn_id == txn_id,
            PaypalIpnMessage.status == "pending",
            PaypalIpnMessage.payment_status.in_(CORRECTIONS),
        )
        .order_by(
            case((PaypalIpnMessage.payment_status == "Canceled_Reversal", 1), else_=0),
            PaypalIpnMessage.id,
        )
        .with_for_update()
    )
    for message in list(waiting):
        await _process(session, settings, message, now)
        await session.flush()  # the next may wait for this one


async def _lock_client(session: AsyncSession, client_id: int) -> Client | None:
    """The client row, locked (PostgreSQL) before anything that refers to it is written: the
    message's and the deposit's foreign keys share-lock it, and a share lock taken before the
    update lock would deadlock two deliveries of one payment."""
    return await session.get(Client, client_id, with_for_update=True)


async def _attribute(
    session: AsyncSession, message: PaypalIpnMessage, client_id: int | None, reseller_id: int
) -> Reseller:
    """Say whose message it is (its reseller then sees it); returns that reseller."""
    message.client_id, message.reseller_id = client_id, reseller_id
    reseller = await session.get(Reseller, reseller_id)
    assert reseller is not None
    return reseller


async def _check_payee(session: AsyncSession, reseller: Reseller, message: PaypalIpnMessage):
    expected = await payee(session, reseller)
    if expected is None:
        raise Flag("PayPal is not set up for this reseller (no receiver email)")
    if message.receiver_email.strip().lower() != expected.receiver_email.strip().lower():
        raise Flag(f"paid to {message.receiver_email!r}, not to {expected.receiver_email!r}")
    if message.currency != expected.currency:
        raise Flag(f"paid in {message.currency!r}, not in {expected.currency}")


async def _move(
    session: AsyncSession, message: PaypalIpnMessage, movement, done: str, **kw
) -> tuple[str, str]:
    """One deposit movement for the message's txn_id and amount, in a savepoint: refused, it
    leaves nothing behind and the message is flagged with the reason."""
    if not message.txn_id:
        raise Flag("a message without txn_id")
    signed = _amount(message)
    if movement is deposits.credit and signed < 0:
        raise Flag(f"a payment of a negative amount (mc_gross {message.gross!r})")
    amount = abs(signed)  # refunds and reversals are told as negative amounts
    try:
        async with session.begin_nested():
            result = await movement(
                session,
                source=deposits.PAYPAL,
                external_id=message.txn_id,
                amount=amount,
                currency=message.currency,
                memo=f"PayPal {message.payment_status} {message.txn_id}",
                raw_id=message.id,
                **kw,
            )
    except DomainError as exc:
        raise Flag(exc.message) from None
    message.deposit_id = result.deposit.id
    if result.replayed:
        return "duplicate", f"already recorded (deposit {result.deposit.id})"
    return done, ""


def _amount(message: PaypalIpnMessage) -> int:
    """The message's signed amount (``mc_gross``) in micros."""
    try:
        amount = money.parse(message.gross)
    except money.MoneyError:
        raise Flag(f"mc_gross {message.gross!r} is not an amount") from None
    if not amount:
        raise Flag("an amount of zero")
    return amount


# --- reading ------------------------------------------------------------------------------------


def messages_query(
    actor: Actor, *, status: str | None = None, client_id: int | None = None
) -> Select:
    """IPN messages the actor may read: all (operator), its own (reseller), none (others)."""
    stmt = select(PaypalIpnMessage)
    if not actor.is_authenticated or actor.client_id is not None or not actor.can("clients:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(PaypalIpnMessage.reseller_id == actor.reseller_id)
    if status is not None:
        stmt = stmt.where(PaypalIpnMessage.status == status)
    if client_id is not None:
        stmt = stmt.where(PaypalIpnMessage.client_id == client_id)
    return stmt


async def get_message(session: AsyncSession, actor: Actor, message_id: int) -> PaypalIpnMessage:
    message = await session.scalar(messages_query(actor).where(PaypalIpnMessage.id == message_id))
    if message is None:
        raise not_found("PayPal IPN message")
    return message


# --- the client's top-up form ---------------------------------------------------------------------

# the client portal's page that shows how a top-up went (frontends/client/topup.py)
PORTAL_RETURN_PATH = "/topup/return"


@dataclass(frozen=True)
class TopUpForm:
    """What a client portal needs to render the form that posts to PayPal."""

    action_url: str
    receiver_email: str
    currency: str
    amounts: tuple[int, ...]  # micros
    custom: str
    notify_url: str
    return_url: str
    cancel_url: str
    item_name: str

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The form's fields by PayPal's names ("Buy Now" button variables), all but
        ``amount``, which the client picks from ``amounts``."""
        return [
            ("cmd", "_xclick"),
            ("business", self.receiver_email),
            ("currency_code", self.currency),
            ("item_name", self.item_name),
            ("custom", self.custom),
            ("notify_url", self.notify_url),
            ("return", self.return_url),
            ("cancel_return", self.cancel_url),
            ("rm", "1"),  # back to the return page by GET (the result is read from us)
            ("no_shipping", "1"),
            ("charset", "utf-8"),
        ]


async def top_up_form(session: AsyncSession, settings: Settings, actor: Actor) -> TopUpForm | None:
    """The viewing client's top-up form, or None (not a client, or PayPal not set up)."""
    if actor.client_id is None:
        return None
    client = await session.get(Client, actor.client_id)
    if client is None or client.deleted_at is not None:
        return None
    reseller = await session.get(Reseller, client.reseller_id)
    assert reseller is not None
    paid_to = await payee(session, reseller)
    if paid_to is None or paid_to.currency != reseller.currency:
        return None
    base = await brands.reseller_base_url(session, reseller.id, settings=settings)
    return TopUpForm(
        action_url=settings.paypal_sandbox_form_url
        if settings.paypal_sandbox
        else settings.paypal_form_url,
        receiver_email=paid_to.receiver_email,
        currency=reseller.currency,
        amounts=tuple(units * money.MICROS for units in paid_to.amounts),
        custom=client_reference(settings.secret_key, client.id),
        notify_url=base + IPN_PATH,
        return_url=base + PORTAL_RETURN_PATH + "?via=paypal",
        cancel_url=base + PORTAL_RETURN_PATH + "?topup=canceled",
        item_name="Balance top-up",
    )
