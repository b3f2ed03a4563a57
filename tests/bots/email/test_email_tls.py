"""The e-mail adapter over TLS: STARTTLS and implicit TLS (SMTP), IMAP over TLS, certificate checks.

Certificates are made at test time with ``cryptography`` (self-signed, for 127.0.0.1 and
localhost).  The SMTP servers are aiosmtpd: one that requires STARTTLS (and AUTH only after it),
one that speaks TLS from the first byte (SMTPS).  IMAP over TLS is a private Dovecot with
``ssl = required`` and only an imaps listener.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bots.email import EmailAdapter
from gateway.channel import AdapterState, DeliveryStatus
from gateway.envelope import (
    Direction,
    Envelope,
    SenderKind,
    new_conversation_id,
    new_message_id,
    pseudonymize,
)
from gateway.errors import BadCredentials, ConfigError, TransientChannelError
from tests.bots.email.mailstore_ingress import SqliteIngress
from tests.bots.email.mailtest_support import FROM_ADDRESS, PSEUDONYM_KEY, eventually, make_mail

USER, PASSWORD = "gw", "s3cret"

# the SMTPS server requires AUTH with auth_require_tls off (see smtp_server): aiosmtpd warns
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


# ------------------------------------------------------------------------------------------------
# certificates


@dataclass
class Cert:
    cert: Path
    key: Path


def make_cert(directory: Path, name: str, dns: list[str], ips: list[str]) -> Cert:
    """A self-signed server certificate (its own CA) for the given names."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else name)])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    out = Cert(directory / f"{name}.crt", directory / f"{name}.key")
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    out.key.chmod(0o600)
    return out


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cert]:
    directory = tmp_path_factory.mktemp("tls")
    return {
        "server": make_cert(directory, "server", ["localhost"], ["127.0.0.1"]),
        # another self-signed certificate: a CA file that does not vouch for the server
        "stranger": make_cert(directory, "stranger", ["localhost"], ["127.0.0.1"]),
        # trusted (when given as the CA file) but issued for another name
        "elsewhere": make_cert(directory, "elsewhere", ["mail.elsewhere.example"], []),
    }


def server_context(cert: Cert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return ctx


# ------------------------------------------------------------------------------------------------
# SMTP servers


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.sessions: list[tuple[bool, Any]] = []
        """(TLS on?, authenticated login) of each session that delivered a mail.  (The transport's,
        not ``session.ssl``: aiosmtpd sets that only after STARTTLS, not on an SMTPS connection.)"""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((tls, session.auth_data))
        return "250 Message accepted for delivery"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    ok = (
        text(getattr(auth_data, "login", "")) == USER and text(getattr(auth_data, "password", "")) == PASSWORD
    )
    return AuthResult(success=ok, handled=False, auth_data=text(getattr(auth_data, "login", "")))


@dataclass
class Server:
    port: int
    recorder: Recorder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server(kind: str, cert: Cert) -> Iterator[Server]:
    """``kind`` "starttls": requires STARTTLS before anything but EHLO/NOOP/QUIT, offers (and
    requires) AUTH only over TLS.  ``kind`` "smtps": TLS from the first byte (port-465 style), AUTH
    required; ``auth_require_tls`` is off there because aiosmtpd only counts STARTTLS as TLS (it
    would never offer AUTH), while the whole connection is TLS anyway, which the recorder checks on
    the transport."""
    from aiosmtpd.controller import Controller

    recorder = Recorder()
    tls: dict[str, Any] = (
        {"tls_context": server_context(cert), "require_starttls": True, "auth_require_tls": True}
        if kind == "starttls"
        else {"ssl_context": server_context(cert), "auth_require_tls": False}
    )
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=authenticator,
        auth_required=True,
        **tls,
    )
    controller.start()
    try:
        yield Server(controller.port, recorder)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(certs: dict[str, Cert]) -> Iterator[Server]:
    with smtp_server("starttls", certs["server"]) as server:
        yield server


@pytest.fixture
def smtps_server(certs: dict[str, Cert]) -> Iterator[Server]:
    with smtp_server("smtps", certs["server"]) as server:
        yield server


def adapter(port: int, security: str, **extra: Any) -> EmailAdapter:
    config = {
        "imap_host": "127.0.0.1",
        "imap_user": "u",
        "imap_password": "p",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": security,
        "smtp_user": USER,
        "smtp_password": PASSWORD,
        "from_address": FROM_ADDRESS,
    }
    config.update(extra)
    return EmailAdapter(EmailAdapter.validate_config("email", config), pseudonym_key=PSEUDONYM_KEY)


