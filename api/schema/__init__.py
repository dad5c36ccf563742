"""The GraphQL schema. ``schema.graphql`` beside this file is its checked-in snapshot."""

from api.schema.schema import build_schema, schema

__all__ = ["build_schema", "schema"]
