"""GitHub rules the simulator models beyond the basic lifecycle, each against GitHub's documentation
(REST API 2022-11-28): the "latest" pointer (``make_latest``), ``created_at`` as the commit date,
annotated tag objects, ``If-Modified-Since``, the secondary limit on content creation, links by
repository id, and the asset limits.
"""

from __future__ import annotations

import email.utils
import inspect
import time
from collections.abc import Iterator

import httpx
import pytest

from btp_release.testing import GitHubSimulator
from btp_release.testing.github_sim import SecondaryLimits

from .github_sim_support import REPO, Clock, MakeSim, api, create, tag_sha, upload


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(make_github_sim: MakeSim, clock: Clock) -> GitHubSimulator:
    return make_github_sim(clock=clock)


@pytest.fixture
def gh(sim: GitHubSimulator) -> Iterator[httpx.Client]:
    with api(sim) as client:
        yield client


def latest(gh: httpx.Client) -> str | None:
    response = gh.get(f"{REPO}/releases/latest")
    return str(response.json()["tag_name"]) if response.status_code == 200 else None


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


# -- make_latest and created_at ---------------------------------------------------------------


def test_make_latest_is_a_stored_pointer(sim: GitHubSimulator, gh: httpx.Client) -> None:
    """ "true" (the default for a newly published release) points "latest" at the release, also at
    an older one; "false" leaves it; drafts and prereleases cannot be latest."""
    older = create(gh, "1.0.0")
    create(gh, "2.0.0")
    assert latest(gh) == "2.0.0"
    assert gh.patch(f"{REPO}/releases/{older['id']}", json={"make_latest": "true"}).status_code == 200
    assert latest(gh) == "1.0.0"
    create(gh, "3.0.0", make_latest="false")
    create(gh, "4.0.0-rc.1", prerelease=True, make_latest="true")
    create(gh, "5.0.0", draft=True, make_latest="true")
    assert latest(gh) == "1.0.0"
    invalid = gh.patch(f"{REPO}/releases/{older['id']}", json={"make_latest": "yes"})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "make_latest"


def test_draft_keeps_its_make_latest_until_published(sim: GitHubSimulator, gh: httpx.Client) -> None:
    create(gh, "1.0.0")
    quiet = create(gh, "2.0.0", draft=True, make_latest="false")
    loud = create(gh, "3.0.0", draft=True)
    gh.patch(f"{REPO}/releases/{quiet['id']}", json={"draft": False})
    assert latest(gh) == "1.0.0"
    gh.patch(f"{REPO}/releases/{loud['id']}", json={"draft": False})
    assert latest(gh) == "3.0.0"


def test_without_a_pointer_latest_is_by_commit_date_then_semver(
    sim: GitHubSimulator, gh: httpx.Client, clock: Clock
) -> None:
    """ "legacy": "the latest release is determined based on the release creation date and higher
    semantic version", where created_at is "the date of the commit used for the release"."""
    first = sim.head_sha
    clock.now += 100
    second = sim.add_commit("second")
    clock.now += 1000  # releases are drafted long after their commits
    high = create(gh, "2.0.0", target_commitish=first)
    low = create(gh, "1.5.0", target_commitish=second, make_latest="legacy")
    assert high["created_at"] == iso(clock.now - 1100) and low["created_at"] == iso(clock.now - 1000)
    assert latest(gh) == "1.5.0"  # the newer commit wins over the higher version
    create(gh, "1.7.0", target_commitish=second, make_latest="legacy")
    assert latest(gh) == "1.7.0"  # same commit date: the higher version
    create(gh, "1.9.0", target_commitish=second, make_latest="false")
    assert latest(gh) == "1.7.0"  # marked "false": never chosen by the rule either
    listed = [r["tag_name"] for r in gh.get(f"{REPO}/releases").json()]
    assert listed == ["1.9.0", "1.7.0", "1.5.0", "2.0.0"]  # newest commit first


def test_deleting_the_latest_falls_back_to_the_rule(sim: GitHubSimulator, gh: httpx.Client) -> None:
    create(gh, "2.0.0")
    chosen = create(gh, "1.0.0")
    assert latest(gh) == "1.0.0"
    gh.delete(f"{REPO}/releases/{chosen['id']}")
    assert latest(gh) == "2.0.0"
    only = gh.get(f"{REPO}/releases/tags/2.0.0").json()
    gh.patch(f"{REPO}/releases/{only['id']}", json={"prerelease": True})
    assert latest(gh) is None


def test_created_at_is_the_date_of_the_released_commit(
    sim: GitHubSimulator, gh: httpx.Client, clock: Clock
) -> None:
    clock.now += 300
    draft = create(gh, "1.0.0", draft=True)
    committed = gh.get(f"{REPO}/commits/{sim.head_sha}").json()["commit"]["committer"]["date"]
    assert draft["created_at"] == committed == iso(clock.now - 300)
    clock.now += 500
    sim.add_commit("later")  # main moves on: publishing tags the new head
    clock.now += 500
    published = gh.patch(f"{REPO}/releases/{draft['id']}", json={"draft": False}).json()
    assert tag_sha(sim, "1.0.0") == sim.head_sha
    assert published["created_at"] == iso(clock.now - 500)
    assert published["published_at"] == iso(clock.now)


