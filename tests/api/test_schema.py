"""The schema snapshot is current, and every type, field and argument says what it is."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from api.schema import schema

SNAPSHOT = Path(__file__).resolve().parents[2] / "api" / "schema" / "schema.graphql"


def test_snapshot_is_current():
    # given the checked-in snapshot, when the schema is printed, then they are the same
    # (regenerate with `make schema`)
    assert SNAPSHOT.read_text().strip() == schema.as_str().strip()


def test_every_type_field_and_argument_has_a_description():
    missing = []
    for name, gtype in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float"}:
            continue
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gtype.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gtype, GraphQLEnumType):
            continue
    assert missing == []
