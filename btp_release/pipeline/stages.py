"""The release stages. Each observes the current state, does only what is missing, and returns a
:class:`~btp_release.pipeline.context.StageResult`; with ``dry_run`` it only says what it would do.

validate → draft → build → upload → await → e2e → publish. Any stage may run again, alone or in
another job, after any failure: the state it needs lives in GitHub (draft, tag, ``release-manifest.json``)
and in the registries (tags and digests), never in the process that ran the stage before.

One module per group of stages: :mod:`~btp_release.pipeline.preflight` (validate),
:mod:`~btp_release.pipeline.produce` (draft, build, upload), :mod:`~btp_release.pipeline.finish`
(await, e2e, publish); what several of them read and write is in :mod:`~btp_release.pipeline.records`.
"""

from __future__ import annotations

from btp_release.pipeline.finish import await_stage, e2e, publish
from btp_release.pipeline.preflight import PLACEHOLDER_COMMIT as PLACEHOLDER_COMMIT
from btp_release.pipeline.preflight import validate
from btp_release.pipeline.produce import build, draft, upload
from btp_release.pipeline.records import REVISION_LABEL as REVISION_LABEL
from btp_release.pipeline.records import render_assets

__all__ = [
    "STAGES",
    "await_stage",
    "build",
    "draft",
    "e2e",
    "publish",
    "render_assets",
    "upload",
    "validate",
]

STAGES = ("validate", "draft", "build", "upload", "await", "e2e", "publish")
