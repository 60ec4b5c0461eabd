"""The secured OpenSearch node (scripts/opensearch.sh start --secure: the security plugin, TLS,
users) and its callers: the admin, and one internal user per backend role, each a stand-in for
what the deployment maps (the ingest function's IAM role, the setup function's, analysts).

The roles under test are the product's, written by `logferry setup` run as the admin (the
code the setup custom resource runs) for one index prefix of this session; every test cleans
up the indices it made. Nothing here is a fake of OpenSearch: requests go to the real node,
and the refusals asserted are the security plugin's own.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import ipaddress
import os
import secrets
import select
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.conftest import ROOT

ACCOUNT = "123456789012"
# The backend roles the deployment maps (template.yaml names the functions' roles like this).
INGEST_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/logferry-ingest-us-east-1"
SETUP_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/logferry-setup-us-east-1"
ANALYSTS = "analysts"


@dataclass(frozen=True)
class SecureNode:
    url: str
    ca_bundle: str
    admin_user: str
    admin_password: str = field(repr=False)
    admin_cert: str
    admin_key: str
    ca_key: str

    def env(self, user: User | None = None) -> dict[str, str]:
        """The environment a logferry process signed in as `user` (default: the admin) gets."""
        username = user.name if user else self.admin_user
        password = user.password if user else self.admin_password
        return {
            "OPENSEARCH_URL": self.url,
            "LOGFERRY_CA_BUNDLE": self.ca_bundle,
            "LOGFERRY_OPENSEARCH_USERNAME": username,
            "LOGFERRY_OPENSEARCH_PASSWORD": password,
        }


@dataclass(frozen=True)
class User:
    name: str
    password: str = field(repr=False)
    backend_role: str


# The roles and the test users are the node's, not a session's: two test sessions on one
# machine (two checkouts, two `make test`) take turns.
LOCK = Path(os.environ.get("LOGFERRY_SECURE_TESTS_LOCK", "/var/tmp/logferry/security-tests.lock"))
LOCK_WAIT_SECONDS = 1800


@pytest.fixture(scope="session")
def secure_node() -> Iterator[SecureNode]:
    """The secured node: started (or reused) by the repo's script, as `make test` does; held
    by this session alone while it lasts."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as lock:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{LOCK} held by another test session") from None
                time.sleep(1)
        yield _start_secure_node()


def _start_secure_node() -> SecureNode:
    script = str(ROOT / "scripts" / "opensearch.sh")
    subprocess.run([script, "start", "--secure"], check=True)
    out = subprocess.run([script, "env", "--secure"], check=True, capture_output=True, text=True)
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return SecureNode(
        url=env["OPENSEARCH_URL"],
        ca_bundle=env["LOGFERRY_CA_BUNDLE"],
        admin_user=env["LOGFERRY_OPENSEARCH_USERNAME"],
        admin_password=Path(env["LOGFERRY_SECURE_PASSWORD_FILE"]).read_text().strip(),
        admin_cert=env["LOGFERRY_SECURE_ADMIN_CERT"],
        admin_key=env["LOGFERRY_SECURE_ADMIN_KEY"],
        ca_key=env["LOGFERRY_SECURE_CA_KEY"],
    )


def client_for(node: SecureNode, user: User | None = None) -> Any:
    """The product's own client (logferry.output.client), signed in as `user` or the admin."""
    from logferry.output.client import make_client

    return make_client(node.url, env=node.env(user))


@pytest.fixture(scope="session")
def admin(secure_node: SecureNode) -> Any:
    return client_for(secure_node)


@pytest.fixture(scope="session")
def superuser(secure_node: SecureNode) -> Any:
    """Signed in with the admin client certificate (plugins.security.authcz.admin_dn): the
    only caller that may read the security index itself."""
    from opensearchpy import OpenSearch

    host = secure_node.url.split("//", 1)[1]
    name, port = host.rsplit(":", 1)
    return OpenSearch(
        hosts=[{"host": name, "port": int(port)}],
        use_ssl=True,
        verify_certs=True,
        ca_certs=secure_node.ca_bundle,
        client_cert=secure_node.admin_cert,
        client_key=secure_node.admin_key,
        max_retries=0,
    )


@pytest.fixture(scope="session")
def users(secure_node: SecureNode, admin: Any) -> Iterator[dict[str, User]]:
    """One internal user per backend role, with a fresh generated password each session."""
    from logferry import provisioning

    made = {
        provisioning.roles.WRITER_ROLE: User(
            "logferry-test-writer", secrets.token_urlsafe(24), INGEST_ROLE_ARN
        ),
        provisioning.roles.SETUP_ROLE: User(
            "logferry-test-setup", secrets.token_urlsafe(24), SETUP_ROLE_ARN
        ),
        provisioning.roles.READER_ROLE: User(
            "logferry-test-reader", secrets.token_urlsafe(24), ANALYSTS
        ),
    }
    for user in made.values():
        admin.transport.perform_request(
            "PUT",
            f"{provisioning.roles.SECURITY_API}/internalusers/{user.name}",
            body={"password": user.password, "backend_roles": [user.backend_role]},
        )
    yield made
    for user in made.values():
        admin.transport.perform_request(
            "DELETE", f"{provisioning.roles.SECURITY_API}/internalusers/{user.name}"
        )


