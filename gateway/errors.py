"""Error hierarchy.  Every error says whether retrying the same operation can succeed."""

from __future__ import annotations

from collections.abc import Mapping


class HelplineError(Exception):
    """Base of every error the gateway raises on purpose."""

    retryable: bool = False


class ConfigError(HelplineError):
    """Configuration is missing or wrong; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"configuration key {key!r}: {problem}")
        self.key = key
        self.problem = problem


class InvalidInput(HelplineError):
    """Input from a person or a channel that cannot be accepted; ``reason`` says why, ``fields``
    (field -> message) which parts of a request were refused."""

    def __init__(self, reason: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = dict(fields) if fields is not None else None


class DeadLettered(InvalidInput):
    """The message can never be stored; it was kept as a dead letter (gateway.deadletter).

    The channel must move past it: acknowledge it and never redeliver it."""


class StoreError(HelplineError):
    """The store failed."""


class StoreUnavailable(StoreError):
    retryable = True


class NotFound(StoreError):
    """A conversation, user or record does not exist."""


class Conflict(StoreError):
    """A state change lost a race or is not allowed from the current state."""


class BrokerError(HelplineError):
    pass


class BrokerUnavailable(BrokerError):
    retryable = True


class ChannelError(HelplineError):
    """A channel adapter failed."""


class TransientChannelError(ChannelError):
    """Network trouble or a flood limit; try again later (``retry_after`` seconds if known)."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelConnectError(TransientChannelError):
    """A channel could not reach or use its server: which server, which step failed, what to check.

    An expected outage (refused, unresolvable, timed out, a certificate refused): logged at WARNING
    without a traceback, and ``/healthz`` shows its message.  The message names configuration only
    (host, port, keys), never a person."""

    def __init__(self, what: str, where: str, step: str, detail: str, hint: str) -> None:
        super().__init__(f"{what} {where}: {step} failed ({detail}); check {hint}")
        self.what = what
        self.where = where
        self.step = step
        self.detail = detail
        self.hint = hint


class BadCredentials(ChannelError):
    """The channel refused our credentials; retrying will not help until configuration changes."""


class RecipientUnreachable(ChannelError):
    """The person cannot be reached on this channel any more (blocked the bot, mailbox gone)."""


class TriageError(HelplineError):
    pass


class TriageBackendUnavailable(TriageError):
    retryable = True


class PermissionDenied(HelplineError):
    """The staff member's role does not allow this."""
