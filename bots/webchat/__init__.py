"""Anonymous web chat: the page ``/chat``, the embeddable ``/widget.js`` and the websocket ``/chat/ws``.

Nobody who writes in is identified.  The page sets no cookie and uses no storage unless the person
chooses "continue later"; no IP address or user agent is read, stored or logged.

Identity
--------
A conversation's root is a random *secret* of 16 Crockford base32 characters (80 bits) made by the
server on ``hello``.  From it, with keys derived from the pseudonym key:

* the *address* (what the pipeline keeps, encrypted, in the contact record) is an HMAC of the secret,
  so the contact record never holds a credential; the envelope sender is
  ``pseudonymize(key, "webchat", address)``;
* the *token* the page keeps in memory is ``secret.conversation_id.mac``: any process of a fleet can
  check it without shared state, and it binds the secret to the stored conversation;
* the *resume code* shown on "continue later" is the secret itself (``XXXX-XXXX-XXXX-XXXX``); its
  hash is registered with the conversation, so a code only works once the person asked for it and
  while the conversation is open.

Protocol (JSON text frames)
---------------------------
Client -> server::

    {"type": "hello", "lang": "sv"|"en",
     "resume": null | {"conversation_id", "token", "last_seq"} | {"code"},
     "pending": ["<client_id>", ...]}            # optional: messages sent but not acknowledged
    {"type": "message", "client_id": "<uuid>", "text": "..."}
    {"type": "typing", "typing": true|false}
    {"type": "seen", "seq": N}
    {"type": "continue_later"}
    {"type": "ping"}

Server -> client::

    {"type": "welcome", "conversation_id": str|null, "token"}   # again once the conversation exists
    {"type": "message", "seq", "kind": "person|bot|counsellor|system", "text", "id"}
    {"type": "ack", "client_id", "seq", "id"}
    {"type": "status", "state": "new|bot|queued|assigned|closed|...", "queue_position", "assigned"}
    {"type": "typing", "typing": bool}
    {"type": "language", "language"}   # the conversation's language (the triage's), when it changes
    {"type": "closed"}
    {"type": "resume_code", "code"}
    {"type": "error", "code", "message", "client_id"?}
    {"type": "pong"}

Every message of the conversation reaches a socket exactly once and in ``seq`` order: live events
are conveyed when they continue the sequence, and any gap (a missed or reordered event, a resume
with ``last_seq``) is filled from the store.  A message's id is derived from the conversation's
address and the client's ``client_id``, so that a message re-sent after a reconnect is recognised
(acknowledged, not stored twice) and a replayed message the page still waits for is acknowledged
instead of shown a second time.
"""
