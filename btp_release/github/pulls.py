"""Pull requests, their reviewers and labels, and issue comments, for proposing a change.

Pull requests are found by their head branch of this repository (``head=OWNER:branch``; GitHub
silently ignores a bare branch name there, so results are checked again here). Creating calls
look first: ``create_pull_request`` returns the open pull request from the same head to the same
base, ``comment`` an existing comment with the same body, so a re-run after any failure creates
nothing twice. Adding labels and requesting reviewers are set unions on GitHub, safe to repeat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs

from btp_release.errors import AlreadyExists, Conflict, InvalidInput, PermissionDenied
from btp_release.github._http import GitHubSession
from btp_release.github.repofiles import check_branch
from btp_release.redaction import get_logger

__all__ = ["IssueComment", "PullRequest", "PullRequestOperations"]

log = get_logger("btp_release.github")

_STATES = ("open", "closed", "all")
_TEAM_PAGE = re.compile(r"/orgs/(?P<org>[^/]+)/teams/")
_WRITE_HINT = (
    "the token needs 'pull-requests: write' on {repo} (and 'contents: write' to push branches; "
    "a fine-grained token: Pull requests and Contents read and write)"
)


def _login(user: Any) -> str:
    return str(user.get("login") or "") if isinstance(user, Mapping) else ""


def _team(team: Mapping[str, Any]) -> str:
    """``ORG/slug`` for a requested team (the organisation read from its web page), else ``slug``."""
    slug = str(team.get("slug") or team.get("name") or "")
    found = _TEAM_PAGE.search(str(team.get("html_url") or ""))
    return f"{found.group('org')}/{slug}" if found else slug


@attrs.frozen
class PullRequest:
    """A pull request as GitHub lists it; ``merged`` is ``merged_at`` being set (list items
    carry no ``merged`` field). ``requested_reviewers`` holds logins and ``ORG/slug`` of teams,
    as :meth:`PullRequestOperations.request_reviewers` takes them; a reviewer who has reviewed
    is no longer requested. ``merge_commit_sha`` of an open pull request is GitHub's test merge."""

    number: int
    state: str
    merged: bool
    title: str
    body: str
    head_ref: str
    head_sha: str
    base_ref: str
    html_url: str
    labels: tuple[str, ...] = ()
    requested_reviewers: tuple[str, ...] = ()
    draft: bool = False
    user: str = ""
    merge_commit_sha: str | None = None

    @property
    def open(self) -> bool:
        return self.state == "open"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PullRequest:
        head, base = data.get("head") or {}, data.get("base") or {}
        reviewers = [_login(u) for u in data.get("requested_reviewers") or []]
        teams = [_team(t) for t in data.get("requested_teams") or [] if isinstance(t, Mapping)]
        merge_sha = data.get("merge_commit_sha")
        return cls(
            number=int(data["number"]),
            state=str(data.get("state") or ""),
            merged=data.get("merged_at") is not None or bool(data.get("merged")),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            head_ref=str(head.get("ref") or ""),
            head_sha=str(head.get("sha") or ""),
            base_ref=str(base.get("ref") or ""),
            html_url=str(data.get("html_url") or ""),
            labels=tuple(
                str(label["name"]) for label in data.get("labels") or [] if isinstance(label, Mapping)
            ),
            requested_reviewers=tuple(r for r in (*reviewers, *teams) if r),
            draft=bool(data.get("draft")),
            user=_login(data.get("user")),
            merge_commit_sha=str(merge_sha) if merge_sha else None,
        )


@attrs.frozen
class IssueComment:
    """A comment on an issue or a pull request (its conversation, not a review comment)."""

    id: int
    body: str
    html_url: str
    user: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IssueComment:
        return cls(
            id=int(data["id"]),
            body=str(data.get("body") or ""),
            html_url=str(data.get("html_url") or ""),
            user=_login(data.get("user")),
        )


