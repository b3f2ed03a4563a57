"""Fault injection: two real ``helpline serve`` processes on a private PostgreSQL and a private Redis,
under a steady load of web chat visitors, Telegram users and a counsellor at the console, while

1. the process that polls Telegram is killed with SIGKILL (and started again),
2. Redis is down for 5 s (killed without persistence: it comes back empty),
3. PostgreSQL restarts.

Afterwards (a bounded settle time, polled): every message a client saw acknowledged is stored
once; every outgoing message reached its person once (Telegram: at the Bot API stand-in; web
chat: on the page); every critical message raised an alert at a console; no page and no
transcript shows a message twice; and neither the database, nor Redis, nor the logs of the whole
run hold a Telegram user's id or name, a web chat secret or the client's IP address, nor the logs
or Redis's bookkeeping any message text.

The run happens once (a module fixture); the tests below each check one promise of it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import shutil
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from gateway.config import new_key
from gateway.envelope import Priority
from tests.bots.telegram.fake_bot_api import FakeBotAPI
from tests.faults.clients import CLIENT_IP, ChatPerson, ConsoleUser, TelegramPerson, client_session
from tests.faults.fleet import PASSWORD, Fleet, Proc, base_env, cli, free_port, train_model, write_config
from tests.faults.private_pg import PrivatePostgres, postgres_bin
from tests.gateway.conftest import PrivateRedis

pytestmark = [pytest.mark.slow]

CRITICAL = ("jag ska döda dem på skolan imorgon", "jag har tagit alla tabletter")
NORMAL = (
    "Jag är orolig för min bror, han pratar om våld hela tiden",
    "min son har fått nya vänner som hatar judar",
    "Min dotter säger att hon vill resa till Syrien",
    "hur kan jag prata med min kusin om det han ser på nätet?",
    "Min pojkvän har börjat gilla nazister och jag vet inte vad jag ska göra",
    "Jag vill bara prata med någon om det som händer i min familj",
)
CHAT_PEOPLE = 10
TELEGRAM_PEOPLE = 6
SETTLE = 75.0
"""Seconds the run may take, after the last fault, to converge."""


@dataclass
class Run:
    """What the faulted run left behind, for the tests to judge."""

    chats: list[ChatPerson]
    telegram: list[TelegramPerson]
    consoles: list[ConsoleUser]
    replies: list[dict[str, Any]]
    api_sent: list[dict[str, Any]]
    api_left: list[dict[str, Any]]
    rows: dict[str, list[dict[str, Any]]]
    transcripts: dict[str, dict[str, Any]]
    db_dump: str
    redis_dump: list[tuple[str, str]]
    logs: str
    pg_log: str
    timeline: list[tuple[float, str]]
    settled_in: float
    critical_written: list[tuple[str, str]] = field(default_factory=list)  # (who, text)

    def messages(self, **where: Any) -> list[dict[str, Any]]:
        return [m for m in self.rows["messages"] if all(m.get(k) == v for k, v in where.items())]

    def conversation_of_chat(self, person: ChatPerson) -> str:
        assert person.conv is not None, f"{person.name} never got a conversation"
        return person.conv

    def conversation_of_update(self, update_id: int) -> str:
        found = self.messages(channel="telegram", external_id=str(update_id))
        assert len(found) == 1, (update_id, found)
        return str(found[0]["conversation_id"])


async def until(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


async def fetch_rows(dsn: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the private database, bytes as base64 (as in a copy of it)."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        out: dict[str, list[dict[str, Any]]] = {}
        for table in sorted(tables):
            rows = []
            for record in await conn.fetch(f'SELECT * FROM "{table}"'):
                row: dict[str, Any] = {}
                for key, value in record.items():
                    if isinstance(value, bytes | bytearray | memoryview):
                        value = "b64:" + base64.b64encode(bytes(value)).decode()
                    elif isinstance(value, str) and key in ("meta", "triage", "payload", "details"):
                        try:
                            value = json.loads(value)
                        except ValueError:
                            pass
                    row[key] = value
                rows.append(row)
            out[table] = rows
        return out
    finally:
        await conn.close()


async def dump_redis(url: str) -> list[tuple[str, str]]:
    """(key, everything the key holds as text) for every key of the private Redis."""
    client = aioredis.from_url(url)
    out: list[tuple[str, str]] = []
    try:
        async for raw in client.scan_iter(count=1000):
            key = raw.decode(errors="replace")
            kind_raw = await client.type(raw)
            kind = kind_raw.decode() if isinstance(kind_raw, bytes) else str(kind_raw)
            if kind == "string":
                value: Any = await client.get(raw)
            elif kind == "stream":
                value = await client.xrange(raw)
                groups = await client.xinfo_groups(raw)
                value = [value, groups]
            elif kind == "hash":
                value = await client.hgetall(raw)
            elif kind == "list":
                value = await client.lrange(raw, 0, -1)
            elif kind == "set":
                value = await client.smembers(raw)
            elif kind == "zset":
                value = await client.zrange(raw, 0, -1, withscores=True)
            else:
                value = None
            out.append((key, _text(value)))
    finally:
        await client.aclose()
    return out


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return " ".join(f"{_text(k)}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return " ".join(_text(v) for v in value)
    return str(value)


# ------------------------------------------------------------------------------------- the run


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    bindir = postgres_bin()
    if bindir is None or shutil.which("redis-server") is None:
        pytest.skip("needs PostgreSQL's initdb/pg_ctl and redis-server")
    tmp = tmp_path_factory.mktemp("faults")
    pg = PrivatePostgres(bindir)
    redis = PrivateRedis(tmp)
    api = FakeBotAPI()
    fleet: Fleet | None = None
    tasks: list[asyncio.Task[Any]] = []
    chats: list[ChatPerson] = []
    consoles: list[ConsoleUser] = []
    http = client_session()
    try:

        def init_pg() -> None:
            pg.init()
            pg.start()

        model = asyncio.create_task(asyncio.to_thread(train_model, tmp / "model.npz"))
        await asyncio.to_thread(init_pg)
        redis.start()
        await api.start()
        keys = {"pseudonym": new_key(), "contact": new_key()}
        env = base_env(pg.url, redis.url, tmp / "data", keys)
        env["HELPLINE_NLU__MODEL_PATH"] = await model
        config = tmp / "faults.yml"
        write_config(config, {"token": api.token, "base_url": api.base_url})
        await asyncio.to_thread(cli, env, "db", "upgrade")
        for name, role in (("sara", "counsellor"), ("sam", "supervisor")):
            await asyncio.to_thread(
                cli, env, "users", "add", name, "--role", role, "--capacity", "40", "--password-stdin",
                stdin=PASSWORD.encode() + b"\n",
            )  # fmt: skip
        procs = [Proc(tag, free_port(), tmp / f"{tag}.log") for tag in ("a", "b")]
        fleet = Fleet(env, config, procs, http)
        for proc in procs:
            fleet.start(proc)
        for proc in procs:
            await fleet.wait_up(proc)

        # The victim of the kill is the process that polls Telegram (it holds the lease).
        async def holder() -> Proc | None:
            for proc in procs:
                health = await fleet.health(proc)  # type: ignore[union-attr]
                if health and health["channels"]["telegram"].get("lease") == "held":
                    return proc
            return None

        victim = None
        deadline = time.monotonic() + 30
        while victim is None:
            assert time.monotonic() < deadline, "no process took the Telegram lease"
            victim = await holder()
            await asyncio.sleep(0.2)
        survivor = procs[1] if victim is procs[0] else procs[0]
        fleet.note(f"telegram lease held by {victim.tag}")

        sara = ConsoleUser("sara", PASSWORD, lambda: [survivor.url, victim.url])
        sam = ConsoleUser("sam", PASSWORD, lambda: [victim.url, survivor.url])
        consoles = [sara, sam]
        for console in consoles:
            await console.login()
            console.watch()

        rng = random.Random(15)
        chats = [
            ChatPerson(
                f"chat{i}",
                http,
                (lambda: [victim.url, survivor.url]) if i % 2 == 0 else (lambda: [survivor.url, victim.url]),
            )
            for i in range(CHAT_PEOPLE)
        ]
        people = [
            TelegramPerson(
                # Ids and names no other text of the run could contain by chance.
                chat_id=7_391_000_000 + 4817 * (i + 1),
                username=f"zqx_faultuser_{i}_vbn",
                first_name=f"Qwyneth{i}",
                last_name=f"Faultsdottir{i}",
            )
            for i in range(TELEGRAM_PEOPLE)
        ]
        faults_done = asyncio.Event()
        critical_written: list[tuple[str, str]] = []
        replies: list[dict[str, Any]] = []
        claimed: dict[str, str] = {}

        for person in chats:
            person.start()

        async def chat_load(person: ChatPerson, index: int) -> None:
            sent = 0
            while sent < 3 or (not faults_done.is_set() and sent < 25):
                if sent == 1 and index % 3 == 0:
                    text = CRITICAL[index % 2]
                    critical_written.append((person.name, text))
                else:
                    text = rng.choice(NORMAL)
                client_id = await person.write(text)
                sent += 1
                await person.wait_acked(client_id, timeout=120)
                await asyncio.sleep(rng.uniform(1.5, 3.5))

        async def telegram_write(person: TelegramPerson, text: str) -> None:
            update = api.text_update(person.chat_id, text, **person.who())
            person.updates[update["update_id"]] = text
            await api.push_update(update)

        async def telegram_load(person: TelegramPerson, index: int) -> None:
            sent = 0
            while sent < 3 or (not faults_done.is_set() and sent < 25):
                if sent == 1 and index % 3 == 1:
                    text = CRITICAL[index % 2]
                    critical_written.append((f"tg{index}", text))
                else:
                    text = rng.choice(NORMAL)
                await telegram_write(person, text)
                sent += 1
                await asyncio.sleep(rng.uniform(2.0, 4.0))

        async def counsellor() -> None:
            n = 0
            while not faults_done.is_set() or n < 12:
                status, queue = await sara.call("GET", "/console/api/queue", deadline=60)
                waiting = queue["waiting"] if status == 200 else []
                for entry in waiting[:1]:
                    if len(claimed) < 14:
                        conv_id = entry["conversation_id"]
                        status, _ = await sara.call(
                            "POST", f"/console/api/conversations/{conv_id}/claim", deadline=60
                        )
                        if status == 200:
                            claimed[conv_id] = entry["channel"]
                if claimed:
                    conv_id = rng.choice(sorted(claimed))
                    n += 1
                    text = f"Hej, det är Sara (svar {n}). Berätta gärna mer om vad som har hänt."
                    key = uuid.uuid4().hex
                    path = f"/console/api/conversations/{conv_id}/reply"
                    status, body = await sara.call("POST", path, {"text": text}, key=key, deadline=90)
                    replies.append(
                        {"conversation_id": conv_id, "text": text, "key": key, "status": status, "body": body}
                    )
                    if n % 3 == 0:  # the same action sent again (a double click, a lost answer)
                        again, body2 = await sara.call("POST", path, {"text": text}, key=key, deadline=90)
                        replies[-1]["again"] = (again, body2)
                await asyncio.sleep(rng.uniform(1.0, 2.0))

        async def held_chat_person() -> ChatPerson | None:
            for person in chats:
                if person.conv in claimed and all(person.name != who for who, _ in critical_written):
                    return person
            return None

        async def write_critical(person: ChatPerson, text: str) -> None:
            critical_written.append((person.name, text))
            await person.write(text)

        async def faults() -> None:
            assert fleet is not None
            await asyncio.sleep(6)
            # 1. kill -9 the Telegram poller, with the web chat and console sockets it holds.
            fleet.kill(victim)
            await asyncio.sleep(1.0)
            await write_critical(chats[2], CRITICAL[0])  # its page was on the killed process
            fleet.start(victim)
            await fleet.wait_up(victim, timeout=120)
            fleet.note(f"{victim.tag} up again")
            await asyncio.sleep(4)
            # 2. Redis down for 5 s; it comes back without its data.
            redis.stop()
            fleet.note("redis down")
            held = await held_chat_person()
            if held is not None:  # a conversation Sara holds turns critical while Redis is away
                await write_critical(held, CRITICAL[1])
            await telegram_write(people[0], CRITICAL[0])
            critical_written.append(("tg0", CRITICAL[0]))
            await asyncio.sleep(5)
            redis.start()
            fleet.note("redis up")
            for proc in procs:
                await fleet.wait_up(proc, timeout=60)
            await asyncio.sleep(4)
            # 3. PostgreSQL restarts.
            await asyncio.to_thread(pg.stop)
            fleet.note("postgres down")
            await write_critical(chats[5], CRITICAL[1])
            await telegram_write(people[3], CRITICAL[1])
            critical_written.append(("tg3", CRITICAL[1]))
            await asyncio.sleep(2)
            await asyncio.to_thread(pg.start)
            fleet.note("postgres up")
            for proc in procs:
                await fleet.wait_up(proc, timeout=60)
            await asyncio.sleep(3)
            fleet.note("faults done")
            faults_done.set()

        tasks = [asyncio.create_task(chat_load(p, i)) for i, p in enumerate(chats)]
        tasks += [asyncio.create_task(telegram_load(p, i)) for i, p in enumerate(people)]
        tasks.append(asyncio.create_task(counsellor()))
        fault_task = asyncio.create_task(faults())
        await fault_task
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=180)
        fleet.note("load done")

        # ---- settle: poll until everything that should happen has happened (or time is up)
        settle_started = time.monotonic()

        async def converged() -> bool:
            if any(p.pending for p in chats):
                return False
            rows = await fetch_rows(pg.dsn)
            messages = rows["messages"]
            out_tg = [m for m in messages if m["channel"] == "telegram" and m["direction"] == "out"]
            if any(m["delivery"] not in ("sent", "delivered") for m in out_tg):
                return False
            if len(api.sent) < len(out_tg):
                return False
            by_conv = Counter(m["conversation_id"] for m in messages if m["channel"] == "webchat")
            for p in chats:
                shown_or_acked = {f["id"] for f in p.shown} | set(p.acked.values())
                if p.conv is None or len(shown_or_acked) < by_conv[p.conv]:
                    return False
            critical_convs = {c["id"] for c in rows["conversations"] if c["priority"] == Priority.CRITICAL}
            alerted = {a.get("conversation_id") for c in consoles for a in c.alerts}
            if not critical_convs <= alerted:
                return False
            return not rows["outbox_events"] and not api.updates

        await until(converged, timeout=SETTLE, every=1.0)
        settled_in = time.monotonic() - settle_started
        fleet.note("settled")
        t0 = fleet.events[0][0]
        print("fault run:", [(round(at - t0, 1), what) for at, what in fleet.events])

        rows = await fetch_rows(pg.dsn)
        transcripts: dict[str, dict[str, Any]] = {}
        for conv in rows["conversations"]:
            status, body = await sam.call("GET", f"/console/api/conversations/{conv['id']}", deadline=30)
            assert status == 200, (status, body)
            transcripts[conv["id"]] = body

        for person in chats:
            await person.stop()
        for console in consoles:
            await console.close()
        fleet.stop_all()
        fleet.note("stopped")
        db_dump = json.dumps(await fetch_rows(pg.dsn), default=str, ensure_ascii=False)
        redis_dump = await dump_redis(redis.url)
        yield Run(
            chats=chats,
            telegram=people,
            consoles=consoles,
            replies=replies,
            api_sent=[{**c.params, "_at": c.at} for c in api.calls_of("sendMessage") if c.params.get("_ok")],
            api_left=list(api.updates),
            rows=rows,
            transcripts=transcripts,
            db_dump=db_dump,
            redis_dump=redis_dump,
            logs=fleet.logs(),
            pg_log=pg.log.read_text(errors="replace") if pg.log.exists() else "",
            timeline=fleet.events,
            settled_in=settled_in,
            critical_written=critical_written,
        )
    finally:
        for task in tasks:
            task.cancel()
        for person in chats:
            await person.stop()
        for console in consoles:
            await console.close()
        if fleet is not None:
            fleet.stop_all()
        await http.close()
        await api.close()
        redis.stop()
        await asyncio.to_thread(pg.remove)


# ------------------------------------------------------------------------------------- the checks


def test_every_acknowledged_message_is_stored_once(run: Run) -> None:
    ids = Counter(m["id"] for m in run.rows["messages"])
    assert max(ids.values()) == 1
    for person in run.chats:
        assert not person.pending, f"{person.name}: never acknowledged {person.pending}"
        assert set(person.acked) == set(person.sent)
        conv = run.conversation_of_chat(person)
        stored = {m["id"]: m for m in run.messages(conversation_id=conv, direction="in")}
        for client_id, message_id in person.acked.items():
            assert message_id in stored, f"{person.name}: acknowledged {client_id} is not stored"
            assert stored[message_id]["text"] == person.sent[client_id]
        # Nothing else of the person's was stored (a resend is no second message).
        assert sorted(stored) == sorted(person.acked.values())
    for tg in run.telegram:
        for update_id, text in tg.updates.items():
            found = run.messages(channel="telegram", external_id=str(update_id))
            assert len(found) == 1, f"update {update_id} stored {len(found)} times"
            assert found[0]["text"] == text
    assert not run.api_left, "updates Telegram would send again (never confirmed)"


def test_every_outgoing_telegram_message_is_delivered_once(run: Run) -> None:
    for tg in run.telegram:
        convs = {run.conversation_of_update(u) for u in tg.updates}
        stored = [
            m for m in run.rows["messages"] if m["conversation_id"] in convs and m["direction"] == "out"
        ]
        assert stored, f"no answer to {tg.chat_id} at all"
        for m in stored:
            assert m["delivery"] in ("sent", "delivered"), (m["sender_kind"], m["delivery"])
        texts = Counter(m["text"] for m in stored)
        received = Counter(
            p["text"] for p in run.api_sent if p["chat_id"] == tg.chat_id and p["text"] in texts
        )
        if received != texts:
            t0 = run.timeline[0][0]
            when = [
                (round(p["_at"] - t0, 2), p["text"][:30]) for p in run.api_sent if p["chat_id"] == tg.chat_id
            ]
            events = [(round(at - t0, 2), what) for at, what in run.timeline]
            raise AssertionError(
                f"chat {tg.chat_id}: stored {texts}, Telegram got {received}: {when}; {events}"
            )


def test_every_counsellor_reply_is_stored_and_delivered_once(run: Run) -> None:
    assert len(run.replies) >= 12
    outgoing = run.messages(direction="out", sender_kind="counsellor")
    by_text = Counter(m["text"] for m in outgoing)
    for reply in run.replies:
        assert reply["status"] == 200, reply
        assert by_text[reply["text"]] == 1, f"{reply['text']!r} stored {by_text[reply['text']]} times"
        if "again" in reply:  # the repeat got the first answer, and acted no more
            assert reply["again"] == (200, reply["body"])
    chats_by_conv = {p.conv: p for p in run.chats}
    for reply in run.replies:
        person = chats_by_conv.get(reply["conversation_id"])
        if person is not None:
            shown = [f for f in person.shown if f["text"] == reply["text"]]
            assert len(shown) == 1, f"{person.name} saw {reply['text']!r} {len(shown)} times"


def test_web_chat_pages_show_every_message_once(run: Run) -> None:
    for person in run.chats:
        conv = run.conversation_of_chat(person)
        for seqs in person.seqs_by_socket:
            assert len(seqs) == len(set(seqs)), f"{person.name}: a socket showed a seq twice: {seqs}"
        shown = Counter(f["id"] for f in person.shown)
        assert not [i for i, n in shown.items() if n > 1], f"{person.name} was shown a message twice"
        outgoing = run.messages(conversation_id=conv, direction="out")
        missing = [m["text"] for m in outgoing if m["id"] not in shown]
        assert not missing, f"{person.name} never saw {missing}"
        # Every position of the conversation reached the page once: as its own acknowledged
        # message or as a message frame.
        acked = set(person.acked.values())
        stored = run.messages(conversation_id=conv)
        assert all((m["id"] in acked) != (m["id"] in shown) for m in stored if m["direction"] == "in")


def test_every_critical_message_alerted_a_console(run: Run) -> None:
    assert len(run.critical_written) >= 6
    critical_convs = {c["id"] for c in run.rows["conversations"] if c["priority"] == Priority.CRITICAL}
    for who, text in run.critical_written:
        if who.startswith("tg"):
            person = run.telegram[int(who[2:])]
            convs = {run.conversation_of_update(u) for u, t in person.updates.items() if t == text}
        else:
            person_c = next(p for p in run.chats if p.name == who)
            convs = {run.conversation_of_chat(person_c)}
        assert convs <= critical_convs, f"{who}: {text!r} did not make the conversation critical"
    alerted = Counter()  # type: Counter[str]
    for console in run.consoles:
        for alert in console.alerts:
            assert alert["priority"] == "critical"
            alerted[alert["conversation_id"]] += 1
    missing = critical_convs - set(alerted)
    frames = {c.name: (c.connects, Counter(f.get("type") for f in c.frames)) for c in run.consoles}
    assert not missing, f"critical conversations never alerted: {missing}; consoles {frames}"


def test_the_console_transcripts_show_every_message_once(run: Run) -> None:
    for conv_id, transcript in run.transcripts.items():
        messages = transcript["messages"]
        ids = Counter(m["id"] for m in messages)
        seqs = [m["seq"] for m in messages]
        assert max(ids.values()) == 1, f"{conv_id}: a message shown twice"
        assert seqs == list(range(1, len(seqs) + 1)), f"{conv_id}: seqs {seqs}"
        stored = run.messages(conversation_id=conv_id)
        assert sorted(ids) == sorted(m["id"] for m in stored)
    # Live: the console never got one message event twice.
    for console in run.consoles:
        seen = Counter(
            f["message"]["id"]
            for f in console.frames
            if f.get("type") == "conversation" and f.get("kind") == "message" and f.get("message")
        )
        assert not [i for i, n in seen.items() if n > 1], f"{console.name} got a message event twice"


def test_nothing_identifying_is_kept_or_logged_in_clear(run: Run) -> None:
    redis_all = "\n".join(f"{k} {v}" for k, v in run.redis_dump)
    places = {
        "database": run.db_dump,
        "redis": redis_all,
        "gateway logs": run.logs,
        "postgresql log": run.pg_log,
    }
    needles: list[str] = []
    for tg in run.telegram:
        needles += [str(tg.chat_id), tg.username, tg.first_name, tg.last_name]
    needles += [p.secret for p in run.chats if p.secret]
    needles.append(CLIENT_IP)
    for where, text in places.items():
        found = [n for n in needles if n in text]
        assert not found, f"{where} holds {found}"
    # The gateway's own address is only in the start banner (never a client's).
    logged = [line for line in run.logs.splitlines() if "127.0.0.1" in line]
    assert all(
        "http://127.0.0.1:" in line
        and line.lstrip().startswith(("helpline", "web chat", "counsellor", "health"))
        for line in logged
    ), logged
    # Message texts: in the database's messages (the transcript), never in a log; in Redis only
    # as the conversation events that carry them (trimmed by the retention rule).
    texts = {m["text"] for m in run.rows["messages"] if m["text"]}
    assert texts
    for text in texts:
        assert text not in run.logs, f"a log holds {text!r}"
        assert text not in run.pg_log, f"the database's log holds {text!r}"
        other = [k for k, v in run.redis_dump if text in v and not k.endswith("stream:conversation")]
        assert not other, f"{other} hold {text!r}"
