"""Pull requests, issues, their comments and labels: GitHub's rules over a repository's branches.

Pure in-memory model, no HTTP (routes: :mod:`.pull_routes`). The rules a client can run into,
as GitHub answers them: one open pull request per head and base ("A pull request already exists
for owner:branch."), none without commits ahead of the base ("No commits between main and
branch"), head and base must be branches of this repository (forks are not modelled); issues and
pull requests share their numbers; a pull request whose head or base branch is deleted closes.
Merging (a test helper and ``PUT /pulls/{n}/merge``) makes a merge commit, a squashed commit or a
fast-forward, with a file-level three-way merge (a file changed on both sides is a conflict).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Literal, cast

import attrs

from .errors import ApiError, not_found, validation_failed
from .gitdb import GitDatabase
from .models import Commit, Issue, IssueComment, Label, PullRequest, PullState

MergeMethod = Literal["merge", "squash", "fast-forward"]
MERGE_METHODS: frozenset[str] = frozenset({"merge", "squash", "fast-forward"})


def custom_error(message: str) -> ApiError:
    """422 with one ``custom`` entry, GitHub's shape for the pull request rules."""
    return ApiError(
        422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "custom", "message": message}]
    )


class PullStore:
    """The pull requests and issues of one repository; ids and numbers are deterministic."""

    def __init__(self, db: GitDatabase) -> None:
        self._db = db
        self.db = db
        self._numbers = itertools.count(1)
        self._pull_ids = itertools.count(1_900_000_001)
        self._issue_ids = itertools.count(2_100_000_001)
        self._comment_ids = itertools.count(1_600_000_001)
        self._label_ids = itertools.count(5_100_000_001)
        self._pulls: dict[int, PullRequest] = {}
        self._issues: dict[int, Issue] = {}
        self._comments: list[IssueComment] = []
        self._labels: dict[str, Label] = {}

    # -- pull requests ----------------------------------------------------------------------

    def head_sha(self, pr: PullRequest) -> str:
        """Where the head is: the branch while the pull request is open, else where it was."""
        live = self._db.branch(pr.head) if pr.state == "open" else None
        return live or pr.head_sha

    def base_sha(self, pr: PullRequest) -> str:
        """Where the base is: the branch while open, else where it was when it closed."""
        if pr.state == "closed" and pr.base_sha is not None:
            return pr.base_sha
        return self._db.branch(pr.base) or self._db.head_sha

    def ahead(self, pr: PullRequest) -> list[Commit]:
        """The commits of the head that the base does not have (oldest first, as GitHub lists)."""
        return list(reversed(self._db.commits_between(self.base_sha(pr), self.head_sha(pr))))

    def merged_tree(self, pr: PullRequest) -> str | None:
        """The tree a merge would commit, None when the two sides conflict."""
        head, base = self.head_sha(pr), self.base_sha(pr)
        common = self._db.merge_base(base, head)
        common_tree = self._db.commit(common).tree if common else None
        return self._db.objects.merge(common_tree, self._db.commit(base).tree, self._db.commit(head).tree)

    def mergeable(self, pr: PullRequest) -> bool | None:
        """GitHub's ``mergeable``: None once closed (it stops computing it)."""
        if pr.state != "open":
            return None
        return self.merged_tree(pr) is not None

    def _branch_name(self, value: str, field: str) -> str:
        owner, sep, name = value.rpartition(":")
        if sep and owner.lower() != self._db.owner.lower():
            raise validation_failed("PullRequest", "invalid", field)  # forks are not modelled
        if self._db.branch(name) is None:
            raise validation_failed("PullRequest", "invalid", field)
        return name

    def _check_unique(self, head: str, base: str, exclude: int | None) -> None:
        if any(
            p.state == "open" and p.head == head and p.base == base and p.number != exclude
            for p in self._pulls.values()
        ):
            raise custom_error(f"A pull request already exists for {self._db.owner}:{head}.")

    def create(
        self,
        *,
        title: str,
        head: str,
        base: str,
        body: str | None,
        draft: bool,
        maintainer_can_modify: bool,
    ) -> PullRequest:
        base_name = self._branch_name(base, "base")
        head_name = self._branch_name(head, "head")
        self._check_unique(head_name, base_name, None)
        head_sha = self._db.branch(head_name) or ""
        if not self._db.commits_between(self._db.branch(base_name), head_sha):
            raise custom_error(f"No commits between {base_name} and {head_name}")
        now = self._db.touch()
        pr = PullRequest(
            number=next(self._numbers),
            id=next(self._pull_ids),
            title=title,
            body=body,
            head=head_name,
            base=base_name,
            head_sha=head_sha,
            state="open",
            draft=draft,
            created_at=now,
            updated_at=now,
            maintainer_can_modify=maintainer_can_modify,
        )
        self._pulls[pr.number] = pr
        return pr

    def get(self, number: int) -> PullRequest:
        pr = self._pulls.get(number)
        if pr is None:
            raise not_found()
        return pr

    def pulls(self) -> list[PullRequest]:
        return sorted(self._pulls.values(), key=lambda p: p.number)

    def find(
        self,
        *,
        state: str = "open",
        head: str | None = None,
        base: str | None = None,
        sort: str = "created",
        direction: str | None = None,
    ) -> list[PullRequest]:
        """``GET /pulls``: ``head`` filters only as ``owner:branch``; a bare branch name is
        silently ignored, as GitHub does."""
        found = [p for p in self._pulls.values() if state == "all" or p.state == state]
        if head is not None and ":" in head:
            owner, _, branch = head.partition(":")
            same_owner = owner.lower() == self._db.owner.lower()
            found = [p for p in found if same_owner and p.head == branch]
        if base:
            found = [p for p in found if p.base == base]
        keys = {
            "updated": lambda p: (p.updated_at, p.number),
            "popularity": lambda p: (len(self.comments(p.number)), p.number),
            "long-running": lambda p: (-p.created_at, -p.number),
        }
        key = keys.get(sort, lambda p: (p.created_at, p.number))
        descending = direction == "desc" if direction in ("asc", "desc") else sort not in keys
        return sorted(found, key=key, reverse=descending)

    def update(self, number: int, changes: Mapping[str, object]) -> PullRequest:
        """``PATCH /pulls/{n}``: title, body, state, base, maintainer_can_modify."""
        pr = self.get(number)
        state = str(changes.get("state", pr.state))
        if state not in ("open", "closed"):
            raise validation_failed("PullRequest", "invalid", "state")
        base = self._branch_name(str(changes["base"]), "base") if "base" in changes else pr.base
        if state == "open" and pr.state == "closed":
            if pr.merged:
                raise custom_error("state cannot be changed. The pull request has already been merged.")
            if self._db.branch(pr.head) is None:
                raise custom_error(f"state cannot be changed. The {pr.head} branch has been deleted.")
        if state == "open":
            self._check_unique(pr.head, base, pr.number)
        now = self._db.touch()
        closing = state == "closed" and pr.state == "open"
        updated = attrs.evolve(
            pr,
            title=str(changes.get("title", pr.title)),
            body=cast("str | None", changes.get("body", pr.body)),
            base=base,
            state=cast("PullState", state),
            maintainer_can_modify=bool(changes.get("maintainer_can_modify", pr.maintainer_can_modify)),
            head_sha=self.head_sha(pr),
            base_sha=self.base_sha(pr) if closing else (None if state == "open" else pr.base_sha),
            updated_at=now,
            closed_at=now if closing else (None if state == "open" else pr.closed_at),
        )
        self._pulls[number] = updated
        return updated

    def branch_deleted(self, name: str, sha: str) -> None:
        """GitHub closes the open pull requests whose head or base branch (last at ``sha``) is
        deleted."""
        for pr in list(self._pulls.values()):
            if pr.state == "open" and name in (pr.head, pr.base):
                now = self._db.touch()
                head = sha if name == pr.head else self.head_sha(pr)
                base = sha if name == pr.base else self.base_sha(pr)
                self._pulls[pr.number] = attrs.evolve(
                    pr, state="closed", closed_at=now, updated_at=now, head_sha=head, base_sha=base
                )

    def merge(
        self,
        number: int,
        method: MergeMethod = "merge",
        *,
        title: str | None = None,
        message: str | None = None,
        sha: str | None = None,
    ) -> PullRequest:
        """Merge onto the base branch: a merge commit (two parents), a squashed commit (one) or a
        fast-forward of the base to the head; the pull request is then closed and merged.

        Raises ApiError 405 when it cannot be merged (closed, conflicts, no fast-forward) and 409
        when ``sha`` is not the head, as ``PUT /pulls/{n}/merge`` answers."""
        pr = self.get(number)
        if pr.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        head, base = self.head_sha(pr), self.base_sha(pr)
        if sha is not None and sha != head:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if method == "fast-forward":
            if base not in self._db.ancestry(head):
                raise ApiError(405, "Pull Request is not mergeable")
            result = head
        else:
            tree = self.merged_tree(pr)
            if tree is None:
                raise ApiError(405, "Pull Request is not mergeable")
            if method == "squash":
                subject = title or f"{pr.title} (#{pr.number})"
                text = message if message is not None else "\n".join(f"* {c.message}" for c in self.ahead(pr))
                result = self._db.write_commit(tree, (base,), f"{subject}\n\n{text}".rstrip()).sha
            else:
                subject = title or f"Merge pull request #{pr.number} from {self._db.owner}/{pr.head}"
                text = message if message is not None else pr.title
                result = self._db.write_commit(tree, (base, head), f"{subject}\n\n{text}".rstrip()).sha
        self._db.move_branch(pr.base, result)
        now = self._db.touch()
        merged = attrs.evolve(
            pr,
            state="closed",
            head_sha=head,
            base_sha=base,
            closed_at=now,
            merged_at=now,
            updated_at=now,
            merge_commit_sha=result,
        )
        self._pulls[number] = merged
        return merged

    # -- issues, comments, labels -------------------------------------------------------------

    def add_issue(self, title: str, body: str | None, labels: Iterable[str]) -> Issue:
        now = self._db.touch()
        names = tuple(self._label(name).name for name in labels)
        issue = Issue(next(self._numbers), next(self._issue_ids), title, body, "open", now, now, names)
        self._issues[issue.number] = issue
        return issue

    def issues(self) -> list[Issue]:
        return sorted(self._issues.values(), key=lambda i: i.number)

    def issue(self, number: int) -> Issue:
        issue = self._issues.get(number)
        if issue is None:
            raise not_found()
        return issue

    def is_pull(self, number: int) -> bool:
        if number in self._pulls:
            return True
        if number in self._issues:
            return False
        raise not_found()

    def _label(self, name: str) -> Label:
        label = self._labels.get(name.lower())
        if label is None:
            label = Label(next(self._label_ids), name)
            self._labels[name.lower()] = label
        return label

    def labels(self, number: int) -> list[Label]:
        names = self._pulls[number].labels if self.is_pull(number) else self._issues[number].labels
        return [self._labels[name.lower()] for name in names]

    def add_labels(self, number: int, names: Iterable[str]) -> list[Label]:
        """Add labels (created in the repository when new) to an issue or a pull request."""
        pull = self.is_pull(number)
        item: PullRequest | Issue = self._pulls[number] if pull else self._issues[number]
        have = list(item.labels)
        for name in names:
            label = self._label(name)
            if label.name.lower() not in {n.lower() for n in have}:
                have.append(label.name)
        now = self._db.touch()
        if pull:
            self._pulls[number] = attrs.evolve(self._pulls[number], labels=tuple(have), updated_at=now)
        else:
            self._issues[number] = attrs.evolve(self._issues[number], labels=tuple(have), updated_at=now)
        return self.labels(number)

    def request_reviewers(self, number: int, logins: Iterable[str], teams: Iterable[str] = ()) -> PullRequest:
        pr = self.get(number)
        reviewers = tuple(dict.fromkeys((*pr.requested_reviewers, *logins)))
        slugs = tuple(dict.fromkeys((*pr.requested_teams, *teams)))
        updated = attrs.evolve(
            pr, requested_reviewers=reviewers, requested_teams=slugs, updated_at=self._db.touch()
        )
        self._pulls[number] = updated
        return updated

    def comment(self, number: int, body: str) -> IssueComment:
        self.is_pull(number)  # 404 for neither an issue nor a pull request
        now = self._db.touch()
        comment = IssueComment(next(self._comment_ids), number, body, now, now)
        self._comments.append(comment)
        return comment

    def comments(self, number: int) -> list[IssueComment]:
        return [c for c in self._comments if c.issue_number == number]
