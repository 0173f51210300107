"""The public face of the simulator: start/stop, tokens, state set-up and snapshots."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Literal

from ..faultbook import FaultBook
from ..simserver import SimulatorControls
from .errors import ApiError
from .faults import Fault
from .gitdb import FileChanges
from .models import (
    Access,
    Asset,
    CheckConclusion,
    CheckRun,
    CheckStatus,
    CommitStatus,
    GitRef,
    IssueComment,
    PullRequest,
    RecordedRequest,
    Release,
    StatusState,
)
from .protocol import Service
from .pulls import MergeMethod
from .ratelimit import SecondaryLimits
from .repos import Grant, Repositories, repo_key
from .server import GHES_API_PREFIX, UPLOADS_PATH, App
from .sockets import Servers
from .state import MAX_ASSET_SIZE, MAX_ASSETS_PER_RELEASE, RepoState

GH_HOST = "github.localhost"


class GitHubSimulator(SimulatorControls[Fault, RecordedRequest]):
    """A stateful GitHub REST simulator on real loopback sockets: its own repository
    (``owner``/``repo``) and any added with ``add_repository``.

    Three services: the REST API (``api_url``), the uploads (``uploads_url``; releases'
    ``upload_url`` points there) and the asset storage that downloads redirect to. By default one
    loopback origin serves all three (uploads under ``/api/uploads``, storage under its own path),
    because a client may only follow links to its API's host and port or to sub-domains of it,
    and sub-domains of a loopback name do not resolve everywhere; ``separate_hosts=True`` gives
    each its own port, as github.com gives each its own host. Use as a context manager, or
    ``start()``/``stop()``. Thread-safe: all state sits behind one lock.

    ``ghes=True`` serves GitHub Enterprise Server's layout (``api_url`` ends in ``/api/v3``).
    ``secondary_limits`` turns on GitHub's secondary limit on content-creating requests (off by
    default so that tests can create quickly); ``max_assets_per_release`` and ``max_asset_size``
    default to GitHub's limits (1000 assets, every asset under 2 GiB).
    """

    def __init__(
        self,
        owner: str = "kyma-project",
        repo: str = "btp-manager",
        *,
        immutable_releases: bool = False,
        rate_limit: int = 5000,
        clock: Callable[[], float] = time.time,
        separate_hosts: bool = False,
        secondary_limits: SecondaryLimits | None = None,
        max_assets_per_release: int = MAX_ASSETS_PER_RELEASE,
        max_asset_size: int = MAX_ASSET_SIZE,
        ghes: bool = False,
        default_branch: str = "main",
    ) -> None:
        if ghes and separate_hosts:
            raise ValueError(
                "GitHub Enterprise Server serves everything from one host: ghes excludes separate_hosts"
            )
        self.owner = owner
        self.repo = repo
        self.separate_hosts = separate_hosts
        self.ghes = ghes
        self._clock = clock
        self._limits = (max_assets_per_release, max_asset_size)
        self._lock = threading.RLock()
        self._state = RepoState(
            owner,
            repo,
            clock=clock,
            immutable_releases=immutable_releases,
            max_assets_per_release=max_assets_per_release,
            max_asset_size=max_asset_size,
            default_branch=default_branch,
        )
        self._repos = Repositories(self._state)
        self._faults = FaultBook[Fault]()
        self.token = "ghs_" + secrets.token_hex(18)
        self.readonly_token = "ghs_" + secrets.token_hex(18)
        self._app = App(
            repos=self._repos,
            lock=self._lock,
            faults=self._faults,
            tokens={self.token: Grant(Access.WRITE), self.readonly_token: Grant(Access.READ)},
            rate_limit=rate_limit,
            clock=clock,
            secret=secrets.token_hex(16),
            one_origin=not separate_hosts,
            secondary=secondary_limits,
            api_prefix=GHES_API_PREFIX if ghes else "",
        )
        self._request_log = self._app.requests
        self._servers: Servers | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> GitHubSimulator:
        """Bind ephemeral loopback ports (one, or three with ``separate_hosts``) and serve; idempotent."""
        if self._servers is None:
            servers = Servers(self._app, Service if self.separate_hosts else (Service.API,))
            servers.start()
            self._servers = servers
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (bounded: joins threads for at most 5 s)."""
        if self._servers is not None:
            self._servers.stop()
            self._servers = None

    def __enter__(self) -> GitHubSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _origin(self, service: Service) -> str:
        if self._servers is None:
            raise RuntimeError("GitHubSimulator is not started; use it as a context manager")
        if not self.separate_hosts:
            api = self._servers.origin(Service.API)
            return api + UPLOADS_PATH if service is Service.UPLOADS else api
        return self._servers.origin(service)

    @property
    def api_url(self) -> str:
        """REST root: github.com's layout (``/repos/...`` at the root), or ``<origin>/api/v3`` with
        ``ghes=True`` as GitHub Enterprise Server serves it."""
        return self._origin(Service.API) + (GHES_API_PREFIX if self.ghes else "")

    @property
    def web_url(self) -> str:
        """Origin of the web pages (``html_url``s); GitHub Enterprise Server's host itself."""
        return self._origin(Service.API)

    @property
    def uploads_url(self) -> str:
        """Root of the uploads (``<api_url>/api/uploads`` unless ``separate_hosts``)."""
        return self._origin(Service.UPLOADS)

    @property
    def storage_url(self) -> str:
        """Origin that asset downloads are redirected to (the API's own unless ``separate_hosts``;
        on a host of its own it rejects requests carrying credentials, as S3 does)."""
        return self._origin(Service.STORAGE)

    def gh_env(self, config_dir: str | os.PathLike[str], token: str | None = None) -> dict[str, str]:
        """Environment for the real ``gh`` CLI to talk to this simulator through HTTP_PROXY.

        Pass ``-R github.localhost/OWNER/REPO`` to gh as well.
        """
        proxy = self.web_url
        return {
            "GH_HOST": GH_HOST,
            "GH_TOKEN": token if token is not None else self.token,
            "GH_CONFIG_DIR": os.fspath(config_dir),
            "HTTP_PROXY": proxy,
            "http_proxy": proxy,
            "NO_PROXY": "",
            "no_proxy": "",
            "NO_COLOR": "1",
            "GH_PROMPT_DISABLED": "1",
            "GH_NO_UPDATE_NOTIFIER": "1",
        }

    # -- repositories and tokens ----------------------------------------------------------

    def add_repository(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        files: FileChanges | None = None,
        immutable_releases: bool = False,
    ) -> str:
        """Add the repository ``owner/name`` with one commit ("Initial commit") of ``files``
        (path → text or bytes) on ``default_branch``; returns its full name. ``sim.token`` and
        ``sim.readonly_token`` reach it like the simulator's own repository."""
        repo_key(full_name)
        owner, name = full_name.strip("/").split("/")
        with self._lock:
            state = RepoState(
                owner,
                name,
                clock=self._clock,
                immutable_releases=immutable_releases,
                max_assets_per_release=self._limits[0],
                max_asset_size=self._limits[1],
                default_branch=default_branch,
                files=files,
                repo_id=self._repos.next_id(),
            )
            self._repos.add(state)
        return state.full_name

    def repositories(self) -> list[str]:
        """Full names of every repository, the simulator's own first."""
        with self._lock:
            return [state.full_name for state in self._repos]

    def add_token(
        self,
        repos: Mapping[str, Literal["read", "write"]] | None = None,
        *,
        others: Literal["read", "write", "none"] = "read",
    ) -> str:
        """A new token with per-repository access, like a fine-grained token or an App
        installation's: ``repos`` maps ``owner/name`` to ``"read"`` or ``"write"``; every other
        repository gets ``others`` (``"none"``: it answers 404, as a private repository the
        token cannot see). E.g. ``sim.add_token({"kyma/module-manifests": "write"})``."""
        levels = {"read": Access.READ, "write": Access.WRITE, "none": None}
        grants = {repo_key(name): levels[level] for name, level in (repos or {}).items()}
        if any(level is None for level in grants.values()) or others not in levels:
            raise ValueError("access is 'read' or 'write' (others also 'none')")
        token = "ghs_" + secrets.token_hex(18)
        with self._lock:
            self._app.tokens[token] = Grant(levels[others], {k: v for k, v in grants.items() if v})
        return token

    # -- state set-up -------------------------------------------------------------------

    @property
    def head_sha(self) -> str:
        """Head of the default branch ``main``."""
        with self._lock:
            return self._state.head_sha

    def add_commit(
        self,
        message: str = "",
        *,
        sha: str | None = None,
        repo: str | None = None,
        branch: str | None = None,
        files: FileChanges | None = None,
    ) -> str:
        """Push a commit onto ``branch`` (the default branch) of ``repo`` (the simulator's own);
        it becomes the head. Returns its sha. ``files`` maps paths to their new content (text or
        bytes; None deletes). ``sha`` pushes a commit made elsewhere (e.g. the ``HEAD`` of a local
        checkout, so that a release of ``main`` is of those files); its tree is its parent's."""
        with self._lock:
            return self._repos.get(repo).add_commit(message, sha, branch=branch, files=files)

    def create_branch(self, repo: str | None, name: str, from_ref: str | None = None) -> str:
        """Create ``refs/heads/<name>`` at ``from_ref`` (the default branch); returns its sha."""
        with self._lock:
            state = self._repos.get(repo)
            sha = state.resolve(from_ref or state.default_branch)
            if sha is None:
                raise ValueError(f"no commit found for {from_ref!r} in {state.full_name}")
            return state.create_ref(f"refs/heads/{name}", sha).sha

    def branch_sha(self, repo: str | None = None, branch: str | None = None) -> str | None:
        """The commit ``branch`` (the default one) points at, None if there is no such branch."""
        with self._lock:
            state = self._repos.get(repo)
            return state.branch(branch or state.default_branch)

    def files(self, repo: str | None = None, ref: str | None = None) -> dict[str, bytes]:
        """Every file at ``ref`` (a branch, tag or sha; the default branch) of ``repo``, by path."""
        with self._lock:
            state = self._repos.get(repo)
            return state.files(ref or state.default_branch)

    def create_tag(self, name: str, sha: str | None = None, *, message: str | None = None) -> GitRef:
        """Create ``refs/tags/<name>`` (at the head by default), as a push of a tag would; with a
        ``message`` an annotated tag (``git tag -a``): the ref points at a tag object."""
        with self._lock:
            target = sha or self._state.head_sha
            if message is not None:
                target = self._state.create_tag_object(name, message, target, "commit", None).sha
            return self._state.create_ref(f"refs/tags/{name}", target)

    def _sha(self, ref: str) -> str:
        sha = self._state.resolve(ref)
        if sha is None:
            raise ValueError(f"no commit found for {ref!r}")
        return sha

    def set_status(
        self,
        sha: str,
        context: str,
        state: StatusState,
        description: str = "",
        target_url: str | None = None,
    ) -> CommitStatus:
        """Post a commit status (``sha`` may also be a branch or tag name)."""
        with self._lock:
            return self._state.create_status(self._sha(sha), state, context, description or None, target_url)

    def set_check_run(
        self,
        sha: str,
        name: str,
        status: CheckStatus,
        conclusion: CheckConclusion | None = None,
    ) -> CheckRun:
        """Create or advance the check run ``name``; ``conclusion`` only with ``completed``."""
        with self._lock:
            return self._state.set_check_run(self._sha(sha), name, status, conclusion)

    def set_immutable(self, enabled: bool) -> None:
        """Toggle the repository setting; it applies to releases published from now on."""
        with self._lock:
            self._state.immutable_releases = enabled

    @property
    def delete_ref_lag(self) -> int:
        """After deleting a tag ref, GET still answers 200 this many more times."""
        with self._lock:
            return self._state.delete_ref_lag

    @delete_ref_lag.setter
    def delete_ref_lag(self, value: int) -> None:
        if value < 0:
            raise ValueError("delete_ref_lag must be >= 0")
        with self._lock:
            self._state.delete_ref_lag = value

    # -- pull requests and issues --------------------------------------------------------

    def merge_pull_request(
        self,
        repo: str | None,
        number: int,
        *,
        method: MergeMethod = "merge",
        delete_branch: bool = False,
    ) -> str:
        """Merge an open pull request as a maintainer would on the web: a merge commit (two
        parents), a squashed commit or a fast-forward of the base branch; the pull request is
        then closed and merged. Returns the commit the base branch now points at.
        ``delete_branch`` deletes the head branch afterwards (the repository setting).
        Raises ValueError when it cannot be merged (closed, conflicting, no fast-forward)."""
        with self._lock:
            state = self._repos.get(repo)
            try:
                pr = state.pulls.merge(number, method)
            except ApiError as error:
                raise ValueError(f"pull request #{number} of {state.full_name}: {error.message}") from error
            if delete_branch:
                state.delete_ref(f"heads/{pr.head}")
            return str(pr.merge_commit_sha)

    def pull_requests(self, repo: str | None = None) -> list[PullRequest]:
        """Every pull request of ``repo``, by number (open and closed)."""
        with self._lock:
            return self._repos.get(repo).pulls.pulls()

    def add_issue(self, repo: str | None, title: str, *, body: str = "", labels: Iterable[str] = ()) -> int:
        """Open an issue (e.g. in ``kyma/release-management``); returns its number, which issues
        share with pull requests."""
        with self._lock:
            return self._repos.get(repo).pulls.add_issue(title, body or None, labels).number

    def issue_comments(self, repo: str | None, number: int) -> list[IssueComment]:
        """The comments on an issue or a pull request, oldest first."""
        with self._lock:
            return self._repos.get(repo).pulls.comments(number)

    def add_labels(self, repo: str | None, number: int, *labels: str) -> None:
        """Label an issue or pull request (labels are created in the repository as needed)."""
        with self._lock:
            self._repos.get(repo).pulls.add_labels(number, labels)

    # -- snapshots (faults and requests: SimulatorControls) -------------------------------

    def releases(self, repo: str | None = None) -> list[Release]:
        """All releases including drafts, newest first."""
        with self._lock:
            return self._repos.get(repo).releases()

    def refs(self, repo: str | None = None) -> list[GitRef]:
        with self._lock:
            return self._repos.get(repo).refs()

    def assets(self, release_id: int) -> list[Asset]:
        with self._lock:
            return self._state.assets(release_id)

    def uploaded_bytes(self, asset_id: int) -> bytes:
        """The stored content of an asset (empty for an ``open`` one)."""
        with self._lock:
            return self._state.blob(asset_id)
