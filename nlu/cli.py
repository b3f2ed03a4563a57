"""``helpline nlu ...``: parse, train, evaluate and export from the command line.

``register(subparsers)`` adds the ``nlu`` subcommand to the ``helpline`` command; each leaf sets
``func`` (Namespace -> exit code).  ``python -m nlu.cli`` runs the same commands on their own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from gateway.errors import ConfigError
from nlu.classifier import train_artifact
from nlu.data import TEST_PATH, DataError, Dataset, load_training_data
from nlu.evaluate import evaluate
from nlu.result import SUPPORTED_LANGUAGES, Triager
from nlu.triage import EmbeddedTriager, build_triager, default_model, load_model


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="FILE", help="a saved model (default: train from the shipped data)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nlu = subparsers.add_parser("nlu", help="triage: parse, train, evaluate, export")
    sub = nlu.add_subparsers(dest="nlu_command", metavar="COMMAND", required=True)

    p = sub.add_parser("parse", help='JSON lines {"text": ...} on stdin -> triage results on stdout')
    _add_model_args(p)
    p.add_argument("--backend", choices=("embedded", "rasa"), default="embedded")
    p.add_argument("--rasa-url", metavar="URL")
    p.add_argument("--timeout", type=float, default=2.0)
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("train", help="train a model on the training data and evaluate it on the test split")
    p.add_argument(
        "--data", metavar="FILE", help="Rasa NLU YAML training data (default: the shipped data and families)"
    )
    p.add_argument("--test", metavar="FILE", default=str(TEST_PATH), help="held-out Rasa NLU YAML test data")
    p.add_argument("--out", metavar="FILE", help="where to save the model (not saved without it)")
    p.add_argument("--json", action="store_true", help="print the model's metadata as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="critical recall, false alarms, danger below high, per language and family; macro-F1; "
        "leave-one-family-out",
    )
    p.add_argument(
        "file",
        nargs="*",
        metavar="FILE",
        help="Rasa NLU YAML (default: the held-out split, the blind split and the multilingual split)",
    )
    _add_model_args(p)
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p.add_argument(
        "--errors", action="store_true", help="also list misses, false alarms and misclassified examples"
    )
    p.add_argument("--intents", action="store_true", help="also the per-intent table and confusion matrix")
    p.add_argument("--lofo", action="store_true", help="also leave-one-family-out over the training families")
    p.add_argument("--no-embedding", action="store_true", help="without the multilingual embedding stage")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train-head", help="train the embedding stage's classifier and save it (a minute)")
    p.add_argument("--out", metavar="FILE", help="where to save it (default: the shipped head)")
    p.set_defaults(func=cmd_train_head)

    p = sub.add_parser("export", help="write the training data as Rasa NLU YAML")
    p.add_argument("--data", metavar="FILE", help="default: the shipped data and families")
    p.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    p.set_defaults(func=cmd_export)


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _embedded(args: argparse.Namespace) -> EmbeddedTriager:
    from nlu.embedding import shared_stage

    model = load_model(args.model) if getattr(args, "model", None) else default_model()
    return EmbeddedTriager(model, embedding=None if getattr(args, "no_embedding", False) else shared_stage())


async def _parse_stream(triager: Triager, stdin: TextIO, stdout: TextIO) -> int:
    bad = 0
    for lineno, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        out: dict[str, Any]
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object")
            text = item.get("text")
            if not isinstance(text, str):
                raise ValueError('"text" must be a string')
            hint = item.get("language_hint", item.get("language"))
            if hint is not None and hint not in SUPPORTED_LANGUAGES:
                hint = None
            out = (await triager.parse(text, hint)).to_dict()
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            bad += 1
            out = {"error": f"line {lineno}: {exc}"}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return bad


def cmd_parse(args: argparse.Namespace) -> int:
    try:
        triager = build_triager(
            backend=args.backend, rasa_url=args.rasa_url, model_path=args.model, timeout=args.timeout
        )
    except ConfigError as exc:
        return _err(str(exc))

    async def run() -> int:
        try:
            return await _parse_stream(triager, sys.stdin, sys.stdout)
        finally:
            close = getattr(triager, "close", None)
            if close is not None:
                await close()

    asyncio.run(run())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    try:
        data = load_training_data(args.data)
        test = Dataset.load(args.test)
    except (OSError, DataError) as exc:
        return _err(str(exc))
    artifact = train_artifact(data, note=f"trained from {args.data or 'the shipped data'}")
    ev = evaluate(test, EmbeddedTriager(artifact).parse_sync, artifact.version)
    artifact = artifact.with_metrics(ev.metrics())
    if args.out:
        artifact.save(args.out)
    if args.json:
        print(json.dumps({**artifact.info, "saved_to": args.out}, ensure_ascii=False, indent=2))
    else:
        print(
            f"model {artifact.version}: {artifact.n_examples} examples, trained in {artifact.train_seconds:.2f}s"
        )
        print(f"test split: macro-F1 {ev.macro_f1:.4f}, critical recall {ev.critical_recall:.4f}")
        print(f"saved to {args.out}" if args.out else "not saved (use --out FILE)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nlu.evaluate_cmd import run_evaluate

    try:
        triager = _embedded(args)
        return run_evaluate(args, triager)
    except (OSError, DataError, ConfigError) as exc:
        return _err(str(exc))


def cmd_train_head(args: argparse.Namespace) -> int:
    from nlu.evaluate_cmd import run_train_head

    return run_train_head(args.out)


def cmd_export(args: argparse.Namespace) -> int:
    try:
        text = load_training_data(args.data).to_yaml()
    except (OSError, DataError) as exc:
        return _err(str(exc))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
