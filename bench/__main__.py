"""Entry point: ``python -m bench NAME|all``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench import authorize, financials, ingest, ledger, portal, rating, recurring, reports

BENCHMARKS = {
    "ledger": ledger.run,
    "rating": rating.run,
    "authorize": authorize.run,
    "ingest": ingest.run,
    "reports": reports.run,
    "recurring": recurring.run,
    "financials": financials.run,
    "portal": portal.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        print(asyncio.run(BENCHMARKS[name]()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
