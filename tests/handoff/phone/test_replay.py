"""``helpline phone replay`` (handoff.phone.replay): a call's events posted signed to a running
gateway, from a file or the demo, as a phone system posts them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from sqlalchemy import update

from gateway.store.models import StaffUser
from handoff.phone.replay import demo_events, post_events
from tests.handoff.phone.conftest import SECRET, PhoneGateway


async def test_the_demo_call_rings_is_answered_at_the_extension_and_ends(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    async with phone.db.session() as session:
        await session.execute(update(StaffUser).where(StaffUser.username == "anna").values(extension="201"))
    answers = await post_events(phone.base, SECRET, demo_events("201"))
    assert [status for status, _ in answers] == [200, 200, 200]
    conv_id = answers[0][1]["conversation_id"]
    call = await (await anna.get(f"/console/api/phone/calls/{conv_id}")).json()
    assert call["outcome"] == "answered"
    # With the wrong secret every event is refused.
    refused = await post_events(phone.base, "wrong", demo_events("201"))
    assert [status for status, _ in refused] == [401, 401, 401]


async def test_the_command_posts_a_file_of_events(phone: PhoneGateway, tmp_path: Path) -> None:
    events = tmp_path / "call.json"
    events.write_text(
        json.dumps(
            [
                {"call_id": "file-1", "event": "ringing", "caller": "withheld"},
                {"call_id": "file-1", "event": "missed", "caller": "withheld"},
            ]
        )
    )
    env = {**os.environ, "HELPLINE_DATA_DIR": str(tmp_path / "cli"), "PYTHONPATH": os.getcwd()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "phone",
        "replay",
        str(events),
        "--url",
        phone.base,
        "--secret",
        SECRET,
        "--delay",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out, err)
    lines = out.decode().splitlines()
    assert lines[0].startswith("ringing file-1: 200") and lines[1].startswith("missed file-1: 200")
