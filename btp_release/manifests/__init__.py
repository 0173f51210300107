"""The module-manifests repository: what submit, promote and withdraw of a module version change there.

After a release is published, Kyma's flow continues with pull requests to a catalog repository
(``docs/manifests.md``): **submit** adds ``modules/<short>/<version>/module-config.yaml``, **promote**
points a channel at a version in ``modules/<short>/module-releases.yaml``, **withdraw** removes a version's
directory. This package is the pure core of the three: the :mod:`~btp_release.manifests.layout` of the
repository and its :mod:`~btp_release.manifests.settings`, the :mod:`~btp_release.manifests.submission`
file, the :mod:`~btp_release.manifests.plans` (files to change and a verdict, from what the repository holds
now) and the :mod:`~btp_release.manifests.pull_requests` text. Nothing here does I/O: the GitHub client
reads the repository and opens the pull requests.

The layout and settings are imported eagerly (the configuration checks them, and ``btp-release --help``
must stay fast); the rest, which needs the module package, on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from btp_release.manifests.layout import (
    LayoutError,
    ManifestsLayout,
    ManifestsModule,
    branch_name_problem,
    pattern_problem,
)
from btp_release.manifests.settings import layout_of

if TYPE_CHECKING:
    from btp_release.manifests.plans import (
        FileChange,
        ManifestsConflict,
        Plan,
        VersionNotSubmitted,
        WithdrawRefused,
        plan_promote,
        plan_submit,
        plan_withdraw,
    )
    from btp_release.manifests.pull_requests import PullRequestText, ReleaseRecord, marker, pull_request_text
    from btp_release.manifests.submission import (
        AssetLinks,
        PublishedRelease,
        Submission,
        build_submission,
        module_config_from_settings,
        web_url_of,
    )

_LAZY = {
    "plans": (
        "FileChange",
        "ManifestsConflict",
        "Plan",
        "VersionNotSubmitted",
        "WithdrawRefused",
        "plan_promote",
        "plan_submit",
        "plan_withdraw",
    ),
    "pull_requests": ("PullRequestText", "ReleaseRecord", "marker", "pull_request_text"),
    "submission": (
        "AssetLinks",
        "PublishedRelease",
        "Submission",
        "build_submission",
        "module_config_from_settings",
        "web_url_of",
    ),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'btp_release.manifests' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"btp_release.manifests.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AssetLinks",
    "FileChange",
    "LayoutError",
    "ManifestsConflict",
    "ManifestsLayout",
    "ManifestsModule",
    "Plan",
    "PublishedRelease",
    "PullRequestText",
    "ReleaseRecord",
    "Submission",
    "VersionNotSubmitted",
    "WithdrawRefused",
    "branch_name_problem",
    "build_submission",
    "layout_of",
    "marker",
    "module_config_from_settings",
    "pattern_problem",
    "plan_promote",
    "plan_submit",
    "plan_withdraw",
    "pull_request_text",
    "web_url_of",
]