# -- annotated tags ---------------------------------------------------------------------------


def test_annotated_tag_object_and_its_ref(sim: GitHubSimulator, gh: httpx.Client) -> None:
    head = sim.head_sha
    body = {
        "tag": "1.0.0",
        "message": "Release 1.0.0\n",
        "object": head,
        "type": "commit",
        "tagger": {"name": "Kyma", "email": "kyma@example.com", "date": "2024-01-01T00:00:00Z"},
    }
    created = gh.post(f"{REPO}/git/tags", json=body)
    assert created.status_code == 201
    tag = created.json()
    assert (tag["tag"], tag["message"], tag["object"]) == (
        "1.0.0",
        "Release 1.0.0\n",
        {"sha": head, "type": "commit", "url": f"{sim.api_url}{REPO}/git/commits/{head}"},
    )
    assert tag["sha"] != head and len(tag["sha"]) == 40
    assert tag["verification"]["verified"] is False and tag["verification"]["reason"] == "unsigned"
    assert created.headers["Location"] == tag["url"] == f"{sim.api_url}{REPO}/git/tags/{tag['sha']}"
    assert gh.get(f"{REPO}/git/tags/{tag['sha']}").json() == tag
    assert tag_sha(sim, "1.0.0") is None  # the object alone makes no tag (GitHub's note)

    ref = gh.post(f"{REPO}/git/refs", json={"ref": "refs/tags/1.0.0", "sha": tag["sha"]}).json()
    assert ref["object"] == {"sha": tag["sha"], "type": "tag", "url": tag["url"]}
    assert gh.get(f"{REPO}/git/ref/tags/1.0.0").json()["object"]["type"] == "tag"
    assert gh.get(f"{REPO}/commits/1.0.0").json()["sha"] == head  # peeled to the commit
    sim.add_commit("later")
    release = create(gh, "1.0.0", target_commitish="main")  # publishes on the existing tag
    assert tag_sha(sim, "1.0.0") == tag["sha"] and release["draft"] is False
    notes = gh.post(
        f"{REPO}/releases/generate-notes", json={"tag_name": "2.0.0", "previous_tag_name": "1.0.0"}
    )
    assert [line for line in notes.json()["body"].splitlines() if line.startswith("* ")] == [
        f"* later ({sim.head_sha[:7]})"
    ]


def test_tag_object_validation(sim: GitHubSimulator, gh: httpx.Client) -> None:
    base = {"tag": "v1", "message": "m", "object": sim.head_sha, "type": "commit"}
    missing = gh.post(f"{REPO}/git/tags", json={k: v for k, v in base.items() if k != "message"})
    assert missing.status_code == 422 and "message" in missing.json()["message"]
    assert gh.post(f"{REPO}/git/tags", json={**base, "object": "0" * 40}).status_code == 422
    assert gh.post(f"{REPO}/git/tags", json={**base, "type": "tree"}).status_code == 422
    assert gh.post(f"{REPO}/git/tags", json={**base, "type": "branch"}).status_code == 422
    assert gh.post(f"{REPO}/git/tags", json={**base, "tagger": {"name": "x"}}).status_code == 422
    assert gh.get(f"{REPO}/git/tags/{'0' * 40}").status_code == 404
    with api(sim, "read") as reader:
        assert reader.post(f"{REPO}/git/tags", json=base).status_code == 403


def test_simulator_creates_annotated_tags(sim: GitHubSimulator, gh: httpx.Client) -> None:
    ref = sim.create_tag("1.0.0", message="Release 1.0.0")
    assert ref.object_type == "tag" and ref.sha != sim.head_sha
    assert gh.get(f"{REPO}/git/tags/{ref.sha}").json()["object"]["sha"] == sim.head_sha
    assert sim.create_tag("0.9.0").object_type == "commit"


# -- conditional requests ---------------------------------------------------------------------


def test_if_modified_since_gives_304_that_does_not_count(
    sim: GitHubSimulator, gh: httpx.Client, clock: Clock
) -> None:
    first = gh.get(f"{REPO}/releases")
    stamp = first.headers["Last-Modified"]
    assert email.utils.parsedate_to_datetime(stamp).timestamp() == int(clock.now)
    used = int(first.headers["x-ratelimit-used"])
    again = gh.get(f"{REPO}/releases", headers={"If-Modified-Since": stamp})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["Last-Modified"] == stamp and int(again.headers["x-ratelimit-used"]) == used
    assert sim.requests[-1].etag_hit is True
    clock.now += 5
    create(gh, "1.0.0")
    changed = gh.get(f"{REPO}/releases", headers={"If-Modified-Since": stamp})
    assert changed.status_code == 200 and len(changed.json()) == 1
    assert changed.headers["Last-Modified"] != stamp
    assert gh.get(f"{REPO}/releases", headers={"If-Modified-Since": "yesterday"}).status_code == 200
    stale_etag = {
        "If-None-Match": first.headers["ETag"],
        "If-Modified-Since": changed.headers["Last-Modified"],
    }
    assert gh.get(f"{REPO}/releases", headers=stale_etag).status_code == 200  # If-None-Match wins


