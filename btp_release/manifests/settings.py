"""The release settings of the module-manifests repository (``manifests-*``), checked for ``load_config``.

The settings live in :class:`~btp_release.config.ReleaseConfig` with every other one; their rules live
here with their help lines, beside the layout they describe, so the configuration only asks
:func:`setting_problem` and :func:`combination_problems`. A config is taken structurally
(:class:`LayoutSettings`): this package sits below the configuration and does not import it.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from btp_release.manifests.layout import LayoutError, ManifestsLayout, branch_name_problem, pattern_problem

__all__ = ["HELP", "LayoutSettings", "combination_problems", "layout_of", "setting_problem"]

# One line of help per setting (ReleaseConfig field), for the CLI flags and the docs.
HELP = {
    "manifests_repo": "module-manifests repository the version is submitted to, OWNER/NAME (empty: none)",
    "manifests_api_url": "GitHub REST API URL of the module-manifests repository (GHES: https://HOST/api/v3)",
    "manifests_base_branch": "branch of the module-manifests repository the pull requests target",
    "manifests_config_path": "path of a submitted module-config.yaml; {short}, {repo}, {version}",
    "manifests_mapping_path": "path of the channel mapping module-releases.yaml; {short}, {repo}",
    "manifests_submit_branch": "branch of the submit pull request; {short}, {repo}, {version}",
    "manifests_promote_branch": "branch of the promote pull request; {short}, {repo}, {version}, {channel}",
    "manifests_withdraw_branch": "branch of the withdraw pull request; {short}, {repo}, {version}",
    "manifests_asset_links": "manifest and defaultCR of a submission: url (release download URLs) or name",
    "manifests_reviewers": "reviewers requested on the manifests pull requests: logins or ORG/team",
    "manifests_labels": "labels of the manifests pull requests",
}

_REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(/[A-Za-z0-9._-]{1,100})?$")  # login or ORG/team-slug
_MAX_LABEL = 50  # GitHub's limit for a label name


class LayoutSettings(Protocol):
    """The path and branch settings (a ``ReleaseConfig`` has them)."""

    @property
    def manifests_config_path(self) -> str: ...

    @property
    def manifests_mapping_path(self) -> str: ...

    @property
    def manifests_submit_branch(self) -> str: ...

    @property
    def manifests_promote_branch(self) -> str: ...

    @property
    def manifests_withdraw_branch(self) -> str: ...


def layout_of(settings: LayoutSettings) -> ManifestsLayout:
    """The :class:`ManifestsLayout` the settings describe (:class:`LayoutError` if they are unusable)."""
    return ManifestsLayout(
        config_path=settings.manifests_config_path,
        mapping_path=settings.manifests_mapping_path,
        submit_branch=settings.manifests_submit_branch,
        promote_branch=settings.manifests_promote_branch,
        withdraw_branch=settings.manifests_withdraw_branch,
    )


def setting_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the ``manifests_*`` setting ``name`` (field name), else None. The
    repository and API URL are checked with the module's own ``github-*`` rules, in the configuration."""
    if name == "manifests_base_branch":
        return branch_name_problem(value)
    if name.endswith(("_path", "_branch")):
        return pattern_problem(name, value)
    if name == "manifests_reviewers" and (bad := [r for r in value if not _REVIEWER.match(r)]):
        return f"{', '.join(map(repr, bad))}: not a GitHub login or ORG/team"
    if name == "manifests_labels" and (bad := [label for label in value if len(label) > _MAX_LABEL]):
        return f"{', '.join(map(repr, bad))}: GitHub label names have at most {_MAX_LABEL} characters"
    return None


def combination_problems(settings: LayoutSettings) -> list[str]:
    """Problems of the patterns together (two actions on one branch); each alone passed setting_problem."""
    try:
        layout_of(settings)
    except LayoutError as exc:
        return list(exc.problems)
    return []
