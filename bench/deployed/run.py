"""The runner: deployments, the load generator process, the servers' CPU and memory, peerbench."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import peer, procstat
from .servers import METRICS_TOKEN, PASSWORD, ROOT, SETUPS, Deployment, pg_backend_pids
from .stats import now

PG_PORT, REDIS_PORT = 5432, 6379
REST_SECONDS = 3.0


class Sampler:
    """CPU seconds of the gateway processes, PostgreSQL and Redis, read at both edges of the window."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.pg_server = procstat.pid_listening_on(PG_PORT) if dep.setup.postgres else None
        self.redis = procstat.pid_listening_on(REDIS_PORT) if dep.setup.postgres else None

    def sample(self) -> dict[str, Any]:
        s: dict[str, Any] = {"t": now(), "gateway": procstat.total_cpu(self.dep.pids)}
        s["lag"] = [loop_lag(url) for url in self.dep.urls]
        s["rss"] = procstat.total_rss(self.dep.pids)
        if self.dep.setup.postgres:
            backends = asyncio.run(pg_backend_pids(self.dep.database_name()))
            s["pg_backends"] = {p: procstat.cpu_seconds(p) for p in backends}
            if self.pg_server:
                everyone = [self.pg_server, *procstat.children_of(self.pg_server)]
                s["pg_server"] = {p: procstat.cpu_seconds(p) for p in everyone}
            if self.redis:
                s["redis"] = procstat.cpu_seconds(self.redis)
        return s


def loop_lag(url: str) -> dict[str, float]:
    """The event loop lag histogram of one process (``helpline_event_loop_lag_seconds``): the
    cumulative count per bucket bound, and the longest since the start; empty if not served."""
    req = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("helpline_event_loop_lag_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[bound] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("helpline_event_loop_lag_longest_seconds "):
            out["longest"] = float(line.rsplit(" ", 1)[1])
    return out


def window_stall(before: list[dict[str, float]], after: list[dict[str, float]]) -> dict[str, Any] | None:
    """The loop's longest stall in the window over the processes: the longest since the start if it
    grew in the window (exact), else the bucket bound of the latest sample that was late (at most);
    and the share of the 100 ms samples later than 20 ms."""
    if not any(after):
        return None
    longest, late, count = 0.0, 0.0, 0.0
    for b, a in zip(before, after, strict=True):
        if not a:
            continue
        grew = {k: a[k] - b.get(k, 0.0) for k in a if k != "longest"}
        count += grew.get("+Inf", 0.0)
        late += grew.get("+Inf", 0.0) - grew.get("0.02", 0.0)
        if a.get("longest", 0.0) > b.get("longest", 0.0):
            longest = max(longest, a["longest"])
            continue
        for value, key in sorted((float(k), k) for k in grew if k != "+Inf"):
            if grew[key] >= grew.get("+Inf", 0.0):  # the smallest bound every sample of the window is under
                longest = max(longest, value)
                break
    return {
        "longest_ms": round(1000 * longest, 1),
        "samples_over_20ms_pct": round(100 * late / count, 2) if count else None,
    }


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(p, 0.0) for p, v in after.items())


def _loadgen(
    dep: Deployment, args: argparse.Namespace, mode: str, accounts: list[str]
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, "-m", "bench.deployed.load", "--urls", ",".join(dep.urls),
        "--usernames", ",".join(accounts), "--password", PASSWORD, "--visitors", str(args.visitors),
        "--console", mode, "--rate", str(args.rate), "--think", str(args.think), "--messages", str(args.messages),
        "--alerts", str(args.alerts), "--warmup", str(args.warmup), "--duration", str(args.duration),
        "--timeout", str(args.timeout),
    ]  # fmt: skip
    if args.no_typing:
        cmd.append("--no-typing")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _expect(proc: subprocess.Popen[str], word: str) -> str:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator stopped before {word} (exit {proc.wait()})")
        if line.startswith(word):
            return line[len(word) :].strip()
        print(f"  loadgen: {line.rstrip()}", file=sys.stderr)


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("GO\n")
    proc.stdin.flush()


