"""Benchmark of the embedded triage: training time and parse latency (p50, p99).

    python bench/nlu.py [--parses 5000]

Parses cycle over the held-out test split.  Aim: p50 < 1 ms, p99 < 5 ms, training < 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
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
from nlu.data import load_test_data, load_training_data  # noqa: E402
from nlu.triage import EmbeddedTriager  # noqa: E402


def percentile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parses", type=int, default=5000)
    args = ap.parse_args()

    train = load_training_data()
    started = time.perf_counter()
    artifact = train_artifact(train)
    train_s = time.perf_counter() - started
    print(f"training: {train_s:.2f} s ({len(train)} examples, first run includes scikit-learn import)")
    started = time.perf_counter()
    train_artifact(train)
    print(f"training (warm): {time.perf_counter() - started:.2f} s")

    triager = EmbeddedTriager(artifact)
    texts = [t for t, _ in load_test_data().pairs()]
    for t in texts:  # warm up
        await triager.parse(t)
    times: list[float] = []
    for i in range(args.parses):
        text = texts[i % len(texts)]
        t0 = time.perf_counter()
        await triager.parse(text)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(
        f"parse latency over {args.parses} parses: p50 {percentile(times, 0.50):.3f} ms, "
        f"p99 {percentile(times, 0.99):.3f} ms, max {times[-1]:.3f} ms, mean {statistics.fmean(times):.3f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
