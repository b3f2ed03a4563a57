"""The schema of the configuration: every key with its type, default and what it does.

``key -> (type, default, description)`` or a nested dict (a section).  A default of ``REQUIRED``
means the key must be given.  :mod:`gateway.config` validates against it and
:mod:`gateway.config_reference` prints it (``helpline config reference``, docs/configuration.md),
so the reference cannot drift from what is checked.  Each channel declares its own section beside
its adapter (``ChannelAdapter.config_schema``, :class:`gateway.channel.ChannelKey`).
"""

from __future__ import annotations

from typing import Any

REQUIRED = object()
ANY_MAPPING = "mapping"

# Titles of the sections, for the reference.
SECTION_DOCS: dict[str, str] = {
    "server": "Where the HTTP server listens.",
    "database": "The PostgreSQL connection pool (ignored on SQLite).",
    "secrets": "Keys.  Without them the gateway generates both into `data_dir/secrets.json` (0600).",
    "nlu": "Triage.",
    "limits": "Limits on what a person may send.",
    "console": "The counsellors' web console.",
    "broker": "Events between processes (Redis Streams, or in-process without `redis_url`).",
    "webchat": "Defaults of the web chat channel (`channels.webchat` overrides them).",
    "handoff": "Referrals and disclosures: delivery by e-mail and webhook, reminders, the directory.",
    "retention": "How long what is stored is kept (the scheduled purge).",
    "phone": "Phone calls in the queue: the phone system's signed events (docs/phone.md).",
    "training": "Training with simulated people (`handoff.training`): kept apart, purged on its own schedule.",
    "metrics": "`GET /metrics` (Prometheus).  Served only with a token or on a port of its own.",
    "logging": "The process's log on standard error.",
}

