"""Registry tokens: the distribution token specification, as the coops server issues them.

When the registry runs for a server (``coops registry start --server URL``) it accepts
only requests carrying a JSON Web Token signed by the server's key; a client without
one is sent (``WWW-Authenticate: Bearer realm=...``) to the server's token endpoint,
which checks the coops token and the namespace's permissions and signs a short-lived
JWT granting ``repository:NAMESPACE/NAME:pull,push`` for what the caller may do.

The key is an EC P-256 key; the registry trusts the self-signed certificate beside it
(``rootcertbundle``) and finds it by the JWT's ``kid``, the key's libtrust fingerprint
(what Docker's distribution 2.x looks trusted keys up by). Key and certificate live in
``COOPS_HOME/registry/auth`` (or ``COOPS_REGISTRY_AUTH``), made on first use, shared by
the registry and the server that runs beside it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from containerops.model.names import NAME
from containerops.repository import registry

#: The ``service`` the registry names in its challenge and the JWT's audience.
SERVICE = "coops-registry"
#: The JWT's issuer, which the registry checks.
ISSUER = "coops"
#: Seconds a registry token lives; ``COOPS_REGISTRY_TOKEN_TTL`` changes it. A coops token
#: revoked meanwhile stops working at the registry when the last JWT it got expires.
DEFAULT_TTL = 300
#: Seconds distribution 2.x still accepts a token after its ``exp`` (its clock leeway): the
#: ``exp`` written is that much earlier, so that a token ends when its lifetime says.
REGISTRY_LEEWAY = 60
#: The actions of a repository a token may grant.
ACTIONS = ("pull", "push")
_SCOPE = re.compile(r"^repository:(?P<name>[^:]+):(?P<actions>[a-z*,]*)$")


class ScopeInvalid(ValueError):
    """A scope the token endpoint does not understand; said with the scope."""


@dataclass(frozen=True, slots=True)
class Access:
    """One ``repository:NAMESPACE/NAME:actions`` of a token request or a grant."""

    namespace: str
    name: str
    actions: tuple[str, ...]

    @property
    def repository(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def scope(self) -> str:
        return f"repository:{self.repository}:{','.join(self.actions)}"

    def claim(self) -> dict[str, object]:
        return {"type": "repository", "name": self.repository, "actions": list(self.actions)}


def parse_scope(text: str) -> Access:
    """``repository:ns/name:pull,push`` as an :class:`Access`; only coops' two-part names."""
    match = _SCOPE.match(text)
    if match is None:
        raise ScopeInvalid(f"scope {text[:200]!r} is not repository:NAMESPACE/NAME:ACTIONS")
    parts = match["name"].split("/")
    if len(parts) != 2 or not all(NAME.fullmatch(part) for part in parts):
        raise ScopeInvalid(f"repository {match['name'][:200]!r} is not NAMESPACE/NAME of the repository")
    actions = tuple(dict.fromkeys(a for a in match["actions"].split(",") if a))
    return Access(parts[0], parts[1], actions)


def token_ttl() -> int:
    """Seconds a registry token lives: ``COOPS_REGISTRY_TOKEN_TTL``, else 300."""
    value = os.environ.get("COOPS_REGISTRY_TOKEN_TTL", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_TTL


def auth_folder() -> Path:
    """Where the signing key and its certificate are: ``COOPS_REGISTRY_AUTH``, else
    ``COOPS_HOME/registry/auth``."""
    configured = os.environ.get("COOPS_REGISTRY_AUTH", "").strip()
    return Path(configured).expanduser() if configured else registry.folder() / "auth"


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The libtrust fingerprint of a key: the first 240 bits of the SHA-256 of its DER
    SubjectPublicKeyInfo, in base32, in twelve groups of four joined by ``:``."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True, slots=True)
class Signer:
    """The server's signing key, and the certificate the registry trusts it by."""

    key: ec.EllipticCurvePrivateKey
    certificate: Path

    @property
    def kid(self) -> str:
        return key_id(self.key.public_key())

    def issue(self, subject: str, access: list[Access], ttl: int | None = None) -> tuple[str, int]:
        """A JWT for ``subject`` granting ``access``, and the seconds it lives."""
        lifetime = ttl or token_ttl()
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime - REGISTRY_LEEWAY,
            "jti": secrets.token_hex(16),
            "access": [item.claim() for item in access if item.actions],
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid}), lifetime


def load_signer(folder: Path | None = None, *, create: bool = False) -> Signer | None:
    """The signer whose key is in ``folder`` (default :func:`auth_folder`); made there when
    ``create`` and missing, else None when there is none."""
    where = folder or auth_folder()
    key_file, cert_file = where / "key.pem", where / "cert.pem"
    if key_file.is_file() and cert_file.is_file():
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise registry.RegistryError(f"{key_file} is not an EC key; remove it to make a new one")
        return Signer(loaded, cert_file)
    if not create:
        return None
    where.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coops registry token signer")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Signer(key, cert_file)


def auth_settings(server_url: str, signer: Signer) -> dict[str, object]:
    """The registry configuration's ``auth`` section: tokens from ``server_url``'s endpoint."""
    return {
        "token": {
            "realm": f"{server_url.rstrip('/')}/registry/token",
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(signer.certificate),
        }
    }
