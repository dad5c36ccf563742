"""The alerts: what the platform tells clients, resellers and their integrators by itself.

Each is an event published through :func:`api.domain.notifications.publish` (webhooks of the
reseller's endpoints that chose it, and emails), in the transaction of the change:

* ``client.low_balance`` / ``reseller.low_balance`` — a balance crossed from at or above its
  ``low_balance_threshold`` to below it: once, until the balance is back at or above the
  threshold. The row's ``low_balance_alerted`` flag holds "below since the last crossing"; it
  is flipped by a conditional ``UPDATE … WHERE low_balance_alerted = <old>`` whose row count
  says which of two concurrent transactions crossed, so the alert goes exactly once. A
  threshold of 0 means no alert. Changing the threshold, or creating the row, sets the flag
  to where the balance stands, without an alert (nothing crossed).
  The check is a comparison on the row in memory; only a crossing costs statements.
  Clients: :func:`client_balance_changed`, from ``accounts.apply_balance_status`` (every
  posting that moves a client's balance, call batches included). Resellers:
  :func:`reseller_balance_changed`, from ``payments.post_movement`` (every movement of a
  reseller's balance) and from call ingestion (``calls.ingest``, after a batch's postings).
* ``client.suspended`` — a client became suspended: by the status rule, or by hand.
* ``client.blocked`` — a client became blocked: a postpaid client at its credit limit (the
  status rule, which also drafts its invoice), an invoice overdue past the client's terms
  (``invoices.mark_overdue``), or by hand; with its reason and credit limit.
* ``payment.received`` — a payment landed: a PayPal deposit (``deposits.credit``), a manual
  client payment, or an operator deposit to a reseller's balance.

Emails go to the client's contact email (else its portal logins) and to the reseller's active
owners; the reseller's own alerts to its owners only. A client's email speaks the client's
language (its own, else its reseller's brand's default: ``notifications.client_language``),
through the portal's gettext catalogues, with its amounts written by Babel; the reseller's
copies are in English (a reseller user has no language yet).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from api import money
from api.domain import notifications
from api.domain.notifications import Email, global_id
from api.i18n import N_, DocumentFormat, translations
from api.models import Client, Reseller


def _money(micros: int, currency: str) -> dict[str, str]:
    return {"amount": str(money.to_decimal(micros)), "currency": currency}


def _shown(micros: int, currency: str) -> str:
    return f"{money.format_amount(micros)} {currency}"


# the reasons the platform itself gives a status (``accounts.AUTO_SUSPEND_REASON``,
# ``accounts.AUTO_BLOCK_REASON``, ``settlement.OVERDUE_BLOCK_REASON``), translated in a client's
# email; a reason a person typed is shown as typed
SYSTEM_REASONS = (N_("balance exhausted"), N_("credit limit reached"), N_("invoice overdue"))


class _Speech:
    """How a client's email speaks: its language's gettext and Babel formats."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.gettext = translations(lang).gettext
        self.fmt = DocumentFormat(lang)

    def __call__(self, message: str, **values: Any) -> str:
        text = self.gettext(message)
        return text % values if values else text

    def money(self, micros: int, currency: str) -> str:
        return self.fmt.money(micros, currency)

    def reason(self, reason: str) -> str:
        if not reason:
            return self.gettext("no reason given")
        return self.gettext(reason) if reason in SYSTEM_REASONS else reason


async def speech(session: AsyncSession, client: Client) -> _Speech:
    """The language of ``client``'s emails."""
    return _Speech(await notifications.client_language(session, client))


def is_below(threshold: int, balance: int) -> bool:
    return bool(threshold) and balance < threshold


def crosses(row: Client | Reseller, balance: int) -> bool:
    """Whether a balance of ``balance`` would alert: below the threshold, not alerted yet."""
    return is_below(row.low_balance_threshold, balance) and not row.low_balance_alerted


