"""Real servers for the e-mail tests: a private Dovecot (IMAP) and an aiosmtpd SMTP server.

Dovecot runs in the foreground as our child (``dovecot -F -c FILE``) with its own config, a
free loopback port, a passwd-file of throw-away users and maildirs under a temporary directory
(owned by ``nobody``); it is stopped by its pid at the end of the session.  Each test takes a
mailbox (user) of its own.  Mail is delivered with ``dovecot-lda``, as a real MTA would.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
from tests.bots.email.mailtest_support import FROM_ADDRESS, REPLY_DOMAIN  # noqa: E402

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"
USERS = 80


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening")


def _proc_state(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a live process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0]


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _proc_state(int(entry.name))
            if info is not None:
                parents[int(entry.name)] = info[0]
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(kids)
        frontier.extend(kids)
    return found


def _terminate(pid: int) -> None:
    """End one process we started (found by pid), waiting a little for it to go."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        info = _proc_state(pid)
        if info is None or info[1] == "Z":
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            info = _proc_state(pid)
            if info is None or info[1] == "Z":
                return
            time.sleep(0.02)


class Dovecot:
    def __init__(self, root: Path, *, idle: bool = True) -> None:
        self.root = root
        self.port = _free_port()
        self.conf = root / "dovecot.conf"
        self.users_file = root / "users"
        self.mail_root = root / "mail"
        self.proc: subprocess.Popen[bytes] | None = None
        self._next_user = 0
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.mail_root, "nobody", "nogroup")
        self.users_file.write_text("".join(f"box{i:02d}:{{PLAIN}}pw-box{i:02d}\n" for i in range(USERS)))
        capability = "" if idle else "imap_capability = IMAP4rev1 LITERAL+ UIDPLUS\n"
        self.conf.write_text(
            f"""base_dir = {root}/run
state_dir = {root}/state
instance_name = helpline-test-{self.port}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
# (the anvil-auth-penalty socket is closed to the auth process below: no per-IP penalty after the
# bad-credentials test, which would otherwise slow every later login from 127.0.0.1 by seconds)
auth_mechanisms = plain login
log_path = {root}/dovecot.log
mail_location = maildir:{self.mail_root}/%u
default_login_user = nobody
default_internal_user = nobody
default_internal_group = nogroup
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 0
first_valid_gid = 0
{capability}service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.mail_root}/%u
}}
"""
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait_port(self.port, self.proc)

    def stop(self) -> None:
        """SIGTERM the master by its pid, then its own child processes (by pid) that outlive it."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        children = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for pid in children:
            _terminate(pid)

    def kick(self, user: str) -> None:
        """Disconnect every IMAP session of ``user`` (the server drops the connection)."""
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "kick", user], check=True, capture_output=True, timeout=20
        )

    def new_mailbox(self) -> Mailbox:
        i = self._next_user
        self._next_user += 1
        if i >= USERS:
            raise RuntimeError("out of test mailboxes; raise USERS")
        return Mailbox(self, f"box{i:02d}", f"pw-box{i:02d}")


@dataclass
class Mailbox:
    server: Dovecot
    user: str
    password: str
    delivered: list[bytes] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def config(self, **overrides: Any) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "imap_host": "127.0.0.1",
            "imap_port": self.port,
            "imap_user": self.user,
            "imap_password": self.password,
            "imap_ssl": False,
            "smtp_host": "127.0.0.1",
            "smtp_port": 1,
            "smtp_security": "none",
            "from_address": FROM_ADDRESS,
            "reply_domain": REPLY_DOMAIN,
            "poll_interval": 60.0,
        }
        cfg.update(overrides)
        return cfg

    def deliver(self, raw: bytes, sender: str = "someone@example.se") -> None:
        """Deliver like an MTA: dovecot-lda into this mailbox's INBOX."""
        subprocess.run(
            [LDA, "-c", str(self.server.conf), "-d", self.user, "-f", sender],
            input=raw,
            check=True,
            capture_output=True,
            timeout=20,
        )
        self.delivered.append(raw)

    def flags(self) -> dict[str, set[str]]:
        """Message-ID -> flags, read by an independent client (the standard library's imaplib)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            conn.login(self.user, self.password)
            conn.select("INBOX", readonly=True)
            _typ, data = conn.uid("fetch", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            out: dict[str, set[str]] = {}
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta, header = item
                flags_match = re.search(rb"FLAGS \(([^)]*)\)", meta)
                mid_match = re.search(rb"<[^>]+>", header)
                key = mid_match.group(0).decode() if mid_match else "(none)"
                out[key] = set(flags_match.group(1).decode().split()) if flags_match else set()
            return out
        finally:
            try:
                conn.logout()
            except Exception:
                pass

    async def aflags(self) -> dict[str, set[str]]:
        return await asyncio.to_thread(self.flags)

    async def wait_flag(self, message_id: str, flag: str = "\\Seen", timeout: float = 10.0) -> set[str]:
        deadline = time.monotonic() + timeout
        flags: set[str] = set()
        while time.monotonic() < deadline:
            flags = (await self.aflags()).get(message_id, set())
            if flag in flags:
                return flags
            await asyncio.sleep(0.05)
        raise AssertionError(f"{message_id} never got {flag}; flags are {flags}")


@pytest.fixture(scope="session")
def dovecot_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    root.chmod(0o755)  # dovecot's processes run as nobody
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(dovecot_root: Path) -> Iterator[Dovecot]:
    server = Dovecot(dovecot_root / "idle")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_noidle(dovecot_root: Path) -> Iterator[Dovecot]:
    """A second instance whose IMAP capability lacks IDLE (the polling fallback)."""
    server = Dovecot(dovecot_root / "noidle", idle=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_dovecot(dovecot_root: Path) -> Iterator[Dovecot]:
    """A Dovecot of the test's own, for tests that stop and restart the server."""
    server = Dovecot(dovecot_root / f"private-{time.monotonic_ns()}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    return dovecot.new_mailbox()


@pytest.fixture
def ingress(tmp_path: Path) -> Any:
    from tests.bots.email.mailstore_ingress import SqliteIngress

    return SqliteIngress(tmp_path / "ingress.db")


class SMTPRecorder:
    """aiosmtpd handler that records every mail and can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted for delivery"


@dataclass
class SMTPServer:
    port: int
    recorder: SMTPRecorder


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    from aiosmtpd.controller import Controller

    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield SMTPServer(controller.port, recorder)
    finally:
        controller.stop()


@pytest.fixture
def smtp_auth_server() -> Iterator[SMTPServer]:
    """SMTP that demands AUTH (over plain TCP, allowed here for the test): user "gw", password "s3cret"."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        def text(value: Any) -> str:
            return value.decode() if isinstance(value, bytes) else str(value)

        ok = (
            text(getattr(auth_data, "login", "")) == "gw"
            and text(getattr(auth_data, "password", "")) == "s3cret"
        )
        return AuthResult(success=ok, handled=False)

    recorder = SMTPRecorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SMTPServer(controller.port, recorder)
    finally:
        controller.stop()
