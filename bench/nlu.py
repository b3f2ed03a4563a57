"""Benchmark of triage with every stage on: language, word classifier, risk stage, embedding model.

    python bench/nlu.py [--parses 3000]

Runs on one core (the process is pinned to one CPU and the model to one thread), as a gateway
process would spend it.  Parses cycle over the held-out splits in every language (Swedish and
English from ``test.yml`` and ``eval_blind.yml``, the other languages from
``eval_multilingual.yml``), through ``EmbeddedTriager.parse``: cheap stages on the event loop, the
embedding model in its worker thread.  Prints:

* training time of the word classifier;
* parse latency p50, p99 and max over all messages, and for the messages that needed the model;
* the share of messages that needed the embedding model, and each stage's median time;
* the memory the language model, the embedding model and the lexicon add (resident set);
* the event loop's longest stall while parses run (a ticker every millisecond).

Aims: p99 under 50 ms, under 150 MB added, longest loop stall under 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

# Run as a script, this directory comes first on sys.path, where bench/nlu.py would shadow the
# nlu package (and other bench scripts could shadow standard modules): use the repository root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from nlu.classifier import train_artifact  # noqa: E402
from nlu.data import BLIND_PATH, MULTILINGUAL_EVAL_PATH, TEST_PATH, load_examples, load_training_data  # noqa: E402
from nlu.triage import EmbeddedTriager  # noqa: E402


def percentile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def ticker(stalls: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        stalls.append((now - last) * 1000)
        last = now


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parses", type=int, default=3000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    train = load_training_data()
    started = time.perf_counter()
    artifact = train_artifact(train)
    print(f"training: {time.perf_counter() - started:.2f} s ({len(train)} examples)")

    from nlu.embedding import shared_stage
    from nlu.language import detect_language
    from nlu.risk_lexicon import default_lexicon

    before = rss_mb()
    detect_language("hej, jag undrar en sak om min son")  # loads the language model
    default_lexicon()
    stage = shared_stage()
    stage.rank("warm up the embedding model")
    added = rss_mb() - before
    print(f"memory added by the language model, the lexicon and the embedding model: {added:.0f} MB")

    triager = EmbeddedTriager(artifact, embedding=stage)
    import gc

    gc.freeze()  # as ``helpline serve`` does after its start: the collector skips what start made
    texts = [
        ex.text for path in (TEST_PATH, BLIND_PATH, MULTILINGUAL_EVAL_PATH) for ex in load_examples(path)
    ]
    for t in texts[:50]:
        await triager.parse(t)
    times: list[float] = []
    model_times: list[float] = []
    stage_times: dict[str, list[float]] = {}
    stalls: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stalls, stop))
    for i in range(args.parses):
        text = texts[i % len(texts)]
        t0 = time.perf_counter()
        r = await triager.parse(text)
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        stages = r.extra.get("stages_ms", {})
        if "embedding_ms" in stages:
            model_times.append(ms)
        for k, v in stages.items():
            stage_times.setdefault(k, []).append(float(v))
        await asyncio.sleep(0)  # let the ticker run between parses, as other requests would
    stop.set()
    await tick
    await triager.close()
    times.sort()
    model_times.sort()
    print(
        f"parse latency, all stages, {args.parses} parses over {len(texts)} messages in 10 languages: "
        f"p50 {percentile(times, 0.50):.2f} ms, p99 {percentile(times, 0.99):.2f} ms, max {times[-1]:.2f} ms, "
        f"mean {statistics.fmean(times):.2f} ms"
    )
    if model_times:
        print(
            f"messages that needed the embedding model: {len(model_times) / len(times):.0%}; their latency "
            f"p50 {percentile(model_times, 0.50):.2f} ms, p99 {percentile(model_times, 0.99):.2f} ms"
        )
    print(
        "stage medians: "
        + ", ".join(f"{k[:-3]} {statistics.median(v):.3f} ms" for k, v in sorted(stage_times.items()))
    )
    print(f"event loop: longest stall {max(stalls):.1f} ms (ticker every 1 ms) while parsing")


if __name__ == "__main__":
    asyncio.run(main())
