"""What the e-mail channel keeps of a mail without keeping addresses (issue 15, item 14).

* Addresses in stored text (the mail's text, its full text with the quoted "On Mon, Anna Andersson
  <anna@example.se> wrote:" line, the subject) are replaced by :data:`ADDRESS_MARK`.
* The external id (the dedupe key) is a keyed hash of the Message-ID, which often contains the
  sender's address: HMAC-SHA256 with the pseudonym key.  Redeliveries hash alike, so dedupe holds.
* Message-IDs kept for threading the reply (In-Reply-To, References) are kept only when they do not
  name the sender (their address or its local part); our own reply ids, which name the
  conversation, always stay, so a person's answer still finds its conversation (and the reply still
  carries the ``[#conversation]`` tag in its subject).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Final

ADDRESS_MARK: Final = "[e-postadress]"
EXTERNAL_ID_PREFIX: Final = "mid:"

_ADDRESS_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}", re.UNICODE)


def redact_addresses(text: str) -> str:
    """``text`` with every e-mail address replaced by :data:`ADDRESS_MARK`."""
    if "@" not in text:
        return text
    return _ADDRESS_RE.sub(ADDRESS_MARK, text)


def external_id(key: bytes, message_id: str) -> str:
    """The stored dedupe key of a mail: a keyed hash of its Message-ID (case of the id ignored)."""
    digest = hmac.new(key, f"email-message-id:{message_id.strip().lower()}".encode(), hashlib.sha256)
    return EXTERNAL_ID_PREFIX + digest.hexdigest()


def names_sender(message_id: str, address: str) -> bool:
    """True when a Message-ID contains the sender's address or the local part of it."""
    if not address:
        return False
    mid = message_id.lower()
    local = address.lower().split("@", 1)[0]
    return address.lower() in mid or (len(local) >= 3 and local in mid.split("@", 1)[0])


def keepable_ids(ids: Iterable[str | None], address: str, own: re.Pattern[str]) -> list[str]:
    """The ids that may be stored: ours, and others that do not name the sender."""
    return [m for m in ids if m and (own.fullmatch(m.strip()) or not names_sender(m, address))]
