"""A PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port in a temporary directory),
which the test may stop, restart and dump without touching the shared server.

``initdb`` refuses to run as root: as root the cluster belongs to (and runs as) the ``postgres``
user, in a directory that user owns; as anyone else it runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def postgres_bin() -> Path | None:
    """The directory of initdb/pg_ctl (the newest installed PostgreSQL), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """One cluster: :meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`remove`."""

    def __init__(self, bindir: Path) -> None:
        self.bin = bindir
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hl-private-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._owner = pwd.getpwnam("postgres")
            os.chown(self.dir, self._owner.pw_uid, self._owner.pw_gid)
        self.dir.chmod(0o755)  # the test reads the server's log
        self.running = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        """The SQLAlchemy (asyncpg) URL of the ``postgres`` database."""
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._owner is not None:
            cmd = ["runuser", "-u", self._owner.pw_name, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode(errors='replace')[-2000:]}")

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.dir}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",  # a test cluster: speed over durability against power loss
                "-c max_connections=150",
                "-c log_min_messages=warning",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
            self.running = False

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
