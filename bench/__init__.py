"""Benchmarks: each prints its figures and a ratio to a baseline measured in the same run.

``python -m bench NAME`` runs one, ``python -m bench all`` runs them all. They use a fresh
SQLite file, or PostgreSQL when DIALTONE_BENCH_DATABASE_URL is set (its public schema is
dropped and recreated). Not part of the test suite's pass/fail."""
