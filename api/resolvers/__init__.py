"""Thin resolvers: check permission, parse input, call one domain function, map the result.

The schema package is loaded first: it imports every resolver module, which in turn use the
types it defines."""

import api.schema  # noqa: F401
