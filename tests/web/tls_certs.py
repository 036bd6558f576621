"""Certificates made per test run with ``cryptography`` (never committed keys): a CA, a
server certificate for 127.0.0.1/localhost, a client certificate it signed, and a client
certificate of another CA the server does not trust."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@attrs.frozen
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # a client certificate signed by another CA
    stranger_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    def pem(cert: x509.Certificate, name: str) -> Path:
        path = directory / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def key(name: str) -> tuple[ec.EllipticCurvePrivateKey, Path]:
        k = ec.generate_private_key(ec.SECP256R1())
        _write_key(k, directory / name)
        return k, directory / name

    ca_key, _ = key("ca.key")
    ca = _cert("test CA", ca_key, _name("test CA"), ca_key, ca=True)
    other_key, _ = key("other-ca.key")
    other = _cert("other CA", other_key, _name("other CA"), other_key, ca=True)
    server_key, server_key_path = key("server.key")
    client_key, client_key_path = key("client.key")
    stranger_key, stranger_key_path = key("stranger.key")
    return Pki(
        ca=pem(ca, "ca.crt"),
        server_cert=pem(
            _cert("localhost", server_key, ca.subject, ca_key, server=True), "server.crt"
        ),
        server_key=server_key_path,
        client_cert=pem(_cert("prometheus", client_key, ca.subject, ca_key), "client.crt"),
        client_key=client_key_path,
        stranger_cert=pem(
            _cert("stranger", stranger_key, other.subject, other_key), "stranger.crt"
        ),
        stranger_key=stranger_key_path,
    )
