"""What the load generator sends, written down once so that a test can hold it against the pages.

Every HTTP request of the console clients goes through one of the ``Request`` constants below and
every web chat frame through one of the ``FRAME_*`` types; ``tests/bench/test_deployed_pages.py``
parses the shipped JavaScript (the console page's scripts and ``chat.js``) and fails, naming the
request, when the page makes one the benchmark does not (and that is not in ``NOT_EXERCISED``) or
the other way round.  The timers the clients mirror are here too, with where in the JavaScript
they come from, and the same test compares them with the numbers in the source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # "{}" where the page puts an id

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, *ids: str) -> str:
        return self.path.format(*ids)


CONV = "/console/api/conversations/{}"

# --- made by the benchmark's console clients (handoff/console/static, templates/login.html)
LOGIN = Request("POST", "/console/login")  # login.html's form
CANNED = Request("GET", "/console/api/canned")  # console.js start()
QUEUE = Request("GET", "/console/api/queue")  # console.js start()
CLAIM = Request("POST", CONV + "/claim")  # console_queue.js claimConversation
TRANSCRIPT = Request("GET", CONV)  # console_conversations.js loadTranscript
# console_conversations.js sendReply: only when the live socket's answer does not come
REPLY = Request("POST", CONV + "/reply")
CLOSE = Request("POST", CONV + "/close")  # console_conversations.js close button (second click)
PENDING = Request("GET", "/console/api/documentation/pending")  # records.js refreshPending
DOC_FORM = Request("GET", CONV + "/documentation")  # records.js openForm, when the close brought no form
DOC_SAVE = Request("POST", CONV + "/documentation")  # records.js form submit (apiAction)
HANDOFF_OPTIONS = Request("GET", "/console/api/handoff/options")  # handoff.js options()
REFERRALS = Request("GET", CONV + "/referrals")  # handoff.js refresh()
DISCLOSURES = Request("GET", CONV + "/disclosures")  # handoff.js refresh()
STATUS = Request("GET", "/console/api/status")  # shift.js: the counsellor's status at start
PERSON = Request("GET", CONV + "/person")  # person.js mount: a returning person's earlier contacts

EXERCISED = (
    LOGIN,
    CANNED,
    QUEUE,
    CLAIM,
    TRANSCRIPT,
    REPLY,
    CLOSE,
    PENDING,
    DOC_FORM,
    DOC_SAVE,
    HANDOFF_OPTIONS,
    REFERRALS,
    DISCLOSURES,
    STATUS,
    PERSON,
)

# --- on the pages, but actions a counsellor takes now and then, not per message: the benchmark
# does not make them.  A request added to the pages must be put either here or in EXERCISED.
NOT_EXERCISED = {
    "POST " + CONV + "/typing": "console_conversations.js sendTyping: only while the live socket is down",
    "POST " + CONV + "/transfer": "console_conversations.js: transfer to a colleague",
    "POST " + CONV + "/release": "console_conversations.js: give back to the queue",
    "POST " + CONV + "/erase": "records.js: erasure, supervision page",
    "POST " + CONV + "/referrals": "handoff.js: a referral is made",
    "POST " + CONV + "/disclosures": "handoff.js: crime information",
    "GET /console/api/handoff/proposals": "handoff.js: looking up recipients",
    "POST /console/api/referrals/{}/consent-request": "handoff.js: asking for consent",
    "POST /console/api/referrals/{}/consent-not-asked": "handoff.js: consent not asked",
    "GET /console/api/disclosures/{}/readout": "handoff.js: text to read out by phone",
    "POST /console/api/disclosures/{}/phoned": "handoff.js: a phone call recorded",
    "POST " + CONV + "/messages/{}/correction": "corrections.js: a triage correction",
    "POST /console/api/status": "shift.js: the counsellor changes status (break, away)",
    "POST /console/api/phone/calls": "phone.js: a call logged by hand (the benchmark writes in by web chat)",
    "POST /console/api/phone/calls/{}/stop": "phone.js: a call logged by hand is stopped",
    "GET /console/api/phone/calls/{}": "phone.js: a phone call's panel (only for calls)",
    "GET /console/api/phone/calls/{}/number": "phone.js: a callback's number",
    "POST /console/api/referrals/{}/consent": "phone.js: consent given on the phone",
    "GET " + CONV + "/person/{}": "person.js: an earlier conversation opened (audited)",
    "POST " + CONV + "/forget": "person.js: the person asks not to be recognised",
    "POST " + CONV + "/debrief": "person.js: a debrief note after a critical conversation",
    "POST /console/api/queue/next": "shift.js: Nästa samtal (the benchmark's counsellors pick their visitors' own)",
}

# --- websockets
CONSOLE_WS = "/console/ws"  # common.js HL.live
CHAT_WS = "/chat/ws"  # chat.js connect
WS_COMPRESS = 15
"""A browser's WebSocket offers permessage-deflate (the largest window): so do the benchmark's
sockets, so that what the server agrees to is what browsers get."""

# --- frames the console page sends on its live socket (common.js HL.live().send)
CONSOLE_FRAME_TYPING = "typing"  # console_conversations.js sendTyping: {type, conversation_id, typing}
CONSOLE_FRAME_SNAPSHOT = "snapshot"  # console_queue.js: a queue delta out of sequence
# console_conversations.js sendReply (liveAction): {type, key, conversation_id, text}
CONSOLE_FRAME_REPLY = "reply"
CONSOLE_FRAMES_SENT = (CONSOLE_FRAME_TYPING, CONSOLE_FRAME_SNAPSHOT, CONSOLE_FRAME_REPLY)
CONSOLE_FRAMES_NOT_SENT = {
    "active": "shift.js: input on the page, at most once a minute (the benchmark's counsellors stay available)",
}

# --- web chat frames the visitor sends (chat.js), in the order chat.js sends them
FRAME_HELLO = "hello"  # on open: {type, lang, resume, pending}
FRAME_TYPING = "typing"  # on input (only once the conversation exists), false on submit
FRAME_MESSAGE = "message"  # {type, client_id, text}
FRAME_SEEN = "seen"  # 300 ms after a message that is not the person's own
FRAMES_SENT = (FRAME_HELLO, FRAME_TYPING, FRAME_MESSAGE, FRAME_SEEN)
FRAMES_NOT_SENT = {"continue_later": "chat.js: the person asks for a resume code"}


@dataclass(frozen=True)
class Timer:
    seconds: float
    file: str  # under the static folder of the page
    pattern: str  # a regular expression whose first group is the milliseconds in the source
    what: str


# The page's timers the clients mirror; the test reads each number back out of the JavaScript.
SEEN_DEBOUNCE = Timer(0.3, "chat.js", r"seenTimer = setTimeout\([\s\S]*?\}, (\d+)\)", "chat.js scheduleSeen")
VISITOR_TYPING_IDLE = Timer(
    4.0, "chat.js", r"typingTimer = setTimeout\(stopTyping, (\d+)\)", "chat.js onInput"
)
CONSOLE_TYPING_REPEAT = Timer(
    4.0,
    "console_conversations.js",
    r"now - conv\.sentTyping > (\d+)",
    "console_conversations.js typingStarted repeat",
)
CONSOLE_TYPING_IDLE = Timer(
    5.0,
    "console_conversations.js",
    r"typingStopped\(id\); \}, (\d+)\)",
    "console_conversations.js typingStarted idle timer",
)
PANEL_REFRESH_DEBOUNCE = Timer(
    0.3,
    "handoff.js",
    r"soon = setTimeout\(refresh, (\d+)\)",
    "handoff.js later(): a refresh when the panel's data changed",
)
PANEL_WAITING_INTERVAL = Timer(
    10.0, "handoff.js", r"refresh\(\);\n    \}, (\d+)\)", "handoff.js refresh while something is pending"
)
PENDING_INTERVAL = Timer(
    60.0, "records.js", r"setInterval\(refreshPending, (\d+)\)", "records.js refreshPending"
)
LIVE_RECONNECT = Timer(0.5, "common.js", r"let delay = (\d+);", "common.js live() first reconnect delay")
REPLY_WAIT = Timer(
    10.0,
    "console_conversations.js",
    r"const REPLY_WAIT_MS = (\d+);",
    "console_conversations.js: a reply on the socket unanswered this long is sent as a request",
)
TIMERS = (
    SEEN_DEBOUNCE,
    VISITOR_TYPING_IDLE,
    CONSOLE_TYPING_REPEAT,
    CONSOLE_TYPING_IDLE,
    PANEL_REFRESH_DEBOUNCE,
    PANEL_WAITING_INTERVAL,
    PENDING_INTERVAL,
    LIVE_RECONNECT,
    REPLY_WAIT,
)