def outgoing(text: str = "Hej, här svarar stödlinjen.") -> Envelope:
    return Envelope(
        message_id=new_message_id(),
        direction=Direction.OUT,
        channel="email",
        sender=pseudonymize(PSEUDONYM_KEY, "staff", "counsellor-1"),
        text=text,
        conversation_id=new_conversation_id(),
        sender_kind=SenderKind.COUNSELLOR,
        meta={"subject": "Oro"},
    )


# ------------------------------------------------------------------------------------------------
# SMTP: delivery over STARTTLS and implicit TLS, with AUTH


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_send_over_tls_with_auth(
    security: str, certs: dict[str, Cert], starttls_server: Server, smtps_server: Server
) -> None:
    server = starttls_server if security == "starttls" else smtps_server
    sender = adapter(server.port, security, smtp_ca_file=str(certs["server"].cert))
    env = outgoing()
    delivery = await sender.send(env, "person@example.se")
    assert delivery.status == DeliveryStatus.SENT
    assert len(server.recorder.messages) == 1
    mail_from, rcpts, raw = server.recorder.messages[0]
    assert (mail_from, rcpts) == (FROM_ADDRESS, ["person@example.se"])
    assert delivery.channel_message_id and delivery.channel_message_id.encode() in raw
    assert server.recorder.sessions == [(True, USER)]  # over TLS, logged in


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_wrong_password_over_tls_is_bad_credentials(
    security: str, certs: dict[str, Cert], starttls_server: Server, smtps_server: Server
) -> None:
    server = starttls_server if security == "starttls" else smtps_server
    sender = adapter(server.port, security, smtp_ca_file=str(certs["server"].cert), smtp_password="nope")
    with pytest.raises(BadCredentials):
        await sender.send(outgoing(), "person@example.se")
    assert server.recorder.messages == []


async def test_plain_connection_to_starttls_required_server_is_refused(
    certs: dict[str, Cert], starttls_server: Server
) -> None:
    """smtp_security "none" never upgrades: the server offers no AUTH before TLS, nothing is sent."""
    with pytest.raises(TransientChannelError, match="SMTP unavailable"):
        await adapter(starttls_server.port, "none").send(outgoing(), "person@example.se")
    # without a login the server refuses the envelope itself (530 Must issue a STARTTLS command first)
    anonymous = adapter(starttls_server.port, "none", smtp_user="", smtp_password="")
    delivery = await anonymous.send(outgoing(), "person@example.se")
    assert delivery.status == DeliveryStatus.FAILED
    assert "530" in delivery.detail
    assert starttls_server.recorder.messages == []
    # configured for STARTTLS, the connection to the same server is upgraded and the mail goes out
    upgraded = adapter(starttls_server.port, "starttls", smtp_ca_file=str(certs["server"].cert))
    assert (await upgraded.send(outgoing(), "person@example.se")).status == DeliveryStatus.SENT
    assert starttls_server.recorder.sessions == [(True, USER)]


