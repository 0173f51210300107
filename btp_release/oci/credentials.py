"""Where registry credentials come from: the caller, or a Docker ``config.json`` and its helpers.

:class:`Credentials` is a user and password (or access token), or an identity token; the secrets
are :class:`~btp_release.secret.Secret` values. :class:`DockerConfig` reads ``config.json`` once
(``auths``, ``credHelpers``, ``credsStore``) and runs ``docker-credential-<name> get`` when asked
for a host's credentials — which :class:`~btp_release.oci.auth.RegistryAuth` does only on the
registry's first challenge. A helper's output is never logged or quoted: it carries the secret.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from btp_release.errors import AuthenticationFailed, InvalidInput
from btp_release.redaction import get_logger
from btp_release.secret import Secret

__all__ = [
    "ANONYMOUS",
    "GCP_ACCESS_TOKEN_USER",
    "Credentials",
    "DockerConfig",
    "credentials_hint",
    "normalize_registry_host",
]

log = get_logger("btp_release.oci")

# Google Artifact Registry / GCR accept an OAuth2 access token as the password of this user.
GCP_ACCESS_TOKEN_USER = "oauth2accesstoken"  # noqa: S105 - a user name
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
_DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
# The username a credential helper returns when the secret is an identity (refresh) token.
_IDENTITY_TOKEN_USER = "<token>"  # noqa: S105 - a marker user name


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value or None
    return Secret(value) if value else None


@attrs.frozen
class Credentials:
    """A user and password (or access token), or an identity token; all empty means anonymous.

    The password and identity token are :class:`Secret` values, so ``repr()`` shows neither.
    """

    username: str | None = None
    password: Secret | None = attrs.field(default=None, converter=_secret)
    identity_token: Secret | None = attrs.field(default=None, converter=_secret)

    def __attrs_post_init__(self) -> None:
        if self.password is not None and not self.username:
            raise InvalidInput("registry credentials have a password but no username")

    @classmethod
    def basic(cls, username: str, password: Secret | str) -> Credentials:
        return cls(username=username, password=_secret(password))

    @classmethod
    def gcp_access_token(cls, token: Secret | str) -> Credentials:
        """Google Artifact Registry / GCR: user ``oauth2accesstoken``, an OAuth2 access token as password
        (e.g. ``gcloud auth print-access-token``, or the token of a workload identity federation step)."""
        return cls.basic(GCP_ACCESS_TOKEN_USER, token)

    @property
    def anonymous(self) -> bool:
        return self.password is None and self.identity_token is None

    def basic_header(self) -> str | None:
        """``Basic base64(user:password)``, or ``None`` without a password."""
        if self.username is None or self.password is None:
            return None
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def describe(self) -> str:
        """For messages: who we are, never the secret."""
        if self.identity_token is not None:
            return "an identity token"
        if self.username and self.password is not None:
            return f"user {self.username!r}"
        return "anonymous access"


ANONYMOUS = Credentials()


def normalize_registry_host(server: str) -> str:
    """``https://host:port/v1/`` → ``host:port`` (lowercase); Docker Hub's names → ``docker.io``."""
    text = server.strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    host = text.split("/", 1)[0]
    return "docker.io" if host in _DOCKER_HUB_HOSTS else host


def _helper_server(host: str) -> str:
    """What Docker passes to a credential helper: the Hub's legacy URL, or the host itself."""
    return DOCKER_HUB_SERVER if normalize_registry_host(host) == "docker.io" else host


