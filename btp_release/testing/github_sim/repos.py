"""The repositories one simulator serves, and what each token may do in each of them.

GitHub names a repository ``owner/name`` (case-insensitive) and also by id
(``/repositories/{id}/…``, the form of its ``Link`` headers). A token's access is per repository,
like a fine-grained token's or a GitHub App installation's: write, read, or none at all (the
repository answers 404, as GitHub hides a private repository from a token that cannot see it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from .models import Access
from .state import RepoState

FIRST_REPO_ID = 1_296_269


def repo_key(full_name: str) -> str:
    """``owner/name`` as GitHub matches it: case-insensitive."""
    owner, sep, name = full_name.strip("/").partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"a repository is named 'owner/name', not {full_name!r}")
    return f"{owner}/{name}".lower()


@attrs.frozen
class Grant:
    """What one token may do: ``repos`` by ``repo_key``, ``others`` everywhere else (None: the
    other repositories are invisible to it)."""

    others: Access | None
    repos: Mapping[str, Access] = attrs.field(factory=dict)

    def access(self, state: RepoState) -> Access | None:
        return self.repos.get(repo_key(state.full_name), self.others)

    @property
    def authenticated(self) -> bool:
        return self.others is not Access.ANONYMOUS


ANONYMOUS = Grant(Access.ANONYMOUS)


class Repositories:
    """The repositories by name and by id; the first one is the simulator's own."""

    def __init__(self, primary: RepoState) -> None:
        self.primary = primary
        self._by_key: dict[str, RepoState] = {repo_key(primary.full_name): primary}

    def next_id(self) -> int:
        return max(s.repo_id for s in self) + 1

    def add(self, state: RepoState) -> None:
        key = repo_key(state.full_name)
        if key in self._by_key:
            raise ValueError(f"repository {state.full_name} already exists")
        self._by_key[key] = state

    def find(self, owner: str, name: str) -> RepoState | None:
        return self._by_key.get(f"{owner}/{name}".lower())

    def get(self, full_name: str | None) -> RepoState:
        """The repository named ``owner/name`` (None: the primary one); KeyError if unknown."""
        if full_name is None:
            return self.primary
        state = self._by_key.get(repo_key(full_name))
        if state is None:
            raise KeyError(f"no repository {full_name!r} on this simulator (add_repository first)")
        return state

    def by_id(self, repo_id: int) -> RepoState | None:
        return next((s for s in self if s.repo_id == repo_id), None)

    def __iter__(self) -> Iterator[RepoState]:
        return iter(list(self._by_key.values()))

    @property
    def modified_at(self) -> float:
        return max(s.modified_at for s in self)