async def test_plain_client_cannot_talk_to_smtps(
    smtps_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sides wait for the other to speak first (greeting / ClientHello): the send times out."""
    monkeypatch.setattr("bots.email_out.SMTP_TIMEOUT", 1.0)
    with pytest.raises(TransientChannelError, match=r"SMTP unavailable \(.*Timeout"):
        await adapter(smtps_server.port, "none", smtp_user="").send(outgoing(), "person@example.se")
    assert smtps_server.recorder.messages == []


# ------------------------------------------------------------------------------------------------
# SMTP: certificates are verified by default


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_untrusted_certificate_is_refused_by_default(
    security: str, starttls_server: Server, smtps_server: Server
) -> None:
    server = starttls_server if security == "starttls" else smtps_server
    with pytest.raises(TransientChannelError, match=r"certificate not trusted \(self.signed certificate\)"):
        await adapter(server.port, security).send(outgoing(), "person@example.se")
    assert server.recorder.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_ca_file_replaces_the_system_cas(
    security: str, certs: dict[str, Cert], starttls_server: Server, smtps_server: Server
) -> None:
    """A CA file that does not vouch for the server's certificate: refused."""
    server = starttls_server if security == "starttls" else smtps_server
    sender = adapter(server.port, security, smtp_ca_file=str(certs["stranger"].cert))
    with pytest.raises(TransientChannelError, match="certificate not trusted"):
        await sender.send(outgoing(), "person@example.se")
    assert server.recorder.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_trusted_certificate_for_another_name_is_refused(security: str, certs: dict[str, Cert]) -> None:
    """The certificate chains to the CA file but names mail.elsewhere.example, not 127.0.0.1."""
    with smtp_server("starttls" if security == "starttls" else "smtps", certs["elsewhere"]) as server:
        sender = adapter(server.port, security, smtp_ca_file=str(certs["elsewhere"].cert))
        with pytest.raises(TransientChannelError, match=r"certificate not trusted \(IP address mismatch"):
            await sender.send(outgoing(), "person@example.se")
        assert server.recorder.messages == []


def test_ca_file_must_be_loadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        adapter(465, "tls", smtp_ca_file=str(tmp_path / "missing.pem"))
    assert info.value.key == "email.smtp_ca_file"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as info:
        adapter(993, "tls", imap_ca_file=str(garbage))
    assert info.value.key == "email.imap_ca_file"
    with pytest.raises(ConfigError):
        EmailAdapter.validate_config("email", {"imap_host": "h", "imap_user": "u", "imap_password": "p",
                                               "smtp_host": "h", "from_address": FROM_ADDRESS,
                                               "smtp_ca_file": 1})  # fmt: skip


# ------------------------------------------------------------------------------------------------
# IMAP over TLS (a private Dovecot with ssl = required, imaps only)


@pytest.fixture
def tls_dovecot(dovecot: Any, dovecot_root: Path, certs: dict[str, Cert]) -> Iterator[Any]:
    """Dovecot as the shared fixture builds it (its class, from the session instance), made TLS-only."""
    server = type(dovecot)(dovecot_root / f"tls-{_free_port()}")
    conf = server.conf.read_text()
    listeners = (
        "  inet_listener imap {\n"
        "    address = 127.0.0.1\n"
        f"    port = {server.port}\n"
        "  }\n"
        "  inet_listener imaps {\n"
        "    port = 0\n"
        "  }\n"
    )
    assert "ssl = no\n" in conf and listeners in conf
    conf = conf.replace(
        "ssl = no\n",
        f"ssl = required\nssl_cert = <{certs['server'].cert}\nssl_key = <{certs['server'].key}\n",
    )
    conf = conf.replace(
        listeners,
        "  inet_listener imap {\n"
        "    port = 0\n"
        "  }\n"
        "  inet_listener imaps {\n"
        "    address = 127.0.0.1\n"
        f"    port = {server.port}\n"
        "    ssl = yes\n"
        "  }\n",
    )
    server.conf.write_text(conf)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def running() -> AsyncIterator[list[EmailAdapter]]:
    adapters: list[EmailAdapter] = []
    yield adapters
    for a in adapters:
        await a.stop()


async def test_imap_over_tls_with_ca_file(
    tls_dovecot: Any, certs: dict[str, Cert], ingress: SqliteIngress, running: list[EmailAdapter]
) -> None:
    box = tls_dovecot.new_mailbox()
    raw, _mid = make_mail(body="Hej, det här kom över TLS.")
    box.deliver(raw)
    reader = EmailAdapter(
        EmailAdapter.validate_config(
            "email", box.config(imap_ssl=True, imap_ca_file=str(certs["server"].cert))
        ),
        pseudonym_key=PSEUDONYM_KEY,
    )
    running.append(reader)
    await reader.start(ingress)
    await eventually(lambda: reader.state() == AdapterState.CONNECTED, what="IMAP over TLS")
    await eventually(lambda: reader.ingested == 1, what="the mail read over TLS")


async def test_imap_untrusted_certificate_is_refused_by_default(
    tls_dovecot: Any, ingress: SqliteIngress, running: list[EmailAdapter]
) -> None:
    box = tls_dovecot.new_mailbox()
    reader = EmailAdapter(
        EmailAdapter.validate_config("email", box.config(imap_ssl=True)), pseudonym_key=PSEUDONYM_KEY
    )
    running.append(reader)
    await reader.start(ingress)
    await eventually(lambda: reader.state() == AdapterState.TRANSIENT_ERROR, what="a refused handshake")
    assert reader.ingested == 0
    assert "Cert" in str(reader.health().get("error")), reader.health()
