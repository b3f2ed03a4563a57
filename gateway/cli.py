"""The ``helpline`` command: serve, users, db, and the subcommands of nlu and email."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from gateway import logs
from gateway.config import Settings, load_settings
from gateway.errors import ConfigError, HelplineError

log = logging.getLogger("helpline")
SHUTDOWN_TIMEOUT = 3.0
YOUNG_GENERATION = 2500
"""Objects the cyclic collector lets accumulate before it collects the youngest generation (700 by
default in CPython)."""

# Subcommands other packages add: module with register(subparsers).
PLUGINS = ("nlu.cli", "bots.email_cli", "handoff.cli", "gateway.keys_cli", "gateway.i18n_cli")


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(getattr(args, "config", None), overrides=overrides)


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The loop ``server.event_loop`` names (asyncio's where uvloop is not installed)."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            # A platform uvloop is not built for (Windows) still runs the gateway, a little dearer.
            print("  uvloop is not installed: running on asyncio's event loop", file=sys.stderr, flush=True)
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this code runs on, as the start-up banner says it."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from gateway.app import create_app
    from gateway.web_errors import SERVER_OPTIONS

    overrides: dict[str, Any] = {}
    if args.host:
        overrides["server.host"] = args.host
    if args.port:
        overrides["server.port"] = args.port
    if args.dev:
        # Plain http on one's own machine: the console's cookies without the Secure attribute.
        overrides["development"] = True
        overrides["console.secure_cookies"] = False
    settings = _settings(args, **overrides)
    logs.configure(settings.raw["logging"]["format"], settings.raw["logging"]["level"])
    app = create_app(settings)

    async def freeze_startup_objects(_app: web.Application) -> None:
        # What the start made (models, directory, routes) lives as long as the process: keep it out
        # of the cyclic collector's scans, which would otherwise pause the gateway now and then.
        gc.freeze()
        # Collect the young generation after 2,500 new objects, not 700: much of what a message
        # makes lives a few hundred milliseconds (a batch, a reply's wait), and at 700 it was caught
        # alive, promoted, and made the full collections come ten times as often (each holds the
        # event loop 25-40 ms).  One process at 100 round trips/s: 10 full collections in 40 s -> 1,
        # the collector's time 0.8 s -> 0.27 s (issue #18).
        gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])

    async def say_event_loop(_app: web.Application) -> None:
        # Logged, not printed: with logging.format json, every line after the banner is an event.
        log.info("event loop: %s", running_loop_name())

    app.on_startup.append(freeze_startup_objects)
    app.on_startup.append(say_event_loop)
    url = f"http://{settings.host}:{settings.port}"
    if not settings.raw["development"]:
        print("  the console's cookies are Secure: serve it behind https (or use --dev)", flush=True)
    print(f"helpline-gateway is starting on {url}", flush=True)
    print(f"  web chat:           {url}/chat", flush=True)
    print(f"  counsellor console: {url}/console", flush=True)
    print(f"  health:             {url}/healthz, {url}/livez, {url}/readyz", flush=True)
    print(
        f"  store: {settings.database_url.split('://', 1)[0]}, broker: {'redis' if settings.redis_url else 'in-process'}"
    )
    print("  first admin:        helpline users add NAME --role admin", flush=True)
    # Sockets are closed in on_shutdown (1001); what a handler still does then gets a few seconds.
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            loop=new_event_loop(settings.raw["server"]["event_loop"]),
            **SERVER_OPTIONS,
        )
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            raise
        # The one start-up failure an operator meets most: said plainly, not as a traceback.
        print(
            f"helpline serve: cannot listen on {settings.host}:{settings.port} ({os.strerror(exc.errno)}):"
            " is another gateway running there? Choose another port with --port or server.port.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.store.db import Database

    async def run() -> None:
        db = Database(_settings(args).database_url)
        try:
            await db.upgrade()
        finally:
            await db.close()

    asyncio.run(run())
    print("database is up to date")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from gateway.app import CHANNEL_MODULES
    from gateway.channel import registered_channel
    from gateway.config_reference import reference

    channels = {}
    for name, module_name in CHANNEL_MODULES.items():
        importlib.import_module(module_name)
        cls = registered_channel(name)
        if cls is not None:
            channels[name] = cls
    sys.stdout.write(reference(channels))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline", description="helpline-gateway")
    parser.add_argument("--config", help="YAML configuration file (also HELPLINE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--dev", action="store_true", help="development over plain http: console cookies without Secure"
    )
    serve.add_argument("--config", default=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    # The staff accounts' commands live with the staff pages (they check municipality codes
    # against the directory): helpline users add|list|edit|disable|enable|reset-password|...
    from handoff.staff.cli import register_users

    register_users(sub)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("--config", default=argparse.SUPPRESS)
    up.set_defaults(func=cmd_db_upgrade)

    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True
    )
    ref = config.add_parser(
        "reference", help="print every configuration key with its type, default and meaning"
    )
    ref.set_defaults(func=cmd_config_reference)

    for module_name in PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Plain until a command has read its configuration (serve then takes logging.format).
    logs.configure(os.environ.get("HELPLINE_LOG_FORMAT", "plain"))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    except HelplineError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
