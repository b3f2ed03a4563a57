"""A websocket client on a bare TCP socket with a tiny receive buffer: it reads only when told to."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


class RawSocket:
    def __init__(self, host: str, port: int, path: str = "/chat/ws", headers: str = "") -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.received = 0

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("closed by the server")
        return data

    def send(self, frame: dict[str, Any]) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            data = self._recv()
            self.received += len(data)
            self.buf += data

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        self._need(2)
        opcode, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        at = 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(at + n)
        payload, self.buf = self.buf[at : at + n], self.buf[at + n :]
        return opcode, payload

    def json_frame(self, kind: str) -> dict[str, Any]:
        while True:
            opcode, payload = self.frame()
            if opcode == 1:
                data: dict[str, Any] = json.loads(payload)
                if data.get("type") == kind:
                    return data

    async def drain_all(self) -> int:
        """Read everything until the server has closed the connection; the bytes read."""

        def run() -> int:
            self.sock.settimeout(10)
            total = len(self.buf)
            try:
                while True:
                    total += len(self._recv())
            except (ConnectionError, OSError):
                return total

        return await asyncio.to_thread(run)

    def close(self) -> None:
        self.sock.close()
