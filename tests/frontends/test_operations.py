"""Every portal operation (the .graphql files beside the templates) validates against the
schema: a change of the schema that breaks a page fails here."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from api.schema import schema
from frontends.operations import OPERATIONS, load

FILES = sorted({op.path for op in OPERATIONS.values()})


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_portal_operations_validate_against_the_schema(path):
    errors = validate(schema._schema, parse(path.read_text(encoding="utf-8")))
    assert errors == [], [e.message for e in errors]


def test_the_pages_operations_are_found_by_name():
    assert {"PortalLogin", "PortalLogout", "PortalViewer", "ClientHome", "ClientBalance"} <= set(
        OPERATIONS
    )


def test_an_operation_without_a_name_or_named_twice_is_refused(tmp_path):
    (tmp_path / "a.graphql").write_text("query { viewer { kind } }")
    with pytest.raises(ValueError, match="needs a name"):
        load(tmp_path)
    (tmp_path / "a.graphql").write_text("query Same { viewer { kind } }")
    (tmp_path / "b.graphql").write_text("query Same { viewer { kind } }")
    with pytest.raises(ValueError, match="Same"):
        load(tmp_path)
