"""Every portal operation (the .graphql files beside the templates) validates against the
schema: a change of the schema that breaks a page fails here."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from api.schema import schema
from frontends.operations import OPERATIONS, load

DOCUMENTS = {op.path: op.source for op in OPERATIONS.values()}  # each file with what it shares


@pytest.mark.parametrize("path", sorted(DOCUMENTS), ids=[p.name for p in sorted(DOCUMENTS)])
def test_portal_operations_validate_against_the_schema(path):
    errors = validate(schema._schema, parse(DOCUMENTS[path]))
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


def test_a_shared_fragment_goes_with_each_document_that_spreads_it(tmp_path):
    # given a shared fragment that spreads another, and two pages, one using it
    (tmp_path / "_fragments.graphql").write_text(
        "fragment Who on Viewer { kind ...What }\nfragment What on Viewer { permissions }"
    )
    (tmp_path / "a.graphql").write_text("query A { viewer { ...Who } }")
    (tmp_path / "b.graphql").write_text("query B { viewer { kind } }")
    found = load(tmp_path)
    # then A's document holds both fragments and validates; B's holds none
    assert "fragment Who" in found["A"].source and "fragment What" in found["A"].source
    assert validate(schema._schema, parse(found["A"].source)) == []
    assert "fragment" not in found["B"].source
    # and a shared file holds fragments only
    (tmp_path / "_bad.graphql").write_text("query C { viewer { kind } }")
    with pytest.raises(ValueError, match="fragments only"):
        load(tmp_path)
