"""The channel interface every adapter implements, with shared reconnect and back-off, and the
registry of channels.

A channel is one module: its adapter class names the channel (``name``), declares its
configuration section (``config_schema``, and ``section_defaults`` for defaults taken from the
rest of the configuration) and registers itself with :func:`register_channel`.  The composition
root (``gateway.app``) knows which module holds which built-in channel and imports only the
enabled ones; a channel defined anywhere else is known once its module has been imported.

Adapters never triage and never touch the store: they turn a channel's message into an
:class:`~gateway.envelope.Envelope` and ``await ingress(envelope, address)``, and turn an
outgoing envelope into the channel's message in :meth:`ChannelAdapter.send`.

Control signals travel through the same ingress as envelopes whose ``meta["control"]`` is set;
they are not stored as messages:

* ``"end"``: the person ended the conversation (Telegram ``/stopp``); the pipeline closes it.
* ``"typing"`` / ``"paused"``: the person is typing / stopped typing (shown in the console).
* ``"delivered"``: the channel confirmed delivery of ``meta["message_id"]`` (XMPP receipts).
* ``"delivery_report"``: the channel's provider reports what became of our outgoing
  ``meta["message_id"]``: ``meta["status"]`` ``"delivered"`` or ``"failed"`` (with
  ``meta["reason"]``).  Unlike the others it needs no open conversation and no sender: the
  message id and the channel identify it (an SMS provider's report names no number).

Other ``meta`` keys the pipeline reads on ordinary messages:

* ``"suppress_auto_reply": True``: send no automatic answer (auto-replies, bounces, list mail).
* ``"language_hint": "sv"|"en"``: the channel knows the person's language.

``envelope.conversation_id`` on an incoming envelope is a hint (an e-mail reply's thread token):
the pipeline continues that conversation only if it belongs to the same pseudonym and is still
open, and otherwise the person's open conversation on the channel, or a new one.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, TypeVar

from gateway.envelope import ConversationId, Envelope, MessageId, Priority
from gateway.errors import ChannelConnectError, ConfigError
from gateway.netfail import connect_failure

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

CONTROL_END = "end"
CONTROL_TYPING = "typing"
CONTROL_PAUSED = "paused"
CONTROL_DELIVERED = "delivered"
CONTROL_DELIVERY_REPORT = "delivery_report"


class AdapterState(enum.StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STANDBY = "standby"
    """Healthy, but another process of the fleet holds the channel's lease."""
    TRANSIENT_ERROR = "transient_error"
    BAD_CREDENTIALS = "bad_credentials"


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"
    QUEUED = "queued"
    """Kept for the person to fetch (web chat resume) or retried later."""
    UNREACHABLE = "unreachable"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    status: DeliveryStatus
    channel_message_id: str | None = None
    detail: str = ""
    """Why it failed (no address, no text of the person's); kept on the message when it did."""
    facts: Mapping[str, Any] | None = None
    """What the pipeline keeps on the message and shows the counsellor (SMS: ``segments``,
    ``encoding``), JSON values only."""


@dataclass(frozen=True, slots=True)
class IngressResult:
    """What the pipeline answers an adapter once the message is stored durably."""

    conversation_id: ConversationId
    message_id: MessageId
    duplicate: bool
    priority: Priority
    state: str
    queue_position: int | None = None
    safe_response: Envelope | None = None
    """What the person is being answered; the pipeline delivers it through egress, adapters must not send it."""
    safe_response_seq: int | None = None
    """Its position in the conversation: a channel that shows the conversation itself (web chat)
    shows it at once, as it shows the acknowledgement, not when its event comes."""
    seq: int | None = None
    """The message's position in the conversation (None for a control signal)."""
    language: str | None = None
    """The conversation's language (the triage's), for what an adapter answers by itself."""


class Ingress(Protocol):
    async def __call__(self, envelope: Envelope, address: str) -> IngressResult: ...


