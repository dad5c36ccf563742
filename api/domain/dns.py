"""Looking up a hostname's IPv4 addresses (its A records), behind an interface so that the
hostname check can be given another resolver (tests give a fixed table)."""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol


class Resolver(Protocol):
    async def a_records(self, host: str) -> set[str]:
        """The IPv4 addresses ``host`` resolves to; empty when it resolves to none."""
        ...


class SystemResolver:
    """The system's resolver (getaddrinfo), which follows CNAMEs to their A records."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout

    async def a_records(self, host: str) -> set[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_STREAM),
                self.timeout,
            )
        except (OSError, TimeoutError, UnicodeError):
            return set()
        return {str(info[4][0]) for info in infos}
