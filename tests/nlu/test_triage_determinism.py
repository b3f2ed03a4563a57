"""Triage gives the same answer in every process: two processes of one fleet, or one process
before and after a restart, must rank the same message the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MESSAGES = [
    "Hur ska jag prata med honom utan att han stänger av helt?",
    "min son har börjat umgås med nazister och jag vet inte vad jag ska göra",
    "jag har tagit alla tabletterna",
    "I want to leave the group but they know where I live",
    "hej",
    "سأقتل نفسي الليلة",
    "Oğlum bir gruba katıldı, çok korkuyorum",
    "Waxaan rabaa inaan la hadlo qof",
]

SCRIPT = """
import json, sys
from nlu.embedding import shared_stage
from nlu.triage import EmbeddedTriager, default_model
t = EmbeddedTriager(default_model(), embedding=shared_stage())
out = []
for text in json.loads(sys.stdin.read()):
    r = t.parse_sync(text)
    out.append([r.intent, r.priority.label, r.language, [[n, round(p, 6)] for n, p in r.intent_ranking],
                r.risk and r.risk["reason"]])
print(json.dumps(out))
"""


@pytest.mark.slow
def test_same_answers_under_different_hash_seeds() -> None:
    root = Path(__file__).resolve().parents[2]
    answers = []
    for seed in ("0", "1", "7", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            input=json.dumps(MESSAGES),
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        answers.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert all(a == answers[0] for a in answers[1:]), answers