def _same_text(a: str, b: str) -> bool:
    """Bodies equal as GitHub keeps them (it may turn line endings into ``\\r\\n``)."""
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _reviewers(reviewers: Iterable[str], owner: str) -> tuple[list[str], list[str]]:
    """Logins and team slugs. GitHub takes a team by its slug in the repository's organisation,
    so a team of another organisation would name some other team (or none): refused here."""
    users: list[str] = []
    teams: list[str] = []
    for reviewer in dict.fromkeys(reviewers):
        org, sep, slug = reviewer.partition("/")
        if (
            not reviewer
            or any(c.isspace() for c in reviewer)
            or (sep and (not org or not slug or "/" in slug))
        ):
            raise InvalidInput(f"invalid reviewer {reviewer!r}", hint="give a login or ORG/team-slug")
        if sep and org.lower() != owner.lower():
            raise InvalidInput(
                f"team {reviewer} is not of {owner}, whose repositories it would review",
                hint=f"name a team of {owner} ({owner}/TEAM-SLUG) or a login",
            )
        (teams if sep else users).append(slug if sep else reviewer)
    return users, teams


class PullRequestOperations(GitHubSession):
    """Pull request and issue comment operations of :class:`~btp_release.github.GitHubClient`."""

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A refused write names the permission pull requests need (not the releases' one)."""
        try:
            yield
        except PermissionDenied as exc:
            raise PermissionDenied(exc.message, hint=_WRITE_HINT.format(repo=self.repo)) from exc

    def _pull_subject(self, number: int) -> str:
        return f"pull request #{number} of {self.repo}"

    # -- pull requests ---------------------------------------------------------------------

    def get_pull_request(self, number: int) -> PullRequest:
        body, _ = self.get_json(
            self.repo_url(f"/pulls/{int(number)}"),
            operation="get pull request",
            subject=self._pull_subject(number),
        )
        return PullRequest.from_json(body)

    def find_pull_requests(
        self, head: str, *, base: str | None = None, state: str = "all"
    ) -> list[PullRequest]:
        """Pull requests from the branch ``head`` of this repository (to ``base`` if given),
        ``open``, ``closed`` or ``all``; newest first (every page)."""
        check_branch(head)
        if base is not None:
            check_branch(base)
        if state not in _STATES:
            raise InvalidInput(f"invalid pull request state {state!r}", hint="use open, closed or all")
        owner = self.repo.split("/", 1)[0]
        params: dict[str, str | int] = {"head": f"{owner}:{head}", "state": state, "sort": "created"}
        params["direction"] = "desc"
        if base is not None:
            params["base"] = base
        found = [
            PullRequest.from_json(item)
            for item in self.paginate(
                self.repo_url("/pulls"),
                operation="list pull requests",
                subject=f"pull requests from {head} of {self.repo}",
                params=params,
            )
        ]
        wanted = [p for p in found if p.head_ref == head and (base is None or p.base_ref == base)]
        return sorted(wanted, key=lambda p: p.number, reverse=True)

    def create_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request from the branch ``head`` into ``base``, or return the one already
        open between them as it is (title and body unchanged: see :meth:`update_pull_request`).

        Never posted twice: after a timeout, a 5xx or GitHub's "A pull request already exists"
        it looks again. Raises :class:`Conflict` ("no commits") when ``head`` adds nothing to ``base``,
        :class:`InvalidInput` when either branch does not exist.
        """
        check_branch(head)
        check_branch(base)
        if not title.strip():
            raise InvalidInput("a pull request needs a title")
        subject = f"pull request {head} -> {base} of {self.repo}"

        def find() -> PullRequest | None:
            return next(iter(self.find_pull_requests(head, base=base, state="open")), None)

        def create() -> PullRequest:
            try:
                with self._writing():
                    data = self.request_json(
                        "POST",
                        self.repo_url("/pulls"),
                        operation="create pull request",
                        subject=subject,
                        expect=(201,),
                        json={"title": title, "head": head, "base": base, "body": body},
                        idempotent=False,
                    )
            except AlreadyExists:
                existing = find()
                if existing is None:
                    raise
                return existing
            except InvalidInput as exc:
                said = str(exc).lower()
                if "no commits between" in said:
                    raise Conflict(
                        f"cannot open {subject}: {head} has no commits that {base} lacks",
                        hint=f"commit the change to {head} first (if {base} has it, nothing is left to do)",
                    ) from exc
                for side, branch in (("head", head), ("base", base)):
                    if f"{side} invalid" in said:
                        raise InvalidInput(
                            f"cannot open {subject}: GitHub rejects the {side} branch {branch!r}",
                            hint=f"check that {branch} exists in {self.repo} (push it first)",
                        ) from exc
                raise
            pr = PullRequest.from_json(data)
            log.info("opened pull request #%d (%s -> %s) in %s", pr.number, head, base, self.repo)
            return pr

        return self.create_idempotently(find=find, create=create, what=f"create {subject}")

    def update_pull_request(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        base: str | None = None,
    ) -> PullRequest:
        """Change the fields given (``state``: ``open`` or ``closed``); the same PATCH again is
        harmless, so it is retried. With no field given it returns the pull request as it is."""
        if state is not None and state not in ("open", "closed"):
            raise InvalidInput(f"invalid pull request state {state!r}", hint="use open or closed")
        if base is not None:
            check_branch(base)
        if title is not None and not title.strip():
            raise InvalidInput("a pull request needs a title")
        fields = {
            k: v
            for k, v in (("title", title), ("body", body), ("state", state), ("base", base))
            if v is not None
        }
        if not fields:
            return self.get_pull_request(number)
        with self._writing():
            data = self.request_json(
                "PATCH",
                self.repo_url(f"/pulls/{int(number)}"),
                operation="update pull request",
                subject=self._pull_subject(number),
                json=fields,
            )
        return PullRequest.from_json(data)

    def request_reviewers(self, number: int, reviewers: Iterable[str]) -> None:
        """Ask ``reviewers`` for a review: logins, and teams as ``ORG/team-slug`` (``ORG`` must be
        the repository's owner: :class:`InvalidInput` otherwise); nothing when empty. Repeating
        it is harmless. The pull request's author cannot be asked (GitHub's 422): that is logged
        as a warning and the others are asked."""
        users, teams = _reviewers(reviewers, self.repo.split("/", 1)[0])
        subject = self._pull_subject(number)
        for _ in range(2):  # the second round only without the author
            if not users and not teams:
                return
            try:
                with self._writing():
                    self.request_json(
                        "POST",
                        self.repo_url(f"/pulls/{int(number)}/requested_reviewers"),
                        operation="request reviewers",
                        subject=subject,
                        expect=(201,),
                        json={"reviewers": users, "team_reviewers": teams},
                    )
                return
            except InvalidInput as exc:
                if "author" not in str(exc).lower():
                    raise
                author = self.get_pull_request(number).user
                if author not in users:
                    raise
                log.warning("%s: its author %s cannot review it; not requested", subject, author)
                users = [u for u in users if u != author]

    def add_labels(self, number: int, labels: Iterable[str]) -> None:
        """Add labels to a pull request or issue (GitHub creates unknown ones); nothing when
        empty. Labels it already has stay, so repeating it is harmless."""
        names = list(dict.fromkeys(labels))
        if not names:
            return
        if any(not name.strip() for name in names):
            raise InvalidInput(f"invalid label in {names!r}", hint="labels are non-empty names")
        with self._writing():
            self.request_json(
                "POST",
                self.repo_url(f"/issues/{int(number)}/labels"),
                operation="add labels",
                subject=self._pull_subject(number),
                json={"labels": names},
            )

    # -- comments --------------------------------------------------------------------------

    def issue_comments(self, number: int) -> list[IssueComment]:
        """The comments on an issue or pull request, oldest first (every page)."""
        return [
            IssueComment.from_json(item)
            for item in self.paginate(
                self.repo_url(f"/issues/{int(number)}/comments"),
                operation="list comments",
                subject=f"comments on #{number} of {self.repo}",
            )
        ]

    def comment(self, number: int, body: str) -> IssueComment:
        """Comment on an issue or pull request, unless a comment with this body is there already
        (then that one is returned): a re-run or a retry after a timeout posts nothing twice."""
        if not body.strip():
            raise InvalidInput(f"an empty comment on #{number} of {self.repo}")
        subject = f"comment on #{number} of {self.repo}"

        def find() -> IssueComment | None:
            return next((c for c in self.issue_comments(number) if _same_text(c.body, body)), None)

        def create() -> IssueComment:
            with self._writing():
                data = self.request_json(
                    "POST",
                    self.repo_url(f"/issues/{int(number)}/comments"),
                    operation="create comment",
                    subject=subject,
                    expect=(201,),
                    json={"body": body},
                    idempotent=False,
                )
            return IssueComment.from_json(data)

        return self.create_idempotently(find=find, create=create, what=subject)
