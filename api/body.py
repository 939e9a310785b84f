"""A request body read straight from the ASGI channel: in chunks, and drained after an early refusal.

Reading `receive` directly (not Request.stream()) lets the API go on reading a body it has
already refused: when an upload is refused before its end, the rest is read and dropped (up
to a bound) so that the client, still sending, gets the JSON answer instead of a reset
connection.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect
from starlette.types import Receive

DRAIN_MAX = 64 << 20  # bytes read and dropped after a refusal, at most


class Body:
    """The body of one request."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False
        self.received = 0

    async def _next(self) -> bytes:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        data = message.get("body", b"")
        self.received += len(data)
        self.done = not message.get("more_body", False)
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's pieces as they arrive; ClientDisconnect when the client goes away first."""
        while not self.done:
            data = await self._next()
            if data:
                yield data

    async def read(self, limit: int) -> bytes | None:
        """The whole body, or None when it is longer than `limit` (the rest is then left unread)."""
        parts, size = [], 0
        async for data in self.chunks():
            size += len(data)
            if size > limit:
                return None
            parts.append(data)
        return b"".join(parts)

    async def drain(self, limit: int = DRAIN_MAX) -> bool:
        """Read and drop the rest of the body, up to `limit` bytes; True when it ended."""
        dropped = 0
        try:
            while not self.done and dropped <= limit:
                dropped += len(await self._next())
        except ClientDisconnect:
            return False
        return self.done