async def _cross(session: AsyncSession, row: Client | Reseller, balance: int) -> bool:
    """Whether this change took ``row``'s balance below its threshold (True once per
    crossing); re-arms the flag when the balance is back at or above it."""
    below = is_below(row.low_balance_threshold, balance)
    if below == row.low_balance_alerted:
        return False
    model = type(row)
    result = await session.execute(
        update(model)
        .where(model.id == row.id, model.low_balance_alerted == (not below))
        .values(low_balance_alerted=below)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(row, "low_balance_alerted", below)
    return below and result.rowcount == 1


def reset_flag(row: Client | Reseller, balance: int) -> None:
    """A new threshold (or a new row): the flag follows the balance, no alert."""
    row.low_balance_alerted = is_below(row.low_balance_threshold, balance)


async def _client_and_reseller_mail(
    session: AsyncSession,
    client: Client,
    *,
    client_subject: str,
    client_text: str,
    reseller_subject: str,
    reseller_text: str,
) -> list[Email]:
    emails = [
        Email(to=to, subject=client_subject, text=client_text)
        for to in await notifications.client_emails(session, client)
    ]
    emails += [
        Email(to=to, subject=reseller_subject, text=reseller_text)
        for to in await notifications.reseller_emails(session, client.reseller_id)
    ]
    return emails


def _client_data(client: Client) -> dict[str, Any]:
    return {"clientId": global_id("Client", client.id), "clientName": client.name}


async def client_balance_changed(
    session: AsyncSession, client: Client, balance: int, currency: str | None = None
) -> None:
    """A client's balance is now ``balance``: the low-balance alert if it crossed."""
    if not await _cross(session, client, balance):
        return
    currency = currency or await _currency(session, client.reseller_id)
    shown, limit = _shown(balance, currency), _shown(client.low_balance_threshold, currency)
    _ = await speech(session, client)
    emails = await _client_and_reseller_mail(
        session,
        client,
        client_subject=_("Your balance is low"),
        client_text=(
            _("Hello %(name)s,", name=client.name)
            + "\n\n"
            + _(
                "Your balance is now %(balance)s, below %(threshold)s.",
                balance=_.money(balance, currency),
                threshold=_.money(client.low_balance_threshold, currency),
            )
            + "\n"
            + _("Top up to keep your service running.")
            + "\n"
        ),
        reseller_subject=f"Low balance: {client.name}",
        reseller_text=f"The balance of your client {client.name} is now {shown}, below {limit}.\n",
    )
    await notifications.publish(
        session,
        reseller_id=client.reseller_id,
        type="client.low_balance",
        client_id=client.id,
        data={
            **_client_data(client),
            "balance": _money(balance, currency),
            "threshold": _money(client.low_balance_threshold, currency),
        },
        emails=emails,
    )


async def reseller_balance_changed(session: AsyncSession, reseller: Reseller, balance: int) -> None:
    """A reseller's balance is now ``balance``: the low-balance alert if it crossed."""
    if not await _cross(session, reseller, balance):
        return
    shown = _shown(balance, reseller.currency)
    limit = _shown(reseller.low_balance_threshold, reseller.currency)
    emails = [
        Email(
            to=to,
            subject="Your balance is low",
            text=(
                f"Hello {reseller.name},\n\nyour balance with the platform is now {shown}, "
                f"below {limit}.\nTop up so that your clients' calls keep going through.\n"
            ),
            from_name=await notifications.sender_name(session, None),
        )
        for to in await notifications.reseller_emails(session, reseller.id)
    ]
    await notifications.publish(
        session,
        reseller_id=reseller.id,
        type="reseller.low_balance",
        data={
            "resellerId": global_id("Reseller", reseller.id),
            "balance": _money(balance, reseller.currency),
            "threshold": _money(reseller.low_balance_threshold, reseller.currency),
        },
        emails=emails,
    )


async def client_suspended(session: AsyncSession, client: Client) -> None:
    """A client has just become suspended."""
    _ = await speech(session, client)
    await _status_alert(
        session,
        client,
        "client.suspended",
        "suspended",
        {},
        subject=_("Your service is suspended"),
        said=_("Your service is suspended (%(reason)s).", reason=_.reason(client.status_reason)),
        after=_("Calls are refused until it is active again."),
    )


async def client_blocked(session: AsyncSession, client: Client) -> None:
    """A client has just become blocked: at its credit limit, for an overdue invoice, or by
    hand."""
    currency = await _currency(session, client.reseller_id)
    _ = await speech(session, client)
    await _status_alert(
        session,
        client,
        "client.blocked",
        "blocked",
        {"creditLimit": _money(client.credit_limit, currency)},
        subject=_("Your service is blocked"),
        said=_("Your service is blocked (%(reason)s).", reason=_.reason(client.status_reason)),
        after=_("Calls are refused until it is active again."),
    )


async def _status_alert(
    session: AsyncSession,
    client: Client,
    type: str,
    word: str,
    data: dict[str, Any],
    *,
    subject: str,
    said: str,
    after: str,
) -> None:
    """The alert of a client's new status (``word``): its event and the emails (the client's:
    ``subject``, ``said`` and ``after`` in its language)."""
    reason = client.status_reason or "no reason given"
    _ = await speech(session, client)
    emails = await _client_and_reseller_mail(
        session,
        client,
        client_subject=subject,
        client_text=_("Hello %(name)s,", name=client.name) + f"\n\n{said}\n{after}\n",
        reseller_subject=f"Client {word}: {client.name}",
        reseller_text=f"Your client {client.name} is {word} ({reason}).\n",
    )
    await notifications.publish(
        session,
        reseller_id=client.reseller_id,
        type=type,
        client_id=client.id,
        data={**_client_data(client), "reason": client.status_reason, **data},
        emails=emails,
    )


async def payment_received(
    session: AsyncSession,
    *,
    reseller: Reseller,
    client: Client | None,
    amount: int,
    source: str,
    entry_id: int,
) -> None:
    """A payment landed: a client's (``client``) or the reseller's own (``client`` None)."""
    shown = _shown(amount, reseller.currency)
    data: dict[str, Any] = {
        "amount": _money(amount, reseller.currency),
        "source": source,
        "ledgerEntryId": global_id("LedgerEntry", entry_id),
    }
    if client is None:
        data["resellerId"] = global_id("Reseller", reseller.id)
        emails = [
            Email(
                to=to,
                subject=f"Payment received: {shown}",
                text=f"Hello {reseller.name},\n\n{shown} was added to your balance.\n",
                from_name=await notifications.sender_name(session, None),
            )
            for to in await notifications.reseller_emails(session, reseller.id)
        ]
    else:
        data.update(_client_data(client))
        _ = await speech(session, client)
        paid = _.money(amount, reseller.currency)
        emails = await _client_and_reseller_mail(
            session,
            client,
            client_subject=_("Payment received: %(amount)s", amount=paid),
            client_text=(
                _("Hello %(name)s,", name=client.name)
                + "\n\n"
                + _("Thank you: %(amount)s was added to your balance.", amount=paid)
                + "\n"
            ),
            reseller_subject=f"Payment received from {client.name}: {shown}",
            reseller_text=f"Your client {client.name} paid {shown} ({source}).\n",
        )
    await notifications.publish(
        session,
        reseller_id=reseller.id,
        type="payment.received",
        client_id=client.id if client else None,
        data=data,
        emails=emails,
    )


async def _currency(session: AsyncSession, reseller_id: int) -> str:
    reseller = await session.get(Reseller, reseller_id)
    assert reseller is not None
    return reseller.currency