SCHEMA: dict[str, Any] = {
    "server": {
        "host": (str, "127.0.0.1", "Address the gateway listens on (`HELPLINE_HOST`)."),
        "port": (int, 8080, "Port the gateway listens on (`HELPLINE_PORT`)."),
        "event_loop": (
            str,
            "uvloop",
            "The event loop `helpline serve` runs on: `uvloop` (libuv; about a tenth less CPU per "
            "message, docs/performance.md) or `asyncio` (the standard library's). Where uvloop is "
            "not installed the gateway says so and runs on `asyncio`.",
        ),
        "public_url": (
            str,
            "",
            "The address people and staff use (`https://...`), when a proxy in front changes the host; "
            "the console accepts same-origin requests from it.",
        ),
        "trusted_proxy": (
            bool,
            False,
            "Accepted for older configurations; has no effect: the gateway reads no client address.",
        ),
    },
    "database_url": (
        str,
        "",
        "`postgresql://...` or `sqlite:///...`; empty: SQLite in `data_dir/helpline.db` (`HELPLINE_DATABASE_URL`).",
    ),
    "database": {
        "pool_size": (
            int,
            8,
            "PostgreSQL connections each process keeps open, for its `transactions` and a few besides "
            "(health checks, sessions inside sessions). Each connection keeps its prepared statements, which the garbage collector walks: more "
            "than the server's cores rarely helps. Cut at start to the process's share of the server's "
            "limit (see `processes`).",
        ),
        "transactions": (
            int,
            3,
            "PostgreSQL transactions each process runs at once; the others wait in memory, a critical "
            "message's first, then batches of messages that have waited, then the console's reads and "
            "actions. More at once makes each wait longer for the process's one event loop; raise it "
            "for a server far away on the network, where each statement waits for the wire. At most "
            "the pool's connections less one.",
        ),
        "max_overflow": (
            int,
            0,
            "Connections a process may open beyond `pool_size` under a burst (opened and closed again: "
            "churn; 0 keeps them all open).",
        ),
        "processes": (
            int,
            2,
            "How many gateway processes share the PostgreSQL server: each cuts its pool to its share of "
            "`max_connections` (less the superusers', the database's and the role's limits, and a tenth "
            "kept for administration), with a warning.",
        ),
    },
    "redis_url": (
        str,
        "",
        "Redis for events, leases and fleet-wide rate limits; empty: in-process (one process only) "
        "(`HELPLINE_REDIS_URL`).",
    ),
    "redis_prefix": (str, "helpline:", "Prefix of every Redis key (`HELPLINE_REDIS_PREFIX`)."),
    "data_dir": (str, "./helpline-data", "Generated keys and the SQLite database (`HELPLINE_DATA_DIR`)."),
    "development": (
        bool,
        False,
        "Development on one's own machine over plain http (`helpline serve --dev`); only with it may "
        "`console.secure_cookies` be false.",
    ),
    "secrets": {
        "pseudonym_key": (
            str,
            "",
            "URL-safe base64 of 32 bytes: keys the HMAC that makes a person's pseudonym (`HELPLINE_PSEUDONYM_KEY`).",
        ),
        "contact_key": (
            str,
            "",
            "URL-safe base64 of 32 bytes: encrypts the contact records (`HELPLINE_CONTACT_KEY`).",
        ),
        "previous_contact_keys": (
            list,
            [],
            "Earlier contact keys after `helpline keys rotate contact`: they still decrypt.",
        ),
        "previous_pseudonym_keys": (
            list,
            [],
            "Earlier pseudonym keys after `helpline keys rotate pseudonym`: they still recognise a person's open conversation.",
        ),
    },
    "nlu": {
        "backend": (str, "embedded", "`embedded` (the shipped models) or `rasa`."),
        "rasa_url": (str, "", "Rasa server's URL; required with `backend: rasa`."),
        "rasa_timeout": (float, 2.0, "Seconds to wait for Rasa before falling back to the embedded triage."),
        "model_path": (str, "", "A trained model directory instead of the shipped one."),
    },
    "limits": {
        "max_message_chars": (int, 4000, "Longest message accepted from a person, in characters."),
        "messages_per_minute": (
            int,
            20,
            "Messages one person may send per minute on the web chat (fleet-wide).",
        ),
    },
    "console": {
        "session_hours": (float, 12.0, "A staff session ends this long after login."),
        "lockout_attempts": (int, 5, "Wrong passwords in a row that lock an account."),
        "lockout_minutes": (float, 15.0, "How long a locked account stays locked."),
        "password_time_cost": (
            int,
            3,
            "argon2id passes over memory for staff passwords (RFC 9106's low-memory profile: 3). "
            "Hashes made with a lower cost are made again at the holder's next login.",
        ),
        "password_memory_kib": (
            int,
            65536,
            "argon2id memory per password hash in KiB (RFC 9106's low-memory profile: 65536, 64 MiB).",
        ),
        "password_parallelism": (int, 4, "argon2id lanes per password hash (RFC 9106's profile: 4)."),
        "default_capacity": (
            int,
            3,
            "Conversations a counsellor may hold at once, for accounts made by `helpline users add` "
            "without `--capacity`.",
        ),
        "secure_cookies": (bool, True, "Cookies only over https; false only with `development: true`."),
        "session_cache_seconds": (
            float,
            2.0,
            "How long a process remembers a staff session it read, rather than reading it for every "
            "request. A change made in the same process (logout, ended session, disabled account) "
            "applies at once; one made by another process or from the command line within this "
            "time. 0: read on every request.",
        ),
        "live_snapshots_per_minute": (
            float,
            12.0,
            "Whole-queue snapshots one console socket may ask for per minute (a page asks after a "
            "missed update); more are answered with one snapshot when the allowance returns.",
        ),
        "queue_mode": (
            str,
            "free",
            "How counsellors take conversations: `free` (pick any from the queue) or `next_only` (only "
            '"Nästa samtal", the most urgent waiting one; supervisors and admins may always pick).',
        ),
        "wait_targets": (
            ANY_MAPPING,
            {"critical": 1.0, "high": 5.0, "normal": 15.0, "low": 60.0},
            "Minutes a conversation may wait, per priority, before every available counsellor and "
            "supervisor is reminded; a priority left out keeps its default.",
        ),
        "wait_reminder_max_repeat_minutes": (
            float,
            15.0,
            "A reminder is repeated while the conversation waits: every target, at most this many minutes apart.",
        ),
        "wait_check_seconds": (
            float,
            15.0,
            "How often each process checks the queue against the targets (one reminder per fleet).",
        ),
        "away_after_minutes": (
            float,
            15.0,
            "Minutes without console activity after which an available staff member becomes away "
            "(automatically; activity makes them available again). 0: never.",
        ),
        "language_hours": (
            ANY_MAPPING,
            {},
            "Per language code (e.g. `ar`), when a counsellor who speaks it is usually on duty, written "
            "in that language; told to a person whose language nobody on duty speaks.",
        ),
    },
    "broker": {
        "reclaim_idle": (
            float,
            30.0,
            "Seconds after which an event a dead consumer left unacknowledged is taken over.",
        ),
        "outbox_grace": (
            float,
            5.0,
            "Seconds after which any process publishes outbox rows another process left.",
        ),
        "pending_grace": (
            float,
            60.0,
            "Seconds after which an outgoing message still pending is sent again.",
        ),
        "send_lease": (
            float,
            60.0,
            "Seconds a process's claim on sending one outgoing message holds: a message whose sender "
            "died is sent by another process after it; each send is cut off at half of it.",
        ),
    },
    "webchat": {
        "quick_exit_url": (str, "https://www.google.com/", "Where the page's quick-exit button leads."),
        "allowed_origins": (
            list,
            [],
            "Origins (besides the gateway's own) whose pages may embed the chat widget.",
        ),
        "max_sockets": (int, 5000, 'Sockets per process; one more is closed with 1013 "try again later".'),
        "hello_timeout_seconds": (float, 10.0, "A socket that has not said hello by then is closed (1008)."),
        "heartbeat_seconds": (float, 25.0, "Ping interval; a socket that does not answer is closed."),
    },
    "handoff": {
        "reminder_hours": (float, 24.0, "A referral not confirmed after this long is reminded."),
        "reminder_check_seconds": (float, 300.0, "How often reminders are looked for."),
        "smtp_host": (
            str,
            "",
            "SMTP server for referrals and disclosures by e-mail; empty: no e-mail delivery.",
        ),
        "smtp_port": (int, 25, "Its port."),
        "smtp_starttls": (bool, False, "STARTTLS before login."),
        "smtp_username": (str, "", "Login name (empty: no login)."),
        "smtp_password": (str, "", "Login password."),
        "mail_from": (str, "", "Sender address of handoff mail."),
        "portal_url": (str, "", "The console's public address, linked in e-mails to municipalities."),
        "webhook_secrets": (ANY_MAPPING, {}, "Recipient id -> the secret that signs its webhook deliveries."),
        "webhook_attempts": (int, 5, "Tries of one webhook delivery."),
        "webhook_backoff": (float, 2.0, "First wait between webhook tries, seconds (doubling)."),
        "webhook_max_backoff": (float, 300.0, "Longest wait between webhook tries, seconds."),
        "recipient_methods": (
            ANY_MAPPING,
            {},
            "Recipient id -> its handoff methods, over the directory and the admins' edits, e.g. "
            "`{polisen: [{method: email, address: ...}]}`.",
        ),
        "directory_check_seconds": (
            float,
            10.0,
            "How often each process compares its directory with the admins' edits.",
        ),
    },
    "phone": {
        "events_secret": (
            str,
            "",
            "Shared secret of the phone system's signed events (`POST /channels/phone/events`); "
            "empty: the endpoint answers 404 (calls can still be logged by hand) "
            "(`HELPLINE_PHONE_SECRET`).",
        ),
        "events_window_seconds": (
            float,
            300.0,
            "How far an event's signed timestamp may be from the gateway's clock; an older one is refused.",
        ),
        "busy_on_call": (
            bool,
            True,
            "A counsellor on a call is shown as on call (busy) and gets no chat offers until it ends.",
        ),
    },
    "retention": {
        "enabled": (bool, True, "Run the scheduled purge in the gateway."),
        "interval_minutes": (float, 60.0, "How often the purge runs."),
        "contact_records_hours": (
            float,
            24.0,
            "Encrypted addresses are deleted this long after a conversation closed.",
        ),
        "transcripts_days": (float, 30.0, "Transcripts are deleted or anonymised this long after closing."),
        "transcripts_mode": (str, "delete", "`delete` or `anonymise`."),
        "audit_days": (float, 730.0, "Audit events are kept this long."),
        "idle_bot_days": (float, 7.0, "A conversation left with the bot this long is closed."),
        "broker_events_hours": (
            float,
            24.0,
            "Events carrying text are trimmed from Redis after this long (never longer than the transcripts).",
        ),
    },
    "training": {
        "keep_days": (
            float,
            14.0,
            "Training sessions (simulated people, never real) are deleted this long after they started.",
        ),
        "purge_interval_minutes": (float, 60.0, "How often old training sessions are purged."),
        "delay_scale": (
            float,
            1.0,
            "Multiplies the simulated people's typing delays and silences (0: they answer at once and never follow a silence up).",
        ),
    },
    "metrics": {
        "token": (
            str,
            "",
            "Bearer token `GET /metrics` asks for on the main port; empty: /metrics is not served there (404) (`HELPLINE_METRICS_TOKEN`).",
        ),
        "port": (int, 0, "Serve /metrics (without a token) on this port of its own; 0: none."),
        "host": (str, "127.0.0.1", "Address of the metrics port."),
    },
    "logging": {
        "format": (
            str,
            "plain",
            "`plain` (lines for people) or `json` (one JSON object per line) (`HELPLINE_LOG_FORMAT`).",
        ),
        "level": (str, "INFO", "Lowest level written: DEBUG, INFO, WARNING, ERROR."),
    },
    "channels": (
        ANY_MAPPING,
        {},
        "One section per channel (`channels.<name>`), checked against the channel's own schema below.",
    ),
}
