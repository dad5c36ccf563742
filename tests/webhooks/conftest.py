"""Fixtures of the webhook tests: a real local HTTP server playing PayPal."""

from __future__ import annotations

import pytest

from tests.webhooks import paypal_server


@pytest.fixture
def paypal():
    """A fake PayPal on a free loopback port (``tests.webhooks.paypal_server``)."""
    yield from paypal_server.running()