class ChannelServices(Protocol):
    """What the gateway offers adapters that need more than ingress (web chat resume, live events).

    Adapters still never touch the store: these calls go through the gateway.
    """

    async def history(self, conversation_id: ConversationId, after_seq: int = 0) -> list[dict[str, Any]]:
        """The conversation's messages after ``after_seq`` (dicts as in ``gateway.pipeline.message_dict``)."""
        ...

    async def conversation_state(self, conversation_id: ConversationId) -> dict[str, Any] | None:
        """``{"state", "priority", "queue_position", "assigned"}``, or None if there is none."""
        ...

    async def set_resume_code(self, conversation_id: ConversationId, code: str) -> None:
        """Remember a resume code's hash for the conversation ("continue later")."""
        ...

    async def find_by_resume_code(self, channel: str, code: str) -> ConversationId | None: ...

    async def subscribe_events(self, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> Any:
        """Every conversation event in the fleet (fan-out); returns a subscription with ``cancel()``."""
        ...

    async def allow(self, key: str, limit: int, window: float) -> bool:
        """Count one call for ``key``: False once ``limit`` were admitted within ``window`` seconds,
        across every process of the fleet.  True when the limiter itself is unavailable."""
        ...


class ChannelKey(NamedTuple):
    """One key of a channel's configuration section: checked at start (type, required) and
    printed by ``helpline config reference`` (default, doc)."""

    type: type
    required: bool = False
    default: Any = None
    """What the adapter uses when the key is not given, as the reference shows it (None: nothing)."""
    doc: str = ""


class ChannelAdapter(ABC):
    """One channel.  ``config_schema`` lists the keys of the adapter's configuration section."""

    name: ClassVar[str]
    config_schema: ClassVar[Mapping[str, ChannelKey | tuple[type, bool]]] = {}
    """key -> :class:`ChannelKey` (or a plain ``(type, required)``).  Validated at start by
    :meth:`validate_config`."""
    sends_from_any_process: ClassVar[bool] = True
    """False when only the process holding the channel's connection can send (XMPP)."""
    delivers_by_events: ClassVar[bool] = False
    """True when the person receives outgoing messages from the conversation's fan-out events (web
    chat: every socket of the conversation, in any process, and the store on resume).  The pipeline
    then stores them as ``queued`` and sends no egress event: :meth:`send` would have nothing to do."""

    @classmethod
    def section_defaults(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults of the channel's section taken from the rest of the validated configuration
        (``Settings.raw``); the section's own keys win.  None by default."""
        return {}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self._state = AdapterState.STOPPED
        self.last_error: str | None = None

    @classmethod
    def validate_config(cls, section: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Check a configuration section against ``config_schema``; raise ConfigError naming the key."""
        for key in config:
            if key not in cls.config_schema and key != "enabled":
                raise ConfigError(f"{section}.{key}", "unknown key")
        out: dict[str, Any] = {}
        for key, spec in cls.config_schema.items():
            typ, required = spec[0], spec[1]
            if key not in config or config[key] is None:
                if required:
                    raise ConfigError(f"{section}.{key}", "is required")
                continue
            value = config[key]
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise ConfigError(f"{section}.{key}", f"must be {typ.__name__}, got {type(value).__name__}")
            out[key] = value
        return out

    @abstractmethod
    async def start(self, ingress: Ingress) -> None:
        """Connect and begin handing incoming messages to ``ingress``."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect; pending work is left for another process or the next start."""

    @abstractmethod
    async def send(self, envelope: Envelope, address: str) -> Delivery:
        """Deliver an outgoing envelope to the person at ``address`` (from the contact record)."""

    async def notify(
        self, conversation_id: ConversationId, address: str, event: str, data: Mapping[str, Any]
    ) -> None:
        """Conversation events the person should see: ``assigned``, ``typing``, ``paused`` (the
        counsellor stopped typing), ``closed``, ``queue``.

        Adapters of channels that can show them override this; the default shows nothing.
        """
        return None

    async def going_away(self) -> int:
        """The process is stopping: close the adapter's open connections to people at once (the web
        chat's sockets, with 1001 "going away", so that their pages resume on another process).
        Returns how many were closed; the default has none."""
        return 0

    def attach(self, services: ChannelServices) -> None:  # noqa: B027
        """Called once before start with what the gateway offers beyond ingress."""

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes the adapter serves on the gateway's own application (webhooks, widget)."""
        return []

    def describe_failure(self, exc: BaseException) -> ChannelConnectError | None:
        """An exception of the receiver's connection as an expected outage that says which server
        and step failed (see :func:`connect_failure`), or None for a bug.  The default knows no
        server; adapters that have one say which."""
        return connect_failure(self.name, "server", None, exc)

    def needs_lease(self) -> bool:
        """True when only one process of a fleet may run this adapter's receiver (pollers, XMPP)."""
        return False

    def state(self) -> AdapterState:
        return self._state

    def set_state(self, state: AdapterState, error: str | None = None) -> None:
        if state != self._state:
            log.info("channel %s: %s -> %s", self.name, self._state.value, state.value)
        self._state = state
        self.last_error = error

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self._state.value}
        if self.last_error:
            data["error"] = self.last_error
        return data


@dataclass
class Backoff:
    """Exponential back-off with full jitter, for reconnect loops and retried sends."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    attempt: int = field(default=0, init=False)

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (self.factor**self.attempt))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


async def run_with_reconnect(
    adapter: ChannelAdapter,
    connect_once: Callable[[], Awaitable[None]],
    stopping: asyncio.Event,
    backoff: Backoff | None = None,
) -> None:
    """Run ``connect_once`` until ``stopping`` is set, reconnecting with back-off when it fails.

    ``connect_once`` returns when the connection ends; it raises BadCredentials to stop for good.
    """
    from gateway.errors import BadCredentials, HelplineError, TransientChannelError

    backoff = backoff or Backoff()
    while not stopping.is_set():
        # The last failure stays visible (/healthz) while the next attempt runs.
        adapter.set_state(AdapterState.CONNECTING, adapter.last_error)
        try:
            await connect_once()
            backoff.reset()
        except BadCredentials as exc:
            log.warning("channel %s: %s", adapter.name, exc)
            adapter.set_state(AdapterState.BAD_CREDENTIALS, str(exc))
            return
        except asyncio.CancelledError:
            raise
        except TransientChannelError as exc:
            # Expected outages say what failed, without a traceback (the adapters write these
            # messages from their configuration, never from a person's data).
            log.warning("channel %s: %s", adapter.name, exc)
            adapter.set_state(AdapterState.TRANSIENT_ERROR, str(exc))
        except Exception as exc:
            known = adapter.describe_failure(exc)
            if isinstance(exc, HelplineError) and exc.retryable:
                # The gateway, not the channel: the store or the broker away while a message was
                # handed in.  The channel keeps the message; /readyz says what is down.
                log.warning(
                    "channel %s: the gateway is unavailable (%s); retrying", adapter.name, type(exc).__name__
                )
                adapter.set_state(
                    AdapterState.TRANSIENT_ERROR, f"the gateway is unavailable ({type(exc).__name__})"
                )
            elif known is not None:
                log.warning("channel %s: %s", adapter.name, known)
                adapter.set_state(AdapterState.TRANSIENT_ERROR, str(known))
            else:
                # Not an outage we know: a bug, with its traceback.
                log.exception("channel %s: unexpected failure (%s)", adapter.name, type(exc).__name__)
                adapter.set_state(
                    AdapterState.TRANSIENT_ERROR, f"unexpected {type(exc).__name__}: see the log"
                )
        if stopping.is_set():
            break
        try:
            await asyncio.wait_for(stopping.wait(), timeout=backoff.next_delay())
        except TimeoutError:
            pass
    adapter.set_state(AdapterState.STOPPED)


# ---------------------------------------------------------------------------- registry

A = TypeVar("A", bound=type[ChannelAdapter])

_REGISTERED: dict[str, type[ChannelAdapter]] = {}


def register_channel(cls: A) -> A:
    """Class decorator: ``cls`` is the adapter of the channel ``cls.name``.

    Registering a second, different class under a name already taken raises ValueError (the same
    class again, or its module imported anew, replaces it)."""
    name = cls.name
    known = _REGISTERED.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"channel {name!r} is registered already by {known.__module__}.{known.__qualname__}")
    _REGISTERED[name] = cls
    return cls


def registered_channel(name: str) -> type[ChannelAdapter] | None:
    """The adapter class registered for ``name``, if its module has been imported."""
    return _REGISTERED.get(name)


def registered_channels() -> dict[str, type[ChannelAdapter]]:
    return dict(_REGISTERED)


def shows_notifications(name: str) -> bool:
    """Whether the channel ``name`` shows the person conversation events (its adapter overrides
    :meth:`ChannelAdapter.notify`); a channel not registered here is assumed to.

    The web chat does not (its socket gets the conversation's live events): a notification for it
    was published, consumed by egress, and its contact record read and decrypted, for nothing, on
    each of the counsellor's typing signals (about one read per round trip under load, issue #18)."""
    cls = _REGISTERED.get(name)
    return cls is None or notifies(cls)


def notifies(cls: type[ChannelAdapter]) -> bool:
    """Whether the adapter class shows conversation events (overrides :meth:`ChannelAdapter.notify`)."""
    return cls.notify is not ChannelAdapter.notify
