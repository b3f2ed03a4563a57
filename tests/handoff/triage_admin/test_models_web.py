"""Retraining in the background, the activation gate, activation and roll back without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.config import new_key
from nlu.data import load_test_data, load_training_data
from tests.handoff.console.conftest import Browser
from tests.handoff.triage_admin.conftest import (
    API,
    Gateway,
    audit_actions,
    create_tables,
    parse,
    start_gateway,
    train,
)

NEW_WORD = "blixtlåsgurka"
GREETINGS = ("blixtlåsgurka", "blixtlåsgurka på er", "hej blixtlåsgurka")


async def teach_a_new_greeting(b: Browser) -> None:
    for text in GREETINGS:
        resp = await b.post(f"{API}/examples", {"intent": "greet", "text": text})
        assert resp.status == 201, await resp.text()


async def models(b: Browser) -> dict[str, Any]:
    resp = await b.get(f"{API}/models")
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def test_retrain_activate_and_roll_back_without_restart(gw: Gateway, admin: Browser) -> None:
    start_version = gw.triager.model.version
    before = await parse(admin, NEW_WORD)
    assert before["intent"]["name"] == "out_of_scope"
    assert before["model_version"] == start_version
    listing = await models(admin)
    assert listing["running"]["version"] == start_version
    assert listing["versions"] == [] and listing["active"] is None and listing["job"] is None

    await teach_a_new_greeting(admin)
    job = await train(admin)
    assert job["status"] == "done", job
    candidate, active = job["candidate"], job["active"]
    # the model that was running became the active version it is compared with ...
    assert active["version"] == start_version
    # ... on the same held-out data
    test_hash = load_test_data().content_hash()
    assert candidate["metrics"]["data_hash"] == active["metrics"]["data_hash"] == test_hash
    assert candidate["metrics"]["n"] == active["metrics"]["n"] == len(load_test_data())
    for m in (candidate["metrics"], active["metrics"]):
        assert 0.9 <= m["macro_f1"] <= 1.0 and m["critical_recall"] == 1.0
    assert set(candidate["per_intent"]) == set(active["per_intent"])
    assert job["gate"]["ok"] is True
    assert job["dataset_revision"] == 3

    listing = await models(admin)
    status = {v["version"]: v["status"] for v in listing["versions"]}
    assert status == {start_version: "active", candidate["version"]: "candidate"}
    assert listing["job"]["id"] == job["id"]
    # training alone changes nothing in the running triage
    assert (await parse(admin, NEW_WORD))["intent"]["name"] == "out_of_scope"

    resp = await admin.post(f"{API}/models/{candidate['version']}/activate")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["previous"] == start_version
    after = await parse(admin, NEW_WORD)
    assert after["intent"]["name"] == "greet"
    assert after["model_version"] == candidate["version"]
    assert gw.triager.model.version == candidate["version"]  # the very triager the pipeline uses
    listing = await models(admin)
    assert listing["active"] == candidate["version"] and listing["history"] == [start_version]
    by_version = {v["version"]: v for v in listing["versions"]}
    assert by_version[candidate["version"]]["status"] == "active"
    assert by_version[candidate["version"]]["activated_by"] == "ada"
    assert by_version[start_version]["status"] == "retired"

    resp = await admin.post(f"{API}/rollback")
    assert resp.status == 200
    back = await parse(admin, NEW_WORD)
    assert back["intent"]["name"] == "out_of_scope"
    assert back["model_version"] == start_version
    listing = await models(admin)
    assert listing["active"] == start_version
    assert {v["version"]: v["status"] for v in listing["versions"]} == {
        start_version: "active",
        candidate["version"]: "retired",
    }
    nothing = await admin.post(f"{API}/rollback")
    assert nothing.status == 409
    assert (await nothing.json())["error"] == "nothing_to_roll_back"

    actions = [e["action"] for e in reversed(await audit_actions(admin)) if e["action"].startswith("triage.")]
    assert actions == [
        "triage.example.added",
        "triage.example.added",
        "triage.example.added",
        "triage.train.started",
        "triage.model.baseline",
        "triage.train.finished",
        "triage.model.activated",
        "triage.model.rolled_back",
    ]


async def test_a_candidate_that_lowers_critical_recall_is_refused(gw: Gateway, admin: Browser) -> None:
    urgent = load_training_data().examples["urgent_threat"]
    for text in urgent[20:]:  # relabel most urgent threats as out of scope
        resp = await admin.post(
            f"{API}/examples/edit", {"intent": "urgent_threat", "text": text, "new_intent": "out_of_scope"}
        )
        assert resp.status == 200, await resp.text()
    start_version = gw.triager.model.version
    urgent_before = await parse(admin, "jag ska skjuta folk på skolan imorgon")

    job = await train(admin)
    assert job["status"] == "done", job
    assert job["candidate"]["metrics"]["critical_recall"] < job["active"]["metrics"]["critical_recall"]
    assert job["gate"]["ok"] is False
    # The gate's reason in the admin's language (Swedish here; the registry's words are English).
    assert "kritisk träffsäkerhet skulle sjunka" in job["gate"]["reason"]

    version = job["candidate"]["version"]
    resp = await admin.post(f"{API}/models/{version}/activate")
    assert resp.status == 409
    body = await resp.json()
    assert body["error"] == "refused"
    assert "kritisk träffsäkerhet skulle sjunka från 1.0000" in body["reason"]
    # The one error shape (no ``message``: the page has the words for ``refused``) and the facts.
    assert "message" not in body and body["version"] == version

    listing = await models(admin)
    refused = next(v for v in listing["versions"] if v["version"] == version)
    assert refused["status"] == "refused"
    assert "kritisk träffsäkerhet skulle sjunka" in refused["reason"]
    assert listing["active"] == start_version
    assert gw.triager.model.version == start_version
    assert await parse(admin, "jag ska skjuta folk på skolan imorgon") == urgent_before

    events = [e for e in await audit_actions(admin) if e["action"] == "triage.model.refused"]
    assert len(events) == 1
    assert events[0]["details"]["version"] == version
    assert "critical recall would drop" in events[0]["details"]["reason"]
    # while one training runs, a second one is not started
    first = await admin.post(f"{API}/train")
    second = await admin.post(f"{API}/train")
    assert first.status == 202 and second.status == 409
    assert (await second.json())["error"] == "training_running"


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.redis
async def test_every_process_follows_activation_and_roll_back(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Three gateway processes on one database: two share Redis (fan-out), the third has only its
    own in-process broker and catches up by its periodic check; a fourth, started after the
    activation, loads the active model at start."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await create_tables(url)
    # Processes of one database share its secrets (a process with other keys refuses to start).
    keys: dict[str, Any] = {"secrets.pseudonym_key": new_key(), "secrets.contact_key": new_key()}
    fleet: dict[str, Any] = {"redis_url": redis_url, "redis_prefix": redis_prefix, **keys}
    a = await start_gateway(url, tmp_path / "a", **fleet)
    b = await start_gateway(url, tmp_path / "b", **fleet)
    c = await start_gateway(url, tmp_path / "c", resync_seconds=0.2, **keys)
    late: Gateway | None = None
    try:
        admin = await a.signed_in("ada", "admin")
        await teach_a_new_greeting(admin)
        job = await train(admin)
        version = job["candidate"]["version"]
        resp = await admin.post(f"{API}/models/{version}/activate")
        assert resp.status == 200, await resp.text()

        async def all_run(v: str) -> bool:
            return all(g.triager.model.version == v for g in (a, b, c))

        await wait_for(lambda: all_run(version))
        assert (await b.triager.parse(NEW_WORD)).intent == "greet"
        late = await start_gateway(url, tmp_path / "late", **fleet)
        assert late.triager.model.version == version
        assert (await late.triager.parse(NEW_WORD)).intent == "greet"

        # a response edited in one process is served by the others
        text = "Hej! Du har kommit till stödlinjen. Skriv gärna vad du vill prata om."
        resp = await admin.post(f"{API}/responses", {"intent": "greet", "language": "sv", "text": text})
        assert resp.status == 200

        others = (b, c, late)

        async def greeted() -> bool:
            return all(g.triager.parse_sync("Hej!").safe_response == text for g in others)

        await wait_for(greeted)

        resp = await admin.post(f"{API}/rollback")
        assert resp.status == 200
        start = job["active"]["version"]
        await wait_for(lambda: all_run(start))
        assert (await c.triager.parse(NEW_WORD)).intent == "out_of_scope"
    finally:
        for g in (a, b, c, late):
            if g is not None:
                await g.close()
