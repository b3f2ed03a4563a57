"""``helpline email parse FILE``: one JSON object for any file, exit 0, never a traceback."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bots.email_cli import register
from tests.bots.email.mailtest_support import MAILS

REPO = Path(__file__).resolve().parents[3]
KEYS = {
    "message_id", "in_reply_to", "references", "from", "subject", "text", "full_text", "date",
    "auto_submitted", "attachments", "defects",
}  # fmt: skip


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The command as a user runs it, in a process of its own."""
    code = "import sys; from bots.email_cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, input=stdin, capture_output=True, timeout=30
    )


@pytest.mark.parametrize("name", ["outlook_html.eml", "junk.bin", "empty.eml", "truncated_mime.eml"])
def test_parse_prints_one_json_object(name: str) -> None:
    proc = run_cli("parse", str(MAILS / name))
    assert proc.returncode == 0
    assert b"Traceback" not in proc.stderr
    lines = proc.stdout.decode("utf-8").splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == KEYS


def test_parse_outlook_content() -> None:
    result = json.loads(run_cli("parse", str(MAILS / "outlook_html.eml")).stdout)
    assert result["from"] == "erik.lindqvist@skola.kommun.example.se"
    assert result["subject"] == "Elev som uttrycker våldsbejakande åsikter"
    assert result["text"].startswith("Hej,")
    assert result["auto_submitted"] is False


def test_missing_file_directory_and_stdin(tmp_path: Path) -> None:
    for target in (str(tmp_path / "nope.eml"), str(tmp_path)):
        proc = run_cli("parse", target)
        assert proc.returncode == 0 and b"Traceback" not in proc.stderr
        result = json.loads(proc.stdout)
        assert "unreadable" in result["defects"]
    proc = run_cli("parse", "-", stdin=(MAILS / "vacation.eml").read_bytes())
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["auto_submitted"] is True


def test_unreadable_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.eml"
    secret.write_bytes(b"From: a@b.se\r\n\r\nhej\r\n")
    secret.chmod(0)
    proc = run_cli("parse", str(secret))
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    assert set(json.loads(proc.stdout)) == KEYS


def test_output_is_valid_utf8_json_even_in_a_c_locale() -> None:
    code = "import sys; from bots.email_cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "parse", str(MAILS / "cp1252_no_charset.eml")],
        cwd=REPO,
        capture_output=True,
        timeout=30,
        env={"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "ascii", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    assert json.loads(proc.stdout.decode("utf-8"))["subject"] == "Fråga"


def test_register_wires_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="helpline")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["email", "parse", str(MAILS / "list_mail.eml")])
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["auto_submitted"] is True
    assert result["message_id"] == "<list-1@lists.example.org>"


def test_the_helpline_command(tmp_path: Path) -> None:
    """Through the real ``helpline`` entry point (gateway.cli), as an operator runs it."""
    pytest.importorskip("gateway.cli")
    junk = tmp_path / "junk.eml"
    junk.write_bytes(bytes(range(256)) * 20)
    code = "import sys; from gateway.cli import main; sys.exit(main())"
    for target in (MAILS / "gmail_alternative.eml", junk, tmp_path / "missing.eml"):
        proc = subprocess.run(
            [sys.executable, "-c", code, "email", "parse", str(target)],
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert b"Traceback" not in proc.stderr
        assert set(json.loads(proc.stdout)) == KEYS
