"""The pull request text: what changes, the release link, the recorded digests, the channel move, the
withdraw's channel check, the marker; the same plan gives the same text."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from btp_release.errors import InvalidInput
from btp_release.manifests.layout import ManifestsLayout, ManifestsModule
from btp_release.manifests.plans import plan_promote, plan_submit, plan_withdraw
from btp_release.manifests.pull_requests import marker, pull_request_text
from btp_release.manifests.submission import PublishedRelease, Submission, build_submission
from btp_release.module.moduleconfig import ModuleConfig
from btp_release.pipeline.provenance import ArtifactRecord, E2ERecord, Provenance

LAYOUT = ManifestsLayout()
MODULE = ManifestsModule("kyma-project.io/module/btp-operator", "kyma-project/btp-manager")
RELEASE = PublishedRelease(
    repo=MODULE.repo,
    version="1.3.20",
    manifest_asset="btp-manager.yaml",
    default_cr_asset="btp-operator.yaml",
)
RELEASE_URL = "https://github.com/kyma-project/btp-manager/releases/tag/1.3.20"
MODULE_DIGEST = "sha256:" + "a" * 64
IMAGE_DIGEST = "sha256:" + "b" * 64
PROVENANCE = Provenance(
    version="1.3.20",
    commit="0123456789abcdef0123456789abcdef01234567",
    github_repo=MODULE.repo,
    module=ArtifactRecord(
        "europe-docker.pkg.dev/kyma-project/prod/unsigned/component-descriptors/"
        "kyma-project.io/module/btp-operator:1.3.20",
        MODULE_DIGEST,
    ),
    image=ArtifactRecord("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.3.20", IMAGE_DIGEST),
    images=("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.3.20",),
    e2e={
        "k3s": E2ERecord("passed", MODULE_DIGEST, IMAGE_DIGEST),
        "old": E2ERecord("passed", "sha256:0", None),
    },
)
MAPPING = b"channels:\n  - channel: regular\n    version: 1.3.19\n  - channel: fast\n    version: 1.3.19\n"
SOURCE = """\
name: kyma-project.io/module/btp-operator
version: 0.0.1
repository: https://github.com/kyma-project/btp-manager
documentation: https://kyma-project.io/docs/btp-operator
team: kyma/Gopher
manifest: manifests/btp-manager.yaml
defaultCR: examples/btp-operator.yaml
security: sec-scanners-config.yaml
icons:
  - name: module-icon
    link: https://example.org/icon.svg