@attrs.frozen
class DockerConfig:
    """What a Docker ``config.json`` says about registry credentials, read once.

    Lookup for a host: ``credHelpers[host]``, then an ``auths`` entry with inline credentials
    (``auth`` = base64 ``user:password``, ``username``/``password``, or ``identitytoken``), then
    ``credsStore``; otherwise anonymous. Helpers run as ``docker-credential-<name> get`` with the
    server on stdin, found on ``search_path`` (the ``PATH`` of the environ the config came from).
    """

    auths: Mapping[str, Credentials] = attrs.field(factory=dict)
    cred_helpers: Mapping[str, str] = attrs.field(factory=dict)
    creds_store: str | None = None
    path: Path | None = None
    search_path: str | None = attrs.field(default=None, repr=False)
    helper_timeout: float = 30.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DockerConfig:
        """``$DOCKER_CONFIG/config.json``, else ``$HOME/.docker/config.json``; missing → empty."""
        env = os.environ if environ is None else environ
        if env.get("DOCKER_CONFIG"):
            path = Path(env["DOCKER_CONFIG"]) / "config.json"
        else:
            home = env.get("HOME")
            path = (Path(home) if home else Path.home()) / ".docker" / "config.json"
        return cls.load(path, search_path=env.get("PATH"))

    @classmethod
    def load(cls, path: Path, *, search_path: str | None = None) -> DockerConfig:
        """Parse ``path``; a missing file is an empty config, an unreadable or invalid one an error."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path=path, search_path=search_path)
        except OSError as exc:
            raise InvalidInput(f"cannot read the Docker config {path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(
                f"the Docker config {path} is not valid JSON (line {getattr(exc, 'lineno', '?')})",
                hint="fix or remove the file, or run docker login again",
            ) from None
        return cls.parse(data, path=path, search_path=search_path)

    @classmethod
    def parse(cls, data: Any, *, path: Path | None = None, search_path: str | None = None) -> DockerConfig:
        where = str(path) if path else "the Docker config"
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{where} is not a JSON object")
        auths: dict[str, Credentials] = {}
        for server, entry in (data.get("auths") or {}).items():
            if isinstance(entry, Mapping):
                creds = _parse_auth_entry(server, entry, where)
                if not creds.anonymous:
                    auths[normalize_registry_host(server)] = creds
        helpers = {
            normalize_registry_host(server): str(name)
            for server, name in (data.get("credHelpers") or {}).items()
            if name
        }
        store = data.get("credsStore") or None
        return cls(auths, helpers, str(store) if store else None, path, search_path)

    def credentials_for(self, host: str) -> Credentials:
        """The credentials for ``host`` (``name[:port]``); may run a credential helper (blocking)."""
        key = normalize_registry_host(host)
        helper = self.cred_helpers.get(key)
        if helper:
            return self._run_helper(helper, host)
        if key in self.auths:
            return self.auths[key]
        if self.creds_store:
            return self._run_helper(self.creds_store, host)
        return ANONYMOUS

    def _run_helper(self, name: str, host: str) -> Credentials:
        program = f"docker-credential-{name}"
        where = f"{self.path}" if self.path else "the Docker config"
        import shutil  # only when a helper is configured: most runs never start one
        import subprocess

        executable = shutil.which(program, path=self.search_path)
        if executable is None:
            raise AuthenticationFailed(
                f"the credential helper {program}, configured in {where} for {host}, is not installed",
                hint=f"install {program} on PATH, or remove it from credHelpers/credsStore in {where}",
            )
        server = _helper_server(host)
        try:
            done = subprocess.run(
                [executable, "get"],
                input=server.encode(),
                capture_output=True,
                timeout=self.helper_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AuthenticationFailed(
                f"the credential helper {program} did not answer for {host} within {self.helper_timeout:g}s",
                hint=f"it may wait for an interactive unlock; run it by hand: echo {server} | {program} get",
            ) from None
        except OSError as exc:
            raise AuthenticationFailed(
                f"the credential helper {program} could not run for {host}: {exc.strerror}"
            ) from None
        # The helper's output carries the secret: it never goes into a message or a log line.
        if done.returncode != 0:
            if b"credentials not found" in done.stdout.lower() + done.stderr.lower():
                log.debug("%s has no credentials for %s: anonymous", program, host)
                return ANONYMOUS
            raise AuthenticationFailed(
                f"the credential helper {program} failed for {host} (exit status {done.returncode})",
                hint=f"run it by hand to see why: echo {server} | {program} get",
            )
        try:
            answer = json.loads(done.stdout)
            username, secret = str(answer["Username"]), str(answer["Secret"])
        except (ValueError, KeyError, TypeError):
            raise AuthenticationFailed(
                f"the credential helper {program} printed no valid credentials for {host}",
                hint='expected JSON {"Username": …, "Secret": …} on stdout',
            ) from None
        log.debug("credentials for %s from %s", host, program)
        if username == _IDENTITY_TOKEN_USER:
            return Credentials(identity_token=Secret(secret))
        return Credentials.basic(username, Secret(secret)) if secret else ANONYMOUS


def _parse_auth_entry(server: str, entry: Mapping[str, Any], where: str) -> Credentials:
    identity = entry.get("identitytoken")
    if identity:
        return Credentials(username=entry.get("username") or None, identity_token=Secret(str(identity)))
    encoded = entry.get("auth")
    if encoded:
        try:
            decoded = base64.b64decode(str(encoded), validate=True).decode("utf-8")
        except ValueError:
            decoded = ""
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            # Never quote the value: it is a credential even when malformed.
            raise InvalidInput(
                f"the 'auth' entry for {server} in {where} is not base64 of user:password",
                hint=f"run docker login {normalize_registry_host(server)} again",
            )
        return Credentials.basic(username, Secret(password))
    if entry.get("username") and entry.get("password"):
        return Credentials.basic(str(entry["username"]), Secret(str(entry["password"])))
    return ANONYMOUS


def credentials_hint(registry: str, creds: Credentials) -> str:
    """The advice for a 401: log in when anonymous, check the credentials otherwise."""
    if creds.anonymous:
        return (
            f"no credentials are configured for {registry}: run docker login {registry}, "
            "or pass credentials (for GCP: user oauth2accesstoken with an access token)"
        )
    return f"check the credentials for {registry}: they are wrong, expired or lack access"
