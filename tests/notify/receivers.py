"""Webhook receivers for the target tests: real HTTP(S) servers on a chosen local address.

Unlike ``tests.servers.push_service`` they bind any address (127.0.0.2, ::1), speak
HTTP/1.1 (so kept-alive connections show), can serve TLS and record the SNI name and
the peer of each request.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    peer: tuple[str, int]
    server_name: str | None  # the TLS SNI the sender gave, None over plain HTTP


@dataclass
class Receiver:
    host: str
    port: int
    scheme: str = "http"
    status: int = 204
    reply_headers: dict[str, str] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)

    def url(self, host: str | None = None, path: str = "/hook") -> str:
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.scheme}://{name}:{self.port}{path}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__(address, BaseHTTPRequestHandler, bind_and_activate=True)


@contextmanager
def receiver(
    host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A server on ``host:port`` (0: any free port) recording each POST it gets."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), family)
    state = Receiver(host, server.server_address[1], "https" if tls else "http")
    names: dict[int, str | None] = {}
    if tls is not None:

        def remember_name(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
            names[id(sock)] = name

        tls.sni_callback = remember_name
        server.socket = tls.wrap_socket(server.socket, server_side=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.arrivals.append(
                Arrival(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    peer=self.client_address[:2],
                    server_name=names.get(id(self.connection)),
                )
            )
            self.send_response(state.status)
            for name, value in state.reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ServerCertificates:
    """A CA and a server certificate it signed, as PEM files."""

    ca_file: Path
    server_context: ssl.SSLContext


def make_certificates(folder: Path, *, dns_name: str, ip: str) -> ServerCertificates:
    """A fresh CA and a server certificate for ``dns_name`` and ``ip``, signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "doorstep test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(dns_name), x509.IPAddress(ipaddress.ip_address(ip))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "server.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ServerCertificates(ca_file=ca_file, server_context=context)