# -- secondary rate limit ---------------------------------------------------------------------


def test_secondary_limit_on_content_creation(make_github_sim: MakeSim, clock: Clock) -> None:
    sim = make_github_sim(clock=clock, secondary_limits=SecondaryLimits(per_minute=3, per_hour=5))
    with api(sim) as gh:
        for number in range(3):
            create(gh, f"0.{number}.0")
            clock.now += 10
        refused = gh.post(f"{REPO}/releases", json={"tag_name": "0.3.0"})
        assert refused.status_code == 403
        assert refused.headers["retry-after"] == "30"  # the first of the minute leaves at +60
        assert refused.json()["message"].startswith("You have exceeded a secondary rate limit")
        assert "secondary-rate-limits" in refused.json()["documentation_url"]
        assert int(refused.headers["x-ratelimit-remaining"]) > 0  # the primary limit is fine
        assert gh.get(f"{REPO}/releases").status_code == 200  # reads are not limited
        notes = gh.post(f"{REPO}/releases/generate-notes", json={"tag_name": "0.3.0"})
        assert notes.status_code == 200  # creates nothing
        clock.now += 30  # t=60: the request of t=0 has left the minute
        create(gh, "0.3.0")
        clock.now += 60
        create(gh, "0.4.0")  # t=120: the fifth in the hour
        clock.now += 120
        hourly = gh.post(f"{REPO}/releases", json={"tag_name": "0.5.0"})
        assert hourly.status_code == 403 and hourly.headers["retry-after"] == str(3600 - 240)
        clock.now += 3600 - 240
        create(gh, "0.5.0")
    assert len(sim.releases()) == 6


def test_secondary_limit_uses_githubs_numbers(make_github_sim: MakeSim, clock: Clock) -> None:
    """About 80 content-generating requests per minute and 500 per hour; 429 where configured."""
    assert SecondaryLimits() == SecondaryLimits(per_minute=80, per_hour=500, status=403)
    sim = make_github_sim(clock=clock, secondary_limits=SecondaryLimits(status=429))
    with api(sim) as gh:
        release = create(gh, "1.0.0", draft=True)
        statuses = [
            gh.post(f"{REPO}/statuses/{sim.head_sha}", json={"state": "success", "context": f"c{n}"})
            for n in range(80)
        ]
    assert release["draft"] and [s.status_code for s in statuses] == [201] * 79 + [429]


def test_secondary_limit_is_off_by_default(sim: GitHubSimulator, gh: httpx.Client) -> None:
    for number in range(81):
        response = gh.post(
            f"{REPO}/statuses/{sim.head_sha}", json={"state": "success", "context": f"c{number}"}
        )
        assert response.status_code == 201


# -- links by repository id -------------------------------------------------------------------


def test_repository_id_routes_answer_like_owner_and_name(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0")
    by_id = "/repositories/1296269"
    assert gh.get(by_id).json()["full_name"] == "kyma-project/btp-manager"
    assert (
        gh.get(f"{by_id}/releases/{release['id']}").json()
        == gh.get(f"{REPO}/releases/{release['id']}").json()
    )
    assert gh.get(f"{by_id}/releases/latest").json()["id"] == release["id"]
    assert gh.get("/repositories/42/releases").status_code == 404
    assert gh.get("/repositories/1296269x/releases").status_code == 404
    served = [
        (r.sent_path, r.path) for r in sim.requests if r.sent_path.startswith(by_id) and r.status == 200
    ]
    assert served == [
        (by_id, REPO),
        (f"{by_id}/releases/{release['id']}", f"{REPO}/releases/{release['id']}"),
        (f"{by_id}/releases/latest", f"{REPO}/releases/latest"),
    ]


# -- asset limits -----------------------------------------------------------------------------


def test_asset_limits_default_to_githubs() -> None:
    parameters = inspect.signature(GitHubSimulator).parameters
    assert parameters["max_assets_per_release"].default == 1000
    assert parameters["max_asset_size"].default == 2 * 1024**3  # "under 2 GiB"


def test_asset_size_and_count_limits(make_github_sim: MakeSim) -> None:
    sim = make_github_sim(max_assets_per_release=2, max_asset_size=10)
    with api(sim) as gh:
        release = create(gh, "1.0.0", draft=True)
        too_large = upload(gh, release, "big.bin", b"x" * 10)
        assert too_large.status_code == 422 and too_large.json()["message"] == "Validation Failed"
        [error] = too_large.json()["errors"]
        assert (error["resource"], error["field"]) == ("ReleaseAsset", "size")
        assert upload(gh, release, "a.bin", b"x" * 9).status_code == 201
        assert upload(gh, release, "b.bin", b"x").status_code == 201
        too_many = upload(gh, release, "c.bin", b"x")
        assert too_many.status_code == 422 and "at most 2 assets" in too_many.json()["errors"][0]["message"]
    assert [a.name for a in sim.assets(release["id"])] == ["a.bin", "b.bin"]