@dataclass(frozen=True)
class Secured:
    """The session's index prefix, with `logferry setup` applied as the admin."""

    prefix: str
    setup_output: list[str]
    setup_env: dict[str, str]


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """`logferry ARGS` in this process with `env` added to the environment: (code, out, err)."""
    from logferry import cli

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def secured(secure_node: SecureNode, admin: Any, users: dict[str, User]) -> Iterator[Secured]:
    from logferry import provisioning

    prefix = f"sec{uuid.uuid4().hex[:8]}"
    env = {
        **secure_node.env(),
        "LOGFERRY_INDEX_PREFIX": prefix,
        "LOGFERRY_WRITER_BACKEND_ROLES": INGEST_ROLE_ARN,
        "LOGFERRY_SETUP_BACKEND_ROLES": SETUP_ROLE_ARN,
        "LOGFERRY_READER_BACKEND_ROLES": ANALYSTS,
    }
    code, out, err = run_cli(["setup"], env)
    assert code == 0, err
    yield Secured(prefix, out.splitlines(), env)
    admin.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    admin.indices.delete_index_template(name=provisioning.template_name(prefix), ignore=[404])


@pytest.fixture
def prefix(secured: Secured, admin: Any) -> Iterator[str]:
    """The session's prefix; the indices a test makes are gone after it."""
    yield secured.prefix
    admin.indices.delete(index=f"{secured.prefix}-*", ignore_unavailable=True)


@pytest.fixture
def as_writer(secure_node: SecureNode, users: dict[str, User], secured: Secured) -> Any:
    from logferry import provisioning

    return client_for(secure_node, users[provisioning.roles.WRITER_ROLE])


@pytest.fixture
def as_reader(secure_node: SecureNode, users: dict[str, User], secured: Secured) -> Any:
    from logferry import provisioning

    return client_for(secure_node, users[provisioning.roles.READER_ROLE])


# -- certificates the node never presents, for the TLS failures ------------------------------


def _load_key(path: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(Path(path).read_bytes(), password=None)


def make_certificate(
    directory: Path,
    name: str,
    *,
    issuer_cert: str | None = None,
    issuer_key: str | None = None,
    expired: bool = False,
) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (a CA of its own when no issuer is given), in PEM files
    (cert, key); `expired`: valid for a day a month ago."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    start, end = (
        (now - timedelta(days=30), now - timedelta(days=29))
        if expired
        else (
            now - timedelta(days=1),
            now + timedelta(days=30),
        )
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer_cert is None:
        signer, issuer = key, subject
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        ca = x509.load_pem_x509_certificate(Path(issuer_cert).read_bytes())
        signer, issuer = _load_key(issuer_key or ""), ca.subject
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
            )
        )
    cert = builder.issuer_name(issuer).sign(signer, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsFront:
    """A TLS endpoint on 127.0.0.1 presenting a given certificate and relaying what it
    receives to the secured node over TLS: a cluster whose certificate is the only thing
    wrong. Counts the connections it was asked for."""

    def __init__(self, node: SecureNode, cert: Path, key: Path) -> None:
        self.node = node
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(cert, key)
        self.upstream_context = ssl.create_default_context(cafile=node.ca_bundle)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.connections = 0
        self.handshakes_failed = 0
        self._stop = threading.Event()
        self._relays: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            relay = threading.Thread(target=self._relay, args=(raw,), daemon=True)
            self._relays.append(relay)
            relay.start()

    def _relay(self, raw: socket.socket) -> None:
        try:
            client = self.server_context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            raw.close()
            return
        host, port = self.node.url.split("//", 1)[1].rsplit(":", 1)
        upstream = self.upstream_context.wrap_socket(
            socket.create_connection((host, int(port))), server_hostname=host
        )
        # One thread, both directions: an SSL socket must not be read and written at once.
        peers = {client: upstream, upstream: client}
        for sock in peers:
            sock.setblocking(False)
        try:
            while not self._stop.is_set():
                ready = [sock for sock in peers if sock.pending()]
                if not ready:
                    ready = select.select(list(peers), [], [], 0.5)[0]
                for sock in ready:
                    try:
                        data = sock.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue  # a record not complete yet, or not application data
                    if not data:
                        return
                    _send_all(peers[sock], data)
        except OSError:
            return
        finally:
            for sock in peers:
                sock.close()

    def settled(self, timeout: float = 10.0) -> None:
        """Wait for the relays to end (those whose handshake failed end at once)."""
        deadline = time.monotonic() + timeout
        for relay in self._relays:
            relay.join(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=2)


def _send_all(sock: ssl.SSLSocket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            select.select([], [sock], [], 0.5)