def measure(dep: Deployment, args: argparse.Namespace, mode: str, accounts: list[str]) -> dict[str, Any]:
    sampler = Sampler(dep)
    proc = _loadgen(dep, args, mode, accounts)
    try:
        _expect(proc, "READY")
        rest0 = sampler.sample()  # everyone connected, nobody writing: what the servers spend anyway
        time.sleep(REST_SECONDS)
        rest1 = sampler.sample()
        _go(proc)
        _expect(proc, "MEASURE")
        before = sampler.sample()
        _expect(proc, "END")
        after = sampler.sample()
        result: dict[str, Any] = json.loads(_expect(proc, "RESULT"))
    finally:
        if proc.poll() is None:
            proc.wait(timeout=120)
    seconds = after["t"] - before["t"]
    rts = result["round_trips"] or 0
    cpu = after["gateway"] - before["gateway"]
    result.update(
        mode=mode,
        server_cpu_pct=round(100 * cpu / seconds, 1),
        server_cpu_ms_per_round_trip=round(1000 * cpu / rts, 2) if rts else None,
        server_cpu_us_per_msg=round(1e6 * cpu / (2 * rts), 1) if rts else None,
        server_rss_mb=round(after["rss"] / 2**20, 1),
        loop_stall=window_stall(before["lag"], after["lag"]),
        server_cpu_pct_at_rest=round(
            100 * (rest1["gateway"] - rest0["gateway"]) / (rest1["t"] - rest0["t"]), 1
        ),
    )
    if dep.setup.postgres:
        pg = _delta(before["pg_backends"], after["pg_backends"])
        result["pg_backends_cpu_pct"] = round(100 * pg / seconds, 1)
        result["pg_backends_cpu_ms_per_round_trip"] = round(1000 * pg / rts, 2) if rts else None
        if "pg_server" in after:
            result["pg_server_cpu_pct"] = round(
                100 * _delta(before["pg_server"], after["pg_server"]) / seconds, 1
            )
        if "redis" in after:
            redis = after["redis"] - before["redis"]
            result["redis_cpu_pct"] = round(100 * redis / seconds, 1)
            result["redis_cpu_ms_per_round_trip"] = round(1000 * redis / rts, 2) if rts else None
    return result


