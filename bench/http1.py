"""A minimal keep-alive HTTP/1.1 GET client on asyncio streams, for load generation only.

The API benchmark's client shares the machine's cores with the server it measures, so its own CPU per request
must be small (with httpx the old server failed half its requests; driven by this client it held the rate,
docs/decisions/0106). This client sends pre-built request bytes over persistent connections and reads each
response by its ``Content-Length`` (or chunked framing) without decoding the body; the benchmark checks only
the status and that the body starts like a JSON array.
It is not a general HTTP client: no redirects, no TLS, no compression, GET only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection broke or the response was not well-formed HTTP/1.1."""


def request_bytes(base: str, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive GET request."""
    host = urlsplit(base).netloc
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


@dataclass
class Connection:
    """One persistent connection; one request at a time."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    #: Requests answered on this connection so far.
    served: int = 0

    @classmethod
    async def open(cls, base: str) -> Connection:
        """Connect to ``base`` (``http://host:port``)."""
        parts = urlsplit(base)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(reader, writer)

    async def get(self, request: bytes) -> tuple[int, bytes]:
        """Send one pre-built request; the status and the raw body."""
        self.writer.write(request)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            raise HttpError(f"no response head: {exc!r}") from None
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"bad status line {lines[0]!r}") from None
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        try:
            if chunked:
                body = await self._chunks()
            else:
                body = await self.reader.readexactly(length or 0)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError) as exc:
            raise HttpError(f"truncated body: {exc!r}") from None
        if close:
            self.close()
        self.served += 1
        return status, body

    async def _chunks(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return bytes(body)
            body += chunk[:-2]

    @property
    def closed(self) -> bool:
        """True once the connection cannot carry another request."""
        return self.writer.is_closing() or self.reader.at_eof()

    def close(self) -> None:
        """Close without waiting."""
        self.writer.close()
