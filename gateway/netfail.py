"""A channel's connection failure as an operator needs it: which server, which step (DNS lookup,
TCP connect, TLS handshake, certificate check, login, ...), and what to check.

Part of the adapters' contract (``bots`` may import it).  :func:`connect_failure` turns the
exceptions of an expected outage (refused, unresolvable, timed out, a certificate or handshake
refused, closed) into a :class:`~gateway.errors.ChannelConnectError`; anything else is a bug and
is left to the caller, who logs it with its traceback.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ChannelConnectError, ChannelError, HelplineError


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it.  The walk stops at the gateway's own errors (the store away
    while a message was handed in): their causes are not the channel's server."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 6 and current not in chain:
        if isinstance(current, HelplineError) and not isinstance(current, ChannelError):
            break
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def connect_failure(
    what: str,
    host: str,
    port: int | None,
    exc: BaseException,
    *,
    step: str = "connect",
    tls_key: str = "",
    ca_key: str = "",
) -> ChannelConnectError | None:
    """``exc`` as an expected outage that says which server (``what`` at ``host:port``), which step
    and what to check; None when it is not one of those (a bug: the caller logs it with its
    traceback).  ``step`` is where the caller was when ``exc`` came (a timeout says no more);
    ``tls_key`` / ``ca_key`` name the configuration keys to check for TLS and certificates."""
    import socket
    import ssl

    where = f"{host}:{port}" if port else host
    tls_hint = f" ({tls_key})" if tls_key else ""
    ca_hint = f"; a private CA belongs in {ca_key}" if ca_key else ""
    chain = _causes(exc)

    def first(kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
        # The most telling cause wins wherever it stands in the chain (a library's
        # "connect error" often wraps the refusal that says why).
        return next((c for c in chain if isinstance(c, kind)), None)

    if (known := first(ChannelConnectError)) is not None:
        return known  # type: ignore[no-any-return]
    if (cert := first(ssl.SSLCertVerificationError)) is not None:
        detail = str(cert.verify_message or "not trusted")
        return ChannelConnectError(
            what, where, "certificate check", detail, f"the server's certificate, its chain and name{ca_hint}"
        )
    if (tls := first(ssl.SSLError)) is not None:
        detail = str(tls.reason or type(tls).__name__).lower().replace("_", " ")
        return ChannelConnectError(
            what, where, "TLS handshake", detail, f"that this port speaks TLS as configured{tls_hint}"
        )
    if (dns := first(socket.gaierror)) is not None:
        return ChannelConnectError(
            what, where, "DNS lookup", str(dns.strerror or "name not found"), "the host name and DNS"
        )
    if first(ConnectionRefusedError) is not None:
        return ChannelConnectError(
            what, where, "TCP connect", "connection refused", "that the server runs and listens on this port"
        )
    if first(TimeoutError) is not None:
        return ChannelConnectError(
            what, where, step, "timed out", f"the host, the port{tls_hint} and firewalls on the way"
        )
    if first((ConnectionError, EOFError)) is not None:
        return ChannelConnectError(
            what, where, step, "connection closed by the server", f"the server's log and the port{tls_hint}"
        )
    network = next((c for c in chain if isinstance(c, OSError) and c.errno is not None), None)
    if network is not None:
        return ChannelConnectError(
            what, where, "TCP connect", str(network.strerror).lower(), "the network path to the server"
        )
    return None
