"""Thin resolvers: check permission, parse input, call one domain function, map the result."""
