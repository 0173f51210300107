"""Every GitHubClient operation against the GitHub simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    CheckFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Timeout,
)
from btp_release.github import GitHubClient
from btp_release.github.assets import TEMP_SUFFIX
from btp_release.github.models import DRAFT_MARKER
from btp_release.testing import FakeClock, GitHubSimulator
from btp_release.wait import WaitPolicy

from .conftest import make_client

REPO = "kyma-project/btp-manager"


def raw(sim: GitHubSimulator, token: str | None = None) -> httpx.Client:
    """A plain httpx client to arrange state without going through the code under test."""
    headers = {"User-Agent": "test", "Accept": "application/vnd.github+json"}
    headers["Authorization"] = f"Bearer {token or sim.token}"
    return httpx.Client(base_url=f"{sim.api_url}/repos/{REPO}", headers=headers)


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# -- repository and commits --------------------------------------------------------------


def test_repository_reports_push_permission(sim: GitHubSimulator, clock: FakeClock) -> None:
    with make_client(sim, clock) as writer, make_client(sim, clock, token=sim.readonly_token) as reader:
        assert writer.get_repository().can_push is True
        assert writer.require_push_access().full_name == REPO
        assert reader.get_repository().can_push is False
        with pytest.raises(PermissionDenied, match="contents: write"):
            reader.require_push_access()


def test_resolve_commit(sim: GitHubSimulator, client: GitHubClient) -> None:
    assert client.resolve_commit("main") == sim.head_sha
    new = sim.add_commit()
    assert client.resolve_commit("main") == new
    with pytest.raises(NotFound, match="resolve commit"):
        client.resolve_commit("no-such-branch")


# -- releases -----------------------------------------------------------------------------


def test_create_draft_is_idempotent_and_marked(sim: GitHubSimulator, client: GitHubClient) -> None:
    draft = client.create_draft_release("1.2.0", target_commitish=sim.head_sha)
    again = client.create_draft_release("1.2.0", target_commitish=sim.head_sha)
    assert again.id == draft.id
    assert draft.draft and draft.tag_name == "1.2.0" and draft.name == "1.2.0"
    assert draft.created_by_btp_release and draft.body and draft.body.startswith(DRAFT_MARKER)
    assert "Full Changelog" in draft.body or "What's Changed" in draft.body  # generated notes kept
    assert [r.id for r in sim.releases()] == [draft.id]
    # a draft has no git tag until published
    assert client.get_tag("1.2.0") is None


def test_create_draft_with_previous_tag_uses_generated_notes(
    sim: GitHubSimulator, client: GitHubClient
) -> None:
    client.create_tag("1.1.0", sim.head_sha)
    sim.add_commit()
    notes = client.generate_release_notes("1.2.0", target_commitish=sim.head_sha, previous_tag="1.1.0")
    draft = client.create_draft_release(
        "1.2.0", target_commitish=sim.head_sha, previous_tag="1.1.0", body="Highlights"
    )
    assert draft.body is not None
    assert draft.body.startswith(f"{DRAFT_MARKER}\nHighlights")
    assert notes.body.strip() in draft.body


def test_create_draft_refuses_published_tag(sim: GitHubSimulator, client: GitHubClient) -> None:
    draft = client.create_draft_release("1.0.0", target_commitish=sim.head_sha)
    client.publish_release(draft)
    with pytest.raises(AlreadyExists, match=r"1\.0\.0 .* already published"):
        client.create_draft_release("1.0.0", target_commitish=sim.head_sha)
    assert len(sim.releases()) == 1


def test_prerelease_version_makes_prerelease(sim: GitHubSimulator, client: GitHubClient) -> None:
    draft = client.create_draft_release("2.0.0-rc.1", target_commitish=sim.head_sha)
    assert draft.prerelease


def test_duplicate_drafts_are_cleaned_keeping_the_oldest(sim: GitHubSimulator, client: GitHubClient) -> None:
    with raw(sim) as http:
        ids = [
            http.post("/releases", json={"tag_name": "1.3.0", "draft": True, "body": DRAFT_MARKER}).json()[
                "id"
            ]
            for _ in range(3)
        ]
        foreign = http.post("/releases", json={"tag_name": "1.3.0", "draft": True, "body": "by hand"}).json()
    kept = client.create_draft_release("1.3.0", target_commitish=sim.head_sha)
    assert kept.id == min(ids)
    assert sorted(r.id for r in sim.releases()) == sorted([min(ids), foreign["id"]])


def test_find_release_by_tag_sees_drafts_only_when_asked(sim: GitHubSimulator, client: GitHubClient) -> None:
    draft = client.create_draft_release("1.4.0", target_commitish=sim.head_sha)
    found = client.find_release_by_tag("1.4.0")
    assert found is not None and found.id == draft.id
    assert client.find_release_by_tag("1.4.0", include_drafts=False) is None
    client.publish_release(draft.id)
    published = client.find_release_by_tag("1.4.0", include_drafts=False)
    assert published is not None and published.id == draft.id and not published.draft
    assert client.find_release_by_tag("9.9.9") is None


def test_listing_follows_every_page(sim: GitHubSimulator, client: GitHubClient) -> None:
    with raw(sim) as http:
        for n in range(105):
            http.post("/releases", json={"tag_name": f"0.{n}.0", "draft": n % 2 == 0}).raise_for_status()
    releases = client.list_releases()
    assert len(releases) == 105
    pages = [r for r in sim.requests if r.method == "GET" and r.path.endswith("/releases")]
    assert len(pages) == 2  # 100 + 5
    oldest = client.find_release_by_tag("0.0.0")  # on the last page, and a draft
    assert oldest is not None and oldest.draft


def test_latest_release_is_by_semver_not_date(sim: GitHubSimulator, client: GitHubClient) -> None:
    for tag in ["1.10.0", "1.9.0", "2.0.0-rc.1"]:
        client.publish_release(client.create_draft_release(tag, target_commitish=sim.head_sha))
    client.create_draft_release("3.0.0", target_commitish=sim.head_sha)  # drafts never count
    latest = client.latest_release()
    assert latest is not None and latest.tag_name == "1.10.0"
    with_pre = client.latest_release(include_prereleases=True)
    assert with_pre is not None and with_pre.tag_name == "2.0.0-rc.1"


def test_latest_release_none_when_nothing_published(client: GitHubClient) -> None:
    assert client.latest_release() is None


def test_publish_creates_tag_and_is_idempotent(sim: GitHubSimulator, client: GitHubClient) -> None:
    draft = client.create_draft_release("1.5.0", target_commitish=sim.head_sha)
    published = client.publish_release(draft)
    assert not published.draft and published.published_at
    tag = client.get_tag("1.5.0")
    assert tag is not None and tag.sha == sim.head_sha
    assert client.publish_release(published.id).id == published.id
    assert client.update_release(published.id, name="Release 1.5.0").name == "Release 1.5.0"


def test_delete_release_keeps_tag_and_is_idempotent(sim: GitHubSimulator, client: GitHubClient) -> None:
    release = client.publish_release(client.create_draft_release("1.6.0", target_commitish=sim.head_sha))
    assert client.delete_release(release.id) is True
    assert client.delete_release(release.id) is False
    assert sim.releases() == []
    assert client.get_tag("1.6.0") is not None
    with pytest.raises(NotFound, match="get release"):
        client.get_release(release.id)


# -- tags ---------------------------------------------------------------------------------


def test_tags_create_get_delete(sim: GitHubSimulator, client: GitHubClient) -> None:
    ref = client.create_tag("1.7.0", sim.head_sha)
    assert ref.ref == "refs/tags/1.7.0" and ref.sha == sim.head_sha and ref.short_name == "1.7.0"
    assert client.create_tag("1.7.0", sim.head_sha) == ref  # idempotent
    other = sim.add_commit()
    with pytest.raises(AlreadyExists, match="already points at"):
        client.create_tag("1.7.0", other)
    assert client.delete_tag("1.7.0") is True
    assert client.delete_tag("1.7.0") is False
    assert client.get_tag("1.7.0") is None
    assert [r.ref for r in sim.refs() if r.ref.startswith("refs/tags/")] == []


def test_wait_until_tag_deleted_rides_out_eventual_consistency(
    sim: GitHubSimulator, client: GitHubClient, clock: FakeClock
) -> None:
    client.create_tag("1.8.0", sim.head_sha)
    sim.delete_ref_lag = 2
    assert client.delete_tag("1.8.0") is True
    assert client.get_tag("1.8.0") is not None  # still visible right after the delete
    client.wait_until_tag_deleted("1.8.0", policy=WaitPolicy(timeout=30, interval=1))
    assert clock.sleeps  # it had to poll


def test_wait_until_tag_deleted_times_out_with_state(
    sim: GitHubSimulator, client: GitHubClient, clock: FakeClock
) -> None:
    client.create_tag("1.8.1", sim.head_sha)
    with pytest.raises(Timeout, match=r"tag 1\.8\.1 .* still present at"):
        client.wait_until_tag_deleted("1.8.1", policy=WaitPolicy(timeout=5, interval=1))
    assert sum(clock.sleeps) <= 5


@pytest.mark.parametrize("bad", ["", "a b", "x..y", "tag~1", "v1:2"])
def test_invalid_tag_names_are_refused_before_any_call(
    bad: str, sim: GitHubSimulator, client: GitHubClient
) -> None:
    before = len(sim.requests)
    with pytest.raises(InvalidInput, match="invalid tag name"):
        client.create_tag(bad, sim.head_sha)
    assert len(sim.requests) == before


# -- assets -------------------------------------------------------------------------------


@pytest.mark.parametrize("separate_hosts", [False, True], ids=["one-origin", "separate-hosts"])
def test_upload_streams_with_length_and_round_trips(
    separate_hosts: bool, clock: FakeClock, tmp_path: Path
) -> None:
    with (
        GitHubSimulator(separate_hosts=separate_hosts) as sim,
        make_client(sim, clock) as client,
    ):
        draft = client.create_draft_release("2.1.0", target_commitish=sim.head_sha)
        content = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: several chunks
        asset = client.upload_asset(draft, write(tmp_path, "btp-manager.yaml", content), label="Manifest")
        assert asset.complete and asset.size == len(content) and asset.label == "Manifest"
        assert asset.content_type == "application/yaml"
        assert sim.uploaded_bytes(asset.id) == content
        out = client.download_asset(asset, tmp_path / "out.yaml")
        assert out.read_bytes() == content
    [upload] = [r for r in sim.requests if r.service == "uploads"]
    assert upload.authorized and upload.status == 201
    [storage] = [r for r in sim.requests if r.service == "storage"]
    assert storage.status == 200
    # the token goes along only to the API's own origin, never to a storage host of its own
    assert storage.authorized is not separate_hosts


def test_upload_sends_a_streamed_body_with_content_length(
    sim: GitHubSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    seen: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return super().handle_request(request)

    http = httpx.Client(transport=Recording())
    with GitHubClient(REPO, token=sim.token, api_url=sim.api_url, http=http, sleeper=clock.sleep) as github:
        draft = github.create_draft_release("2.1.1", target_commitish=sim.head_sha)
        github.upload_asset(draft, write(tmp_path, "a.bin", b"x" * 700_000))
    upload = next(r for r in seen if r.method == "POST" and "/assets" in r.url.path)
    assert upload.headers["content-length"] == "700000"
    assert "transfer-encoding" not in upload.headers
    assert not isinstance(upload.stream, httpx.ByteStream)  # an iterator over the file, not bytes


def test_reupload_of_same_content_is_a_no_op(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    draft = client.create_draft_release("2.2.0", target_commitish=sim.head_sha)
    path = write(tmp_path, "template.yaml", "kind: ModuleTemplate\n")
    first = client.upload_asset(draft, path)
    uploads_before = sum(1 for r in sim.requests if r.service == "uploads")
    assert client.upload_asset(draft, path).id == first.id
    assert sum(1 for r in sim.requests if r.service == "uploads") == uploads_before
    assert len(sim.assets(draft.id)) == 1


def test_changed_content_needs_replace_and_is_swapped_safely(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    draft = client.create_draft_release("2.3.0", target_commitish=sim.head_sha)
    path = write(tmp_path, "template.yaml", "old\n")
    old = client.upload_asset(draft, path)
    path.write_text("new content\n")
    with pytest.raises(AlreadyExists, match="different content"):
        client.upload_asset(draft, path)
    new = client.upload_asset(draft, path, replace=True)
    assert new.name == "template.yaml" and new.id != old.id
    assets = sim.assets(draft.id)
    assert [a.name for a in assets] == ["template.yaml"]
    assert sim.uploaded_bytes(new.id) == b"new content\n"


def test_replacement_cut_short_is_finished_by_a_rerun(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    draft = client.create_draft_release("2.4.0", target_commitish=sim.head_sha)
    path = write(tmp_path, "template.yaml", "old\n")
    old = client.upload_asset(draft, path)
    # A crash after the new content was staged under the temporary name and the old deleted:
    path.write_text("new\n")
    client.upload_asset(draft, path, name="template.yaml" + TEMP_SUFFIX)
    client.delete_asset(old.id)
    final = client.upload_asset(draft, path, replace=True)
    assert [a.name for a in sim.assets(draft.id)] == ["template.yaml"]
    assert sim.uploaded_bytes(final.id) == b"new\n"


def test_broken_leftover_upload_is_deleted_and_redone(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    from btp_release.testing import Fault

    draft = client.create_draft_release("2.5.0", target_commitish=sim.head_sha)
    path = write(tmp_path, "btp-manager.yaml", b"y" * 300_000)
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="reset", times=5))
    with pytest.raises(Exception):  # noqa: B017,PT011 - every attempt is cut off
        client.upload_asset(draft, path)
    states = [a.state for a in sim.assets(draft.id)]
    assert states == ["open"]  # exactly one broken leftover, not one per attempt
    sim.clear_faults()
    asset = client.upload_asset(draft, path)
    assert asset.complete
    assert [(a.name, a.state) for a in sim.assets(draft.id)] == [("btp-manager.yaml", "uploaded")]


def test_upload_to_published_immutable_release_is_refused(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    sim.set_immutable(True)
    release = client.publish_release(client.create_draft_release("2.6.0", target_commitish=sim.head_sha))
    assert release.immutable
    before = len(sim.requests)
    with pytest.raises(Conflict, match="immutable"):
        client.upload_asset(release, write(tmp_path, "late.yaml", "x"))
    assert len(sim.requests) == before  # refused before any call


def test_missing_asset_file_is_invalid_input(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    draft = client.create_draft_release("2.7.0", target_commitish=sim.head_sha)
    with pytest.raises(InvalidInput, match="does not exist"):
        client.upload_asset(draft, tmp_path / "nope.yaml")
    with pytest.raises(InvalidInput, match="is a directory"):
        client.upload_asset(draft, tmp_path)


def test_rename_and_delete_asset(sim: GitHubSimulator, client: GitHubClient, tmp_path: Path) -> None:
    draft = client.create_draft_release("2.8.0", target_commitish=sim.head_sha)
    asset = client.upload_asset(draft, write(tmp_path, "a.yaml", "a"))
    renamed = client.rename_asset(asset.id, "b.yaml", label="B")
    assert (renamed.id, renamed.name, renamed.label) == (asset.id, "b.yaml", "B")
    assert client.get_asset(asset.id).name == "b.yaml"
    assert client.delete_asset(asset.id) is True
    assert client.delete_asset(asset.id) is False
    assert client.list_assets(draft) == []


def test_wait_for_assets_uses_conditional_polls(
    sim: GitHubSimulator, client: GitHubClient, clock: FakeClock, tmp_path: Path
) -> None:
    draft = client.create_draft_release("3.0.0", target_commitish=sim.head_sha)
    client.upload_asset(draft, write(tmp_path, "a.yaml", "a"))
    with pytest.raises(Timeout) as info:
        client.wait_for_assets(
            draft, ["a.yaml", "b.yaml"], policy=WaitPolicy(timeout=10, interval=2, backoff=1)
        )
    message = str(info.value)
    assert "1/2 present" in message and "missing: b.yaml" in message and "10s" in message
    polls = [r for r in sim.requests if r.method == "GET" and r.path.endswith("/assets")]
    assert len(polls) >= 3 and all(r.etag_hit for r in polls[2:])
    client.upload_asset(draft, write(tmp_path, "b.yaml", "b"))
    found = client.wait_for_assets(draft.id, ["a.yaml", "b.yaml"])
    assert sorted(found) == ["a.yaml", "b.yaml"]


# -- statuses and checks ------------------------------------------------------------------


def test_wait_for_checks_across_statuses_and_check_runs(
    sim: GitHubSimulator, client: GitHubClient, clock: FakeClock
) -> None:
    sha = sim.head_sha
    client.create_commit_status(sha, "post-btp-manager-build", "success", description="built")
    sim.set_check_run(sha, "unit-tests", "completed", "success")
    states = client.wait_for_checks(sha, ["post-btp-manager-build", "unit-tests"])
    assert states == {"post-btp-manager-build": "success", "unit-tests": "success"}
    assert clock.sleeps == []


def test_wait_for_checks_fails_fast_on_failure(
    sim: GitHubSimulator, client: GitHubClient, clock: FakeClock
) -> None:
    sha = sim.head_sha
    sim.set_status(sha, "post-btp-manager-module-build", "pending")
    sim.set_check_run(sha, "e2e", "completed", "failure")
    with pytest.raises(CheckFailed, match="e2e=failure"):
        client.wait_for_checks(sha, ["post-btp-manager-module-build", "e2e"], policy=WaitPolicy(timeout=300))
    assert clock.sleeps == []


def test_wait_for_checks_times_out_naming_what_is_pending(
    sim: GitHubSimulator, client: GitHubClient, clock: FakeClock
) -> None:
    sha = sim.head_sha
    sim.set_status(sha, "build", "pending")
    with pytest.raises(Timeout, match=r"build=pending, lint=missing"):
        client.wait_for_checks(sha, ["build", "lint"], policy=WaitPolicy(timeout=20, interval=5))
    assert sum(clock.sleeps) <= 20


def test_latest_status_per_context_and_newest_check_run_win(
    sim: GitHubSimulator, client: GitHubClient
) -> None:
    sha = sim.head_sha
    sim.set_status(sha, "build", "failure")
    sim.set_status(sha, "build", "success")
    sim.set_check_run(sha, "e2e", "completed", "failure")
    sim.set_check_run(sha, "e2e", "completed", "success")  # a re-run
    assert client.check_states(sha, ["build", "e2e"]) == {"build": "success", "e2e": "success"}
    assert client.combined_status(sha).state == "success"


# -- credentials and limits -----------------------------------------------------------------


def test_bad_token_is_authentication_failed(sim: GitHubSimulator, clock: FakeClock) -> None:
    with make_client(sim, clock, token="ghp_wrong") as github, pytest.raises(AuthenticationFailed) as info:
        github.get_repository()
    assert "GITHUB_TOKEN" in str(info.value) and clock.sleeps == []


def test_readonly_token_cannot_create_and_nothing_is_created(sim: GitHubSimulator, clock: FakeClock) -> None:
    with make_client(sim, clock, token=sim.readonly_token) as github, pytest.raises(PermissionDenied) as info:
        github.create_draft_release("4.0.0", target_commitish=sim.head_sha)
    assert "contents: write" in str(info.value) and clock.sleeps == []
    assert sim.releases() == []


def test_token_from_environment(sim: GitHubSimulator, clock: FakeClock) -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        with GitHubClient(REPO, api_url=sim.api_url, environ={name: sim.token}) as github:
            assert github.authenticated and github.get_repository().can_push is True
    with GitHubClient(REPO, api_url=sim.api_url, environ={}) as anonymous:
        assert not anonymous.authenticated
        draft_free = anonymous.list_releases()
        assert draft_free == []


def test_exhausted_rate_limit_is_reported_not_waited_for_an_hour(clock: FakeClock) -> None:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager", rate_limit=3) as small:
        with make_client(small, clock) as github:
            for _ in range(3):
                github.get_repository()
            with pytest.raises(RateLimited) as info:
                github.get_repository()
        assert info.value.retry_after is not None and info.value.retry_after > 900
        assert clock.sleeps == []
        assert github.rate_limit is not None and github.rate_limit.remaining == 0


def test_token_never_in_logs_errors_or_reprs(
    sim: GitHubSimulator, clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from btp_release.testing import Fault

    caplog.set_level(logging.DEBUG)
    secret_tokens = [sim.token, "ghp_wrong_but_secret_123"]
    seen: list[str] = []
    for token in secret_tokens:
        github = make_client(sim, clock, token=token)
        seen.append(repr(github))
        sim.add_fault(Fault(method="GET", path=r"/releases$", kind="status", status=502, times=1))
        try:
            draft = github.create_draft_release("5.0.0", target_commitish=sim.head_sha)
            github.upload_asset(draft, write(tmp_path, "x.yaml", "x"))
            github.upload_asset(draft, write(tmp_path, "x.yaml", "changed"))
        except Exception as exc:
            seen += [str(exc), repr(exc), str(exc.__cause__), repr(exc.__cause__)]
        finally:
            github.close()
    text = "\n".join(seen + [r.getMessage() for r in caplog.records] + [caplog.text])
    assert "AuthenticationFailed" in text or "Bad credentials" in text
    for token in secret_tokens:
        assert token not in text


def test_mutating_requests_are_spaced_as_github_advises(sim: GitHubSimulator, clock: FakeClock) -> None:
    with GitHubClient(
        REPO, token=sim.token, api_url=sim.api_url, clock=clock, sleeper=clock.sleep, mutation_spacing=1.0
    ) as github:
        github.get_repository()
        github.create_commit_status(sim.head_sha, "a", "pending")
        github.get_repository()
        github.create_commit_status(sim.head_sha, "a", "success")
        assert clock.sleeps == [1.0]  # only between the two POSTs, never for GETs
    assert GitHubClient(REPO, environ={}).mutation_spacing == 1.0  # default on github.com
    assert GitHubClient(REPO, api_url=sim.api_url, environ={}).mutation_spacing == 0.0


def test_idempotent_creation_costs_one_lookup(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    sim.clear_requests()
    draft = client.create_draft_release("6.0.0", target_commitish=sim.head_sha)
    client.create_tag("6.0.0", sim.head_sha)
    client.upload_asset(draft, write(tmp_path, "a.yaml", "a"))
    first = [(r.method, r.service) for r in sim.requests]
    assert first == [("GET", "api"), ("POST", "api")] * 2 + [("GET", "api"), ("POST", "uploads")]
    sim.clear_requests()
    client.create_draft_release("6.0.0", target_commitish=sim.head_sha)
    client.create_tag("6.0.0", sim.head_sha)
    client.upload_asset(draft, write(tmp_path, "a.yaml", "a"))
    assert [r.method for r in sim.requests] == ["GET", "GET", "GET"]  # a re-run only looks


def test_download_into_a_missing_directory_is_invalid_input(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path, clock: FakeClock
) -> None:
    draft = client.create_draft_release("7.0.0", target_commitish=sim.head_sha)
    asset = client.upload_asset(draft, write(tmp_path, "a.yaml", "a"))
    with pytest.raises(InvalidInput, match="cannot write the download"):
        client.download_asset(asset, tmp_path / "no-such-dir" / "a.yaml")
    assert clock.sleeps == []  # a local problem is not retried
