"""``dialtone worker``: work that runs on its own, outside requests.

The worker is a list of jobs (:data:`JOBS`). Each round runs every job once with the same
"now"; a job does what is due at that time and says how much it did. A job that fails is
logged and the others still run; the next round tries it again. Any number of workers may run
at once: jobs claim their work with row locks and status checks.

Jobs today: ``paypal-ipn`` verifies and processes PayPal IPN messages whose verification could
not complete, and settles the refunds and reversals that wait for their payment (flagged after
``DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS``) (``api.domain.paypal_ipn.retry_due``);
``paypal-checkout`` does the same for PayPal webhook events whose signing certificate could not
be fetched, or that refund a capture not credited yet (``api.domain.paypal_checkout.retry_due``);
``hostnames-dns`` checks the DNS of pending custom hostnames, each at most every ten minutes
(``api.domain.brands.recheck_due``);
``email`` sends the email outbox over SMTP (``api.domain.mailer.send_due``); ``webhooks``
POSTs outbound events to resellers' endpoints (``webhooks.outbound.deliver_due``);
``recurring-fees`` charges the monthly fees of sub-accounts' packages and of numbers whose next
billing date has come, every due period once, in chunks claimed with ``FOR UPDATE SKIP LOCKED``
(``api.domain.fees.run_due``); ``invoices-monthly`` drafts postpaid clients' monthly
invoices (``api.domain.invoices.draft_monthly``); ``invoices-overdue`` flags invoices past due
and blocks clients by their payment terms (``api.domain.invoices.mark_overdue``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.domain import brands, fees, invoices, mailer, paypal_checkout, paypal_ipn
from api.models.base import utcnow
from api.settings import Settings
from webhooks import outbound

log = logging.getLogger("dialtone.worker")

JobRun = Callable[[async_sessionmaker[AsyncSession], Settings, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobRun  # (sessions, settings, now) -> how many things it did
    description: str = ""


JOBS: tuple[Job, ...] = (
    Job(
        "paypal-ipn",
        paypal_ipn.retry_due,
        "verify PayPal IPN messages again whose verification could not complete; settle the"
        " corrections that wait for their payment",
    ),
    Job(
        "paypal-checkout",
        paypal_checkout.retry_due,
        "process PayPal webhook events again whose certificate was not fetched; settle the"
        " refunds and reversals that wait for their capture",
    ),
    Job(
        "hostnames-dns",
        brands.recheck_due,
        "activate pending custom hostnames whose DNS A records name the platform",
    ),
    Job(
        "recurring-fees",
        fees.run_due,
        "charge the monthly fees (packages, numbers) whose next billing date has come",
    ),
    Job(
        "invoices-monthly",
        invoices.draft_monthly,
        "draft the monthly invoices of postpaid clients not invoiced up to this month",
    ),
    Job(
        "invoices-overdue",
        invoices.mark_overdue,
        "flag invoices past their due date (invoice.overdue) and block clients per their terms",
    ),
    Job("email", mailer.send_due, "send the email outbox over SMTP, retrying failures"),
    Job(
        "webhooks",
        outbound.deliver_due,
        "deliver outbound events to resellers' webhook endpoints, retrying failures",
    ),
)


async def run_once(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
    jobs: tuple[Job, ...] = JOBS,
) -> dict[str, int]:
    """One round of every job; returns what each did (-1: it failed, and was logged)."""
    now = now or utcnow()
    done: dict[str, int] = {}
    for job in jobs:
        try:
            done[job.name] = await job.run(sessions, settings, now)
        except Exception:
            log.exception("worker job %s failed", job.name)
            done[job.name] = -1
    return done


async def run_forever(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    report: Callable[[dict[str, int]], None] | None = None,
) -> None:
    """Rounds every ``DIALTONE_WORKER_INTERVAL_SECONDS`` until ``stop`` is set; a round that
    did something is followed by another at once."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        done = await run_once(sessions, settings)
        if report is not None and any(done.values()):
            report(done)
        if any(count > 0 for count in done.values()):
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.worker_interval_seconds)
