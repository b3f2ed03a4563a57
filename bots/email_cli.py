"""``helpline email ...``: command-line tools of the e-mail channel.

``helpline email parse FILE`` prints one JSON object for any file, however broken (binary junk,
an empty or missing file): ``message_id``, ``in_reply_to``, ``references``, ``from``, ``subject``,
``text`` (what the counsellor sees first), ``full_text``, ``date``, ``auto_submitted``,
``attachments`` (name, content_type, size) and ``defects``.  It exits 0 and never prints a
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from bots.email_parse import DEFAULT_MAX_SIZE, ParsedMail, parse_mail, synthetic_message_id


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``email`` subcommand (with ``parse``) to the ``helpline`` command."""
    email_parser = subparsers.add_parser("email", help="e-mail channel tools")
    email_parser.set_defaults(func=_usage(email_parser))
    sub = email_parser.add_subparsers(dest="email_command")
    parse = sub.add_parser("parse", help="parse a mail file and print it as JSON")
    parse.add_argument("file", metavar="FILE", help="a mail (RFC 5322 bytes); '-' reads standard input")
    parse.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_SIZE,
        help=f"bytes; a larger mail is reported as a stub (default {DEFAULT_MAX_SIZE})",
    )
    parse.set_defaults(func=cmd_parse)


def _usage(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


def _read(path: str, max_size: int) -> tuple[bytes, int]:
    """The file's bytes (at most a little over ``max_size``) and its real size."""
    limit = max(max_size + 1, 262_145)  # enough for the header of a mail over the limit
    if path == "-":
        data = sys.stdin.buffer.read(limit)
        size = len(data)
        if size >= limit:  # count the rest without keeping it
            while chunk := sys.stdin.buffer.read(1 << 20):
                size += len(chunk)
        return data, size
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(limit)
    return data, max(size, len(data))


def parse_file(path: str, max_size: int = DEFAULT_MAX_SIZE) -> dict[str, Any]:
    """The JSON-ready result for one file; never raises."""
    try:
        data, size = _read(path, max_size)
    except Exception as exc:
        return _unreadable(exc)
    result: ParsedMail = parse_mail(data, max_size=max_size, declared_size=size)
    return result.to_dict()


def _unreadable(exc: BaseException) -> dict[str, Any]:
    return {
        "message_id": synthetic_message_id(b""),
        "in_reply_to": None,
        "references": [],
        "from": None,
        "subject": "",
        "text": "",
        "full_text": "",
        "date": None,
        "auto_submitted": False,
        "attachments": [],
        "defects": ["unreadable", f"error:{type(exc).__name__}"],
    }


def cmd_parse(args: argparse.Namespace) -> int:
    try:
        out = parse_file(str(args.file), int(getattr(args, "max_size", DEFAULT_MAX_SIZE)))
    except Exception as exc:  # parse_file does not raise; this is the last net
        out = _unreadable(exc)
    _emit(out)
    return 0


def _emit(obj: dict[str, Any]) -> None:
    line = json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n"
    data = line.encode("utf-8", errors="replace")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except (AttributeError, ValueError):  # a text-only stdout (tests capturing it)
        sys.stdout.write(json.dumps(obj, ensure_ascii=True) + "\n")
    except BrokenPipeError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m bots.email_cli parse FILE``) until the lead wires it in."""
    parser = argparse.ArgumentParser(prog="helpline")
    subparsers = parser.add_subparsers(dest="command")
    register(subparsers)
    args = parser.parse_args(["email", *(argv if argv is not None else sys.argv[1:])])
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


if __name__ == "__main__":
    sys.exit(main())