"""


def submission() -> Submission:
    config = ModuleConfig.parse(SOURCE, source="module-config.yaml", base_dir=Path("."))
    return build_submission(config, RELEASE)


def test_submit_text_says_what_is_added_links_the_release_and_quotes_the_digests() -> None:
    wanted = submission()
    plan = plan_submit(LAYOUT, wanted, None)
    text = pull_request_text(plan, RELEASE, PROVENANCE, submission=wanted)
    assert text.title == "Submit btp-operator 1.3.20"
    body = text.body
    assert "`modules/btp-operator/1.3.20/module-config.yaml`" in body
    download = "https://github.com/kyma-project/btp-manager/releases/download/1.3.20"
    assert f"- manifest: {download}/btp-manager.yaml\n- defaultCR: {download}/btp-operator.yaml\n" in body
    assert "- security: `sec-scanners-config.yaml`" in body
    assert f"Release: [kyma-project/btp-manager 1.3.20]({RELEASE_URL})" in body
    assert "commit `0123456789abcdef0123456789abcdef01234567`" in body
    assert f"| module | `{PROVENANCE.module.reference}` | `{MODULE_DIGEST}` |" in body
    assert f"| manager image | `{PROVENANCE.image.reference}` | `{IMAGE_DIGEST}` |" in body
    assert (
        "Images the manifest deploys: `europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.3.20`." in body
    )
    assert "E2E passed on these digests: k3s." in body  # not "old": it tested other digests
    assert body.endswith("<!-- btp-release:submit kyma-project.io/module/btp-operator 1.3.20 -->\n")
    assert pull_request_text(plan, RELEASE, PROVENANCE, submission=wanted) == text


def test_submit_text_needs_the_submission() -> None:
    with pytest.raises(InvalidInput, match="needs the submission"):
        pull_request_text(plan_submit(LAYOUT, submission(), None), RELEASE, PROVENANCE)


def test_a_release_without_a_record_or_e2e_says_so() -> None:
    plan = plan_submit(LAYOUT, submission(), None)
    body = pull_request_text(plan, RELEASE, None, submission=submission()).body
    assert "The release has no `release-manifest.json`, so no digests were recorded" in body
    untested = attrs.evolve(PROVENANCE, e2e={})
    body = pull_request_text(plan, RELEASE, untested, submission=submission()).body
    assert "No E2E run is recorded as passed on these digests." in body


def test_the_record_and_the_plan_must_be_of_the_release() -> None:
    plan = plan_submit(LAYOUT, submission(), None)
    with pytest.raises(InvalidInput, match=r"records version 1\.3\.19, not 1\.3\.20"):
        pull_request_text(plan, RELEASE, attrs.evolve(PROVENANCE, version="1.3.19"), submission=submission())
    with pytest.raises(InvalidInput, match=r"plan is for 1\.3\.20, the release is 1\.3\.21"):
        pull_request_text(plan, attrs.evolve(RELEASE, version="1.3.21"), PROVENANCE, submission=submission())


def test_promote_text_shows_the_channel_move_and_the_release_meta() -> None:
    plan = plan_promote(LAYOUT, MODULE, "1.3.20", "fast", current=MAPPING, submitted=["1.3.19", "1.3.20"])
    text = pull_request_text(plan, RELEASE, PROVENANCE)
    assert text.title == "Promote btp-operator 1.3.20 to the fast channel"
    assert "Edits `modules/btp-operator/module-releases.yaml`.\n\n- fast: 1.3.19 → 1.3.20\n" in text.body
    assert "- regular: 1.3.19 (unchanged)" in text.body
    assert "```yaml\napiVersion: operator.kyma-project.io/v1beta2\nkind: ModuleReleaseMeta\n" in text.body
    assert "  - channel: fast\n    version: 1.3.20\n```" in text.body
    assert f"`{MODULE_DIGEST}`" in text.body
    assert text.body.endswith(
        "<!-- btp-release:promote kyma-project.io/module/btp-operator 1.3.20 fast -->\n"
    )


def test_promote_text_of_a_new_mapping_lists_every_channel() -> None:
    plan = plan_promote(LAYOUT, MODULE, "1.3.20", "fast", current=None, submitted=["1.3.20"])
    body = pull_request_text(plan, RELEASE).body
    assert "Creates `modules/btp-operator/module-releases.yaml`: every channel gets 1.3.20." in body
    assert "- regular: (new) → 1.3.20\n- fast: (new) → 1.3.20\n" in body
    assert "(unchanged)" not in body


def test_withdraw_text_lists_the_files_and_that_no_channel_points_at_the_version() -> None:
    files = ["modules/btp-operator/1.3.20/module-config.yaml"]
    plan = plan_withdraw(LAYOUT, MODULE, "1.3.20", files=files, mapping=MAPPING)
    text = pull_request_text(plan, RELEASE)
    assert text.title == "Withdraw btp-operator 1.3.20"
    assert "- `modules/btp-operator/1.3.20/module-config.yaml`\n" in text.body
    assert "No channel points at it (regular → 1.3.19, fast → 1.3.19)." in text.body
    without = pull_request_text(plan_withdraw(LAYOUT, MODULE, "1.3.20", files=files, mapping=None), RELEASE)
    assert "The module has no channel mapping, so no channel points at it." in without.body
    assert marker(plan) == "<!-- btp-release:withdraw kyma-project.io/module/btp-operator 1.3.20 -->"