def idle_memory(dep: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    """RSS the gateway processes add for ``--idle`` open, silent chat sockets."""
    before = procstat.total_rss(dep.pids)
    cmd = [
        sys.executable,
        "-m",
        "bench.deployed.load",
        "--urls",
        ",".join(dep.urls),
        "--idle",
        str(args.idle),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        _expect(proc, "READY")
        time.sleep(2.0)  # let the last hellos settle
        after = procstat.total_rss(dep.pids)
        _go(proc)
        result: dict[str, Any] = json.loads(_expect(proc, "RESULT"))
    finally:
        if proc.poll() is None:
            proc.wait(timeout=120)
    added = after - before
    opened = max(1, result["idle_open"])
    result.update(
        idle_rss_added_mb=round(added / 2**20, 1), idle_kib_per_socket=round(added / 1024 / opened, 1)
    )
    return result


def run_setup(name: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    setup = SETUPS[name]
    capacity = math.ceil(args.visitors / args.counsellors) + 2
    modes = ("page", "claim") if args.console == "both" else (args.console,)
    # Fresh counsellors for each mode: what the previous mode left held does not fill their capacity.
    dep = Deployment(setup, workdir / name, args.counsellors * len(modes), capacity)
    results = []
    try:
        print(
            f"== {setup.label}: preparing (database, {dep.counsellors} accounts with helpline users add)",
            file=sys.stderr,
        )
        dep.prepare()
        dep.start()
        print(f"   serving on {', '.join(dep.urls)} (pids {dep.pids})", file=sys.stderr)
        for i, mode in enumerate(modes):
            r = measure(dep, args, mode, dep.usernames[i * args.counsellors : (i + 1) * args.counsellors])
            r["setup"] = setup.label
            results.append(r)
            print_result(r)
        if args.idle:
            r = idle_memory(dep, args)
            results[-1].update(r)
            print(
                f"   {args.idle} idle visitors: +{r['idle_rss_added_mb']} MB ({r['idle_kib_per_socket']} KiB each)"
            )
    finally:
        dep.stop()
    return results


def print_result(r: dict[str, Any]) -> None:
    lat, first, alert = r["lat_ms"], r["first_answer_ms"], r["alert_ms"]
    print(f"-- {r['setup']}, console: {r['mode']}")
    offered = f" (offered {r['offered_per_s']})" if r.get("offered_per_s") else " (closed loop)"
    print(
        f"   round trips/s           {r['round_trips_per_s']}{offered}, {r['round_trips']} in {r['duration_s']} s"
    )
    print(
        f"   latency p50/p95/p99     {lat['50']} / {lat['95']} / {lat['99']} ms ({r['lat_samples']} round trips in held conversations)"
    )
    net = r.get("lat_net_ms")
    if net:
        print(
            f"   same, less the typing   {net['50']} / {net['95']} / {net['99']} ms (the counsellor's --think)"
        )
    print(f"   first answer p50/p99    {first['50']} / {first['99']} ms (queue, claim, transcript, reply)")
    for stage, v in r.get("stages_ms", {}).items():
        print(f"     {stage:<36} p50 {v['50']} ms, p99 {v['99']} ms")
    print(
        f"   server CPU              {r['server_cpu_pct']}%: {r['server_cpu_ms_per_round_trip']} ms per round trip, {r['server_cpu_us_per_msg']} µs per message"
    )
    if "pg_backends_cpu_pct" in r:
        print(
            f"   PostgreSQL CPU          {r['pg_backends_cpu_pct']}% in this database's backends ({r['pg_backends_cpu_ms_per_round_trip']} ms per round trip); whole server {r.get('pg_server_cpu_pct')}%"
        )
    if "redis_cpu_pct" in r:
        print(
            f"   Redis CPU               {r['redis_cpu_pct']}% ({r['redis_cpu_ms_per_round_trip']} ms per round trip; the server is shared)"
        )
    print(
        f"   server CPU at rest      {r['server_cpu_pct_at_rest']}% (everyone connected, nobody writing, {REST_SECONDS:.0f} s before the load)"
    )
    print(f"   server memory (RSS)     {r['server_rss_mb']} MB")
    print(
        f"   critical alert, every console  p50 {alert['50']} ms, p99 {alert['99']} ms, max {r['alert_max_ms']} ms ({r['alert_deliveries']} deliveries of {r['alerts_sent']} alerts, {r['alert_deliveries_missed']} missed)"
    )
    print(
        f"   console requests/round trip {r['requests_per_round_trip']}: {json.dumps(r['requests'], sort_keys=True)}"
    )
    print(
        f"   visitor frames          {json.dumps(r['frames_out'], sort_keys=True)}; live feed frames {json.dumps(r['console_frames'], sort_keys=True)}"
        + f"; console frames sent {json.dumps(r.get('console_frames_out', {}), sort_keys=True)}"
    )
    stall = r.get("loop_stall")
    if stall:
        print(
            f"   event loop's longest stall {stall['longest_ms']} ms ({stall['samples_over_20ms_pct']}% of the lag samples, one per 100 ms, over 20 ms)"
        )
    else:
        print("   event loop's longest stall: /metrics not served (skipped)")
    print(f"   load generator CPU      {r['loadgen_cpu_pct']}%")
    races = {k: v for k, v in r["errors"].items() if k.startswith("page race")}
    errors = {k: v for k, v in r["errors"].items() if k not in races}
    if races:
        print(
            f"   403 to a panel's read that crossed its conversation's close (the page makes them too): {sum(races.values())}"
        )
    if errors:
        print(f"   ERRORS {json.dumps(errors, sort_keys=True)}")
        for kind in errors:
            print(f"     first {kind}: {r['first_errors'][kind]}")


def print_ratios(results: list[dict[str, Any]], peers: dict[str, Any]) -> None:
    print("== server CPU per message, gateway vs peerbench (same run)")
    for name in ("relay", "opsdroid"):
        p = peers.get(name) or {}
        print(f"   {name}: {p.get('server_cpu_us_per_msg', '-')} µs per message {p.get('note', '')}")
    for r in results:
        us = r.get("server_cpu_us_per_msg")
        parts = []
        for name in ("opsdroid", "relay"):
            base = (peers.get(name) or {}).get("server_cpu_us_per_msg")
            parts.append(f"{us / base:.0f}x {name}" if us and base else f"- {name}")
        print(f"   {r['setup']}, console {r['mode']}: {us} µs per message = {', '.join(parts)}")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.deployed", description=__doc__)
    ap.add_argument("--setups", default="sqlite,pg-1,pg-2", help="of sqlite, pg-1, pg-2")
    ap.add_argument("--visitors", type=int, default=200)
    ap.add_argument("--counsellors", type=int, default=20)
    ap.add_argument("--console", choices=("page", "claim", "both"), default="page")
    ap.add_argument("--rate", type=float, default=0.0, help="round trips/s offered (default: closed loop)")
    ap.add_argument(
        "--think", type=float, default=0.0, help="seconds of typing before each message and reply"
    )
    ap.add_argument("--no-typing", action="store_true", help="no typing signals from either side")
    ap.add_argument("--messages", type=int, default=5, help="messages per conversation before it is closed")
    ap.add_argument("--alerts", type=int, default=5, help="critical messages during the window")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--idle", type=int, default=0, help="also measure the memory of this many idle visitors")
    ap.add_argument("--no-peer", action="store_true", help="skip ../shared/peerbench")
    ap.add_argument("--peer-concurrency", type=int, default=50)
    ap.add_argument("--peer-duration", type=float, default=10.0)
    ap.add_argument("--json", help="write every figure to this file")
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
        for name in args.setups.split(","):
            results += run_setup(name.strip(), args, Path(tmp))
        peers = {} if args.no_peer else peer.run(args.peer_concurrency, args.peer_duration, Path(tmp))
    if peers:
        print_ratios(results, peers)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "peers": peers}, indent=1))
