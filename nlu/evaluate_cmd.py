"""``helpline nlu evaluate`` and ``helpline nlu train-head``: the figures the line is judged on."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from nlu.data import (
    BLIND_PATH,
    FAMILIES_PATH,
    MULTILINGUAL_EVAL_PATH,
    MULTILINGUAL_PATH,
    TEST_PATH,
    TRAIN_PATH,
    Dataset,
    Example,
    load_examples,
    load_training_data,
)
from nlu.evaluate import evaluate
from nlu.evaluate_groups import leave_one_family_out, lofo_json, lofo_text, report
from nlu.triage import EmbeddedTriager

DEFAULT_SPLITS = (
    ("held-out split (test.yml)", TEST_PATH),
    ("blind split (eval_blind.yml)", BLIND_PATH),
    ("multilingual split (eval_multilingual.yml)", MULTILINGUAL_EVAL_PATH),
)


def run_evaluate(args: argparse.Namespace, triager: EmbeddedTriager) -> int:
    files = [(str(f), Path(f)) for f in args.file] or [(n, p) for n, p in DEFAULT_SPLITS if p.exists()]
    out: dict[str, object] = {"model_version": triager.model.version}
    texts: list[str] = []
    for name, path in files:
        examples = load_examples(path, default_language="")
        rep = report(name, examples, triager.parse_sync)
        if args.json:
            out[name] = rep.to_dict(args.errors)
        else:
            texts.append(rep.to_text(args.errors))
        if args.intents:
            ev = evaluate(Dataset.load(path, strict=False), triager.parse_sync, triager.model.version)
            texts.append(ev.to_text(args.errors))
    if args.lofo and FAMILIES_PATH.exists():
        families = load_examples(FAMILIES_PATH)
        figures = leave_one_family_out(
            Dataset.load(TRAIN_PATH), families, lambda artifact: EmbeddedTriager(artifact).parse_sync
        )
        if args.json:
            out["leave_one_family_out"] = json.loads(lofo_json(figures))
        else:
            texts.append(lofo_text(figures))
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else "\n\n".join(texts))
    return 0


def head_training_examples() -> list[Example]:
    """What the embedding stage's classifier learns from: the training data and the other languages."""
    examples = [Example(t, i, "", "train") for t, i in load_training_data().pairs()]
    if MULTILINGUAL_PATH.exists():
        examples += load_examples(MULTILINGUAL_PATH)
    return examples


def head_data_hash() -> str:
    ds = load_training_data()
    if MULTILINGUAL_PATH.exists():
        for ex in load_examples(MULTILINGUAL_PATH):
            ds.add(ex.intent, ex.text)
    return ds.content_hash()


def run_train_head(out: str | None) -> int:
    from nlu.embedding import HEAD_PATH, Embedder, fit_head

    embedder = Embedder()
    if not embedder.available:
        print(f"error: embedding model unavailable: {embedder.error}", file=sys.stderr)
        return 2
    examples = head_training_examples()
    started = time.perf_counter()
    vectors = np.vstack(
        [embedder.embed([ex.text for ex in examples[i : i + 64]]) for i in range(0, len(examples), 64)]
    )
    head = fit_head(vectors, [ex.intent for ex in examples], head_data_hash())
    head.save(out or HEAD_PATH)
    print(
        f"embedding head: {len(examples)} examples, {time.perf_counter() - started:.0f}s, saved to {out or HEAD_PATH}"
    )
    return 0
