"""The tenancy walk's registry: each module here lists operations aimed at Acme's objects.

A module defines ``QUERIES`` and ``MUTATIONS`` (root field name -> GraphQL document using the
variables ``$c $c2 $r $e $t`` of the foundation, or its own), optionally ``OWN_TENANT_OK``
(mutations that may succeed on the caller's own tenant) and ``async def prepare(sessions,
world) -> (variables, markers)`` that creates Acme objects of its area and returns their
global ids and the strings only they contain, and ``SNAPSHOT_MODELS``: its models with a
``reseller_id`` column, whose Acme rows must not change."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
    ]


def merged(name: str) -> dict:
    out: dict = {}
    for module in modules():
        part = getattr(module, name, {})
        clash = set(out) & set(part)
        assert not clash, f"{module.__name__} lists {clash} again"
        out.update(part)
    return out
