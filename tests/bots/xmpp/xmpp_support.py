"""Helpers for XMPP tests: a real Prosody server, the person's independent client, a real ingress.

``Prosody`` is one private server (own config, data directory, pidfile and a free c2s port on
127.0.0.1, plain-text auth, s2s disabled) that runs as the ``prosody`` user and is stopped by its
pid; ``restart()`` stops and starts it on the same port and data, as an operator's restart would.
``running_prosody()`` creates one and removes it afterwards.  ``Person`` is a slixmpp client acting
as the person; ``RecordingIngress`` records what it is handed and answers like the pipeline.

The fixtures built on these (``prosody`` per test module, ``gateway_account``, ``person_account``,
``person``, ``ingress``) are in ``conftest.py``; end-to-end tests elsewhere import this module
(``tests.bots.xmpp.xmpp_support``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import slixmpp

from gateway.channel import IngressResult
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    MessageId,
    Priority,
    Pseudonym,
    SenderKind,
    new_message_id,
)

DOMAIN = "helpline.test"
PSEUDONYM_KEY = b"xmpp-test-pseudonym-key-0123456789"

CONFIG = """\
admins = {{ }}
daemonize = false
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = {{ "roster", "saslauth", "disco", "ping", "posix" }}
modules_disabled = {{ "s2s" }}
log = {{ info = "{dir}/prosody.log" }}
VirtualHost "{domain}"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Prosody:
    """One private Prosody server, run as the ``prosody`` user and stopped by its pid."""

    def __init__(self, directory: Path, port: int, domain: str = DOMAIN) -> None:
        self.dir = directory
        self.port = port
        self.domain = domain
        self.config = directory / "prosody.cfg.lua"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        """Prosody's own pid (from its pidfile; ``proc`` is runuser's)."""
        (directory / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(CONFIG.format(dir=directory, port=port, domain=domain))
        shutil.chown(directory, "prosody", "prosody")
        shutil.chown(directory / "data", "prosody", "prosody")
        os.chmod(directory, 0o750)
        shutil.chown(self.config, "prosody", "prosody")

    @property
    def pidfile(self) -> Path:
        return self.dir / "prosody.pid"

    def start(self, timeout: float = 15.0) -> None:
        self.pidfile.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            ["runuser", "-u", "prosody", "--", "prosody", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not (_port_open(self.port) and self.pidfile.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "prosody.log").read_text() if (self.dir / "prosody.log").exists() else ""
                raise RuntimeError(f"prosody did not start: {log[-2000:]}")
            time.sleep(0.05)
        self.pid = int(self.pidfile.read_text().strip())

    def resume_runuser(self) -> None:
        """runuser stops itself when its child is stopped (job control); SIGSTOP tests resume it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self, timeout: float = 10.0) -> None:
        self.resume_runuser()
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                if self.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout)
            self.proc = None
        self.pid = None
        deadline = time.monotonic() + timeout
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def register(self, user: str, password: str) -> str:
        subprocess.run(
            ["prosodyctl", "--config", str(self.config), "register", user, self.domain, password],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return f"{user}@{self.domain}"

    def adapter_config(self, jid: str, password: str, **extra: Any) -> dict[str, Any]:
        """Configuration of an XmppAdapter against this server (plain TCP, quick reconnects)."""
        return {
            "jid": jid,
            "password": password,
            "host": "127.0.0.1",
            "port": self.port,
            "plaintext": True,
            "reconnect_initial": 0.2,
            "reconnect_max": 1.0,
            "send_wait": 5.0,
            "connect_timeout": 5.0,
            **extra,
        }


@contextlib.contextmanager
def running_prosody() -> Iterator[Prosody]:
    directory = Path(tempfile.mkdtemp(prefix="helpline-prosody-"))
    server = Prosody(directory, _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Account:
    jid: str
    password: str


def new_account(server: Prosody, prefix: str) -> Account:
    password = uuid.uuid4().hex
    return Account(server.register(f"{prefix}{uuid.uuid4().hex[:8]}", password), password)


class Person:
    """The person: an independent slixmpp client that records everything it receives."""

    def __init__(self, server: Prosody, account: Account, resource: str = "phone") -> None:
        self.server = server
        self.account = account
        self.client = slixmpp.ClientXMPP(f"{account.jid}/{resource}", account.password)
        for plugin in ("xep_0030", "xep_0085", "xep_0199"):
            self.client.register_plugin(plugin)
        self.client.register_plugin("xep_0184", pconfig={"auto_ack": False, "auto_request": False})
        self.client.enable_plaintext = True
        self.client.enable_starttls = False
        self.client.enable_direct_tls = False
        self.client.plugin["feature_mechanisms"].unencrypted_plain = True
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.chat_states: asyncio.Queue[str] = asyncio.Queue()
        self.receipts: asyncio.Queue[str] = asyncio.Queue()
        self.presences: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.client.add_event_handler("message", self._on_message)
        self.client.add_event_handler("chatstate", self._on_chat_state)
        self.client.add_event_handler("receipt_received", self._on_receipt)
        self.client.add_event_handler("presence_subscribed", self._on_presence)
        self.client.add_event_handler("presence_subscribe", self._on_presence)
        self.client.add_event_handler("session_start", self._on_session)
        self.client.add_event_handler("disconnected", self._on_disconnected)
        self.online = asyncio.Event()

    def _on_message(self, msg: Any) -> None:
        if msg["type"] in ("chat", "normal"):
            self.messages.put_nowait(msg)

    def _on_chat_state(self, msg: Any) -> None:
        if not msg["body"]:
            self.chat_states.put_nowait(msg["chat_state"])

    def _on_receipt(self, msg: Any) -> None:
        self.receipts.put_nowait(str(msg["receipt"]))

    def _on_presence(self, pres: Any) -> None:
        self.presences.put_nowait((pres["type"], pres["from"].bare))

    async def _on_session(self, _event: Any) -> None:
        await self.client.get_roster(timeout=5)  # like any client: Prosody routes subscriptions to it
        self.client.send_presence()
        self.online.set()

    def _on_disconnected(self, _event: Any) -> None:
        self.online.clear()

    async def connect(self) -> None:
        self.client.connect("127.0.0.1", self.server.port)
        await asyncio.wait_for(self.online.wait(), 10)

    async def close(self) -> None:
        if self.client.transport is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(wait=0.5), 2)
        self.client.cancel_connection_attempt()
        out = getattr(self.client, "_run_out_filters", None)
        if out is not None:
            out.cancel()

    def say(self, to: str, text: str, *, receipt: bool = True, stanza_id: str | None = None) -> str:
        msg = self.client.make_message(mto=to, mbody=text, mtype="chat")
        msg["id"] = stanza_id or uuid.uuid4().hex
        if receipt:
            msg["request_receipt"] = True
        msg["chat_state"] = "active"
        msg.send()
        return str(msg["id"])

    def chat_state(self, to: str, state: str) -> None:
        msg = self.client.make_message(mto=to, mtype="chat")
        msg["chat_state"] = state
        msg.send()

    def ack(self, msg: Any) -> None:
        ack = self.client.make_message(mto=msg["from"])
        ack["receipt"] = msg["id"]
        ack.send()

    async def next_message(self, timeout: float = 10.0) -> Any:
        return await asyncio.wait_for(self.messages.get(), timeout)


@dataclass
class RecordingIngress:
    """A real ingress: records what it gets (like the pipeline, durably before answering)."""

    safe_response: str | None = None
    language: str | None = None
    """The conversation's language the answers name (the pipeline's triage; None: not known)."""
    fail_times: int = 0
    failure: Exception | None = None
    received: list[tuple[Envelope, str]] = field(default_factory=list)
    arrived: asyncio.Queue[tuple[Envelope, str]] = field(default_factory=asyncio.Queue)
    seen_external: set[str] = field(default_factory=set)
    calls: int = 0

    async def __call__(self, envelope: Envelope, address: str) -> IngressResult:
        self.calls += 1
        if self.fail_times > 0:
            self.fail_times -= 1
            assert self.failure is not None
            raise self.failure
        duplicate = envelope.external_id is not None and envelope.external_id in self.seen_external
        if envelope.external_id:
            self.seen_external.add(envelope.external_id)
        self.received.append((envelope, address))
        self.arrived.put_nowait((envelope, address))
        conversation = ConversationId("c-" + envelope.sender[:8])
        response = None
        if self.safe_response and not envelope.meta.get("control"):
            response = Envelope(
                message_id=new_message_id(),
                direction=Direction.OUT,
                channel="xmpp",
                sender=Pseudonym("bot"),
                text=self.safe_response,
                conversation_id=conversation,
                sender_kind=SenderKind.BOT,
            )
        return IngressResult(
            conversation_id=conversation,
            message_id=MessageId(envelope.message_id),
            duplicate=duplicate,
            priority=Priority.NORMAL,
            state="bot",
            safe_response=response,
            language=self.language,
        )

    async def next(self, timeout: float = 10.0, *, control: str | None = None) -> tuple[Envelope, str]:
        """The next envelope (skipping control signals unless ``control`` names the one wanted)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            env, address = await asyncio.wait_for(self.arrived.get(), max(remaining, 0.01))
            kind = env.meta.get("control")
            if kind == control:
                return env, address
