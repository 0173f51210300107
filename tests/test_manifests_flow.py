"""Today's whole flow from the command line: release → submit → promote fast → promote regular → withdraw.

The module is examples/sample-operator (a modulectl module-config, images built elsewhere: stand-ins are
pushed to a real registry). The module's repository is on one GitHub simulator; the module-manifests
repository on a second one in GitHub Enterprise Server's layout (``/api/v3``), with its own token that
can write only there — as btp-manager's catalog lives on an internal GHES host. A reviewer's merge is
``catalog.merge_pull_request``. Every command runs twice: the second run must change nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import yaml

from btp_release.cli import main
from btp_release.oci import RegistryClient
from btp_release.testing import GitHubSimulator
from btp_release.testing.release import commit_checkout, push_stand_in_image
from tests.test_module_config_release import images_of, module_copy

CATALOG = "kyma/module-manifests"
SHORT = "sample-operator"


@pytest.fixture
def registry() -> Any:
    from btp_release.localservices.registry import registry_binary
    from btp_release.testing import LocalRegistry

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    with LocalRegistry() as running:
        yield running


class Flow:
    """The module's repository and checkout, the catalog, and the command line with both tokens."""

    def __init__(
        self, tmp_path: Path, module_sim: GitHubSimulator, catalog: GitHubSimulator, host: str
    ) -> None:
        self.tmp_path = tmp_path
        self.sim = module_sim
        self.catalog = catalog
        self.host = host

        def local_images(module: Path) -> None:
            for name in ("sample-operator.yaml", "sec-scanners-config.yaml"):
                path = module / name
                path.write_text(path.read_text().replace("europe-docker.pkg.dev", host))

        self.module = module_copy(tmp_path, local_images)
        settings = {
            "github-api-url": module_sim.api_url,
            "module-registry": f"{host}/kyma-project/prod/unsigned",
            "poll-interval": 0.05,
            "await-timeout": 2.0,
            "e2e-runner": "btp_release.testing.release:passing_runner",
            "manifests-repo": CATALOG,
            "manifests-api-url": catalog.api_url,
            # The simulators serve plain http, which modulectl refuses in a URL: bare asset names here
            # (test_submit_with_url_links_refuses_plain_http covers the default).
            "manifests-asset-links": "name",
            "manifests-reviewers": ["gopher-lead", "kyma/catalog-owners"],
            "manifests-labels": ["kind/module-release"],
        }
        (self.module / "btp-release.yaml").write_text(yaml.safe_dump(settings))
        module_sim.add_commit("release settings", sha=commit_checkout(self.module, "release settings"))
        self.catalog_token = catalog.add_token({CATALOG: "write"}, others="none")
        self.environ = {"GITHUB_TOKEN": module_sim.token, "BTP_RELEASE_MANIFESTS_TOKEN": self.catalog_token}
        self.commits: dict[str, str] = {}

    def checkout(self, version: str) -> None:
        """The module checkout at the commit ``version`` was released from (submit reads its files)."""
        subprocess.run(["git", "-C", str(self.module), "checkout", "-q", self.commits[version]], check=True)

    def release(self, version: str) -> None:
        config = self.module / "module-config.yaml"
        config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "version": version}))
        self.commits[version] = commit_checkout(self.module, f"version {version}")
        self.sim.add_commit(f"release {version}", sha=self.commits[version])
        with RegistryClient(self.host) as client:
            for image in images_of(self.module / "sample-operator.yaml"):
                push_stand_in_image(client, image, self.sim.head_sha, self.tmp_path)
        code = main(
            ["run", "--version", version, "--module-dir", str(self.module), "--no-docker"],
            environ=self.environ,
        )
        assert code == 0

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()  # what came before (a release's progress) is not this command's
        code = main([*argv, "--module-dir", str(self.module), "--json"], environ=self.environ)
        out = capsys.readouterr().out
        return code, json.loads(out)

    def merge_open(self) -> None:
        (pr,) = [p for p in self.catalog.pull_requests(CATALOG) if p.state == "open"]
        self.catalog.merge_pull_request(CATALOG, pr.number)

    def files(self, ref: str = "main") -> dict[str, bytes]:
        return self.catalog.files(CATALOG, ref)


@pytest.fixture
def flow(tmp_path: Path, registry: Any) -> Iterator[Flow]:
    with (
        GitHubSimulator(owner="kyma-project", repo=SHORT) as module_sim,
        GitHubSimulator(owner="kyma", repo="catalog-bot", ghes=True) as catalog,
    ):
        catalog.add_repository(CATALOG, files={"README.md": "The module catalog.\n"})
        yield Flow(tmp_path, module_sim, catalog, registry.host)


def _only(document: dict[str, Any]) -> dict[str, Any]:
    (result,) = document["results"]
    assert document["error"] is None, document["error"]
    return result  # type: ignore[no-any-return]


def test_release_submit_promote_withdraw_each_twice(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    config_03 = f"modules/{SHORT}/0.3.0/module-config.yaml"
    mapping = f"modules/{SHORT}/module-releases.yaml"
    flow.release("0.3.0")

    # submit: one branch, one pull request with the reviewers and labels; the re-run changes nothing.
    code, first = flow.run(capsys, "submit", "--version", "0.3.0")
    assert code == 0
    submitted = _only(first)
    assert submitted["status"] == "changed" and first["outputs"]["manifests_verdict"] == "changed"
    (pr,) = flow.catalog.pull_requests(CATALOG)
    assert pr.state == "open" and pr.head == f"{SHORT}-0.3.0" and pr.base == "main"
    assert first["outputs"]["pull_request_number"] == str(pr.number)
    assert "gopher-lead" in pr.requested_reviewers and pr.labels and "kind/module-release" in pr.labels
    branch_files = flow.files(f"{SHORT}-0.3.0")
    assert set(branch_files) == {"README.md", config_03}
    written = yaml.safe_load(branch_files[config_03])
    assert written["version"] == "0.3.0" and written["manifest"] == "sample-operator.yaml"
    assert written["repositoryTag"] == "0.3.0" and written["defaultCR"] == "default-sample-cr.yaml"
    head = flow.catalog.branch_sha(CATALOG, f"{SHORT}-0.3.0")

    code, again = flow.run(capsys, "submit", "--version", "0.3.0")
    assert code == 0 and _only(again)["status"] == "unchanged", again
    assert len(flow.catalog.pull_requests(CATALOG)) == 1
    assert flow.catalog.branch_sha(CATALOG, f"{SHORT}-0.3.0") == head

    # merged: the version is in the catalog, and a re-run says so without a new pull request.
    flow.merge_open()
    code, merged = flow.run(capsys, "submit", "--version", "0.3.0")
    assert code == 0 and merged["outputs"]["manifests_verdict"] == "unchanged"
    assert "already submitted" in " ".join(_only(merged)["actions"])
    assert len(flow.catalog.pull_requests(CATALOG)) == 1

    # promote fast: the mapping is created (every default channel gets the version), as btp-manager does.
    code, promoted = flow.run(capsys, "promote", "--version", "0.3.0", "--channel", "fast")
    assert code == 0 and _only(promoted)["status"] == "changed"
    meta = json.loads(promoted["outputs"]["release_meta"])
    assert meta["kind"] == "ModuleReleaseMeta" and meta["spec"]["moduleName"] == SHORT
    assert {c["channel"]: c["version"] for c in meta["spec"]["channels"]} == {
        "fast": "0.3.0",
        "regular": "0.3.0",
    }
    code, again = flow.run(capsys, "promote", "--version", "0.3.0", "--channel", "fast")
    assert code == 0 and _only(again)["status"] == "unchanged"
    flow.merge_open()
    assert mapping in flow.files()

    # A second version: released, submitted, promoted to fast and then regular, each merged.
    flow.release("0.4.0")
    for argv in (("submit",), ("promote", "--channel", "fast"), ("promote", "--channel", "regular")):
        code, document = flow.run(capsys, argv[0], "--version", "0.4.0", *argv[1:])
        assert code == 0 and _only(document)["status"] == "changed", document
        code, document = flow.run(capsys, argv[0], "--version", "0.4.0", *argv[1:])
        assert code == 0 and _only(document)["status"] == "unchanged", document
        flow.merge_open()
    channels = yaml.safe_load(flow.files()[mapping])
    assert {e["channel"]: str(e["version"]) for e in channels["channels"]} == {
        "fast": "0.4.0",
        "regular": "0.4.0",
    }

    # withdraw 0.4.0 is refused (both channels point at it); 0.3.0 is free now and goes.
    capsys.readouterr()
    code = main(["withdraw", "--version", "0.4.0", "--module-dir", str(flow.module)], environ=flow.environ)
    err = capsys.readouterr().err
    assert code == 4 and "channels regular, fast still point at it" in err
    assert "btp-release promote --version 0.3.0 --channel fast --allow-downgrade" in err
    code, withdrawn = flow.run(capsys, "withdraw", "--version", "0.3.0")
    assert code == 0 and _only(withdrawn)["status"] == "changed"
    code, again = flow.run(capsys, "withdraw", "--version", "0.3.0")
    assert code == 0 and _only(again)["status"] == "unchanged"
    flow.merge_open()
    after = flow.files()
    assert config_03 not in after and f"modules/{SHORT}/0.4.0/module-config.yaml" in after
    code, gone = flow.run(capsys, "withdraw", "--version", "0.3.0")
    assert code == 0 and "not in the repository" in " ".join(_only(gone)["actions"])
    # Six pull requests, all merged; no branch was left behind but the pull requests' own.
    prs = flow.catalog.pull_requests(CATALOG)
    assert len(prs) == 6 and all(p.merged for p in prs)
    # The module's own repository was only read: its releases are the two published ones.
    assert sorted(r.tag_name for r in flow.sim.releases() if not r.draft) == ["0.3.0", "0.4.0"]


def test_plan_shows_submit_promote_and_withdraw_and_changes_nothing(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before the release: submit and promote wait for it.
    code, before = flow.run(capsys, "plan", "--version", "0.3.0", "--promote", "fast", "--withdraw")
    assert code == 0, before
    stages = {r["stage"]: r for r in before["results"]}
    assert "published" in " ".join(stages["submit"]["actions"])
    flow.release("0.3.0")
    code, planned = flow.run(capsys, "plan", "--version", "0.3.0", "--promote", "fast")
    assert code == 0
    submit = next(r for r in planned["results"] if r["stage"] == "submit")
    assert submit["status"] == "planned"
    assert any(a.startswith("would open a pull request") for a in submit["actions"])
    promote = next(r for r in planned["results"] if r["stage"] == "promote")
    assert "submit it first" in " ".join(promote["actions"]) or "would run after" in " ".join(
        promote["actions"]
    )
    assert flow.catalog.pull_requests(CATALOG) == []
    assert set(flow.files()) == {"README.md"}


def test_submit_conflict_says_what_differs(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    flow.release("0.3.0")
    path = f"modules/{SHORT}/0.3.0/module-config.yaml"
    flow.catalog.add_commit(
        "someone else's",
        repo=CATALOG,
        files={path: "name: kyma-project.io/module/sample-operator\nversion: 0.3.0\n"},
    )
    capsys.readouterr()
    code = main(["submit", "--version", "0.3.0", "--module-dir", str(flow.module)], environ=flow.environ)
    err = capsys.readouterr().err
    assert code == 4
    assert f"{path} on main of {CATALOG} differs" in err and "+manifest: sample-operator.yaml" in err
    assert flow.catalog.pull_requests(CATALOG) == []


def test_submit_with_url_links_refuses_plain_http(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    flow.release("0.3.0")
    capsys.readouterr()
    code = main(
        ["submit", "--version", "0.3.0", "--module-dir", str(flow.module), "--manifests-asset-links", "url"],
        environ=flow.environ,
    )
    err = capsys.readouterr().err
    assert code == 2 and "https" in err
    assert flow.catalog.pull_requests(CATALOG) == []


def test_the_manifests_token_is_needed_and_never_printed(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.release("0.3.0")
    environ = {"GITHUB_TOKEN": flow.sim.token}  # no BTP_RELEASE_MANIFESTS_TOKEN: another host, anonymous
    capsys.readouterr()
    code = main(["submit", "--version", "0.3.0", "--module-dir", str(flow.module)], environ=environ)
    captured = capsys.readouterr()
    assert code == 5 and "BTP_RELEASE_MANIFESTS_TOKEN" in captured.err
    readonly = flow.catalog.add_token({CATALOG: "read"}, others="none")
    environ["BTP_RELEASE_MANIFESTS_TOKEN"] = readonly
    code = main(["-v", "submit", "--version", "0.3.0", "--module-dir", str(flow.module)], environ=environ)
    captured = capsys.readouterr()
    assert code == 5 and readonly not in captured.out + captured.err
    assert flow.sim.token not in captured.out + captured.err
    assert (
        flow.catalog.pull_requests(CATALOG) == []
        and flow.catalog.branch_sha(CATALOG, f"{SHORT}-0.3.0") is None
    )


def test_a_re_run_ignores_what_github_normalises(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    """The label exists in the catalog in other case (GitHub keeps the existing name), and the body came back
    with CRLF line ends after a web edit: the re-run still finds the pull request as it should be."""
    flow.catalog.add_issue(CATALOG, "labels of the catalog", labels=["Kind/Module-Release"])
    flow.release("0.3.0")
    code, first = flow.run(capsys, "submit", "--version", "0.3.0")
    assert code == 0 and _only(first)["status"] == "changed"
    (pr,) = flow.catalog.pull_requests(CATALOG)
    assert "Kind/Module-Release" in pr.labels and "kind/module-release" not in pr.labels
    headers = {"Authorization": f"Bearer {flow.catalog_token}"}
    url = f"{flow.catalog.api_url}/repos/{CATALOG}/pulls/{pr.number}"
    crlf = (pr.body or "").replace("\n", "\r\n")
    assert httpx.patch(url, json={"body": crlf}, headers=headers).status_code == 200
    code, again = flow.run(capsys, "submit", "--version", "0.3.0")
    assert code == 0 and _only(again)["status"] == "unchanged", again
    (after,) = flow.catalog.pull_requests(CATALOG)
    assert after.body == crlf and after.labels == pr.labels


def test_promote_prints_the_module_release_meta(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    flow.release("0.3.0")
    assert flow.run(capsys, "submit", "--version", "0.3.0")[0] == 0
    flow.merge_open()
    capsys.readouterr()
    argv = ["promote", "--version", "0.3.0", "--channel", "fast", "--module-dir", str(flow.module)]
    assert main(argv, environ=flow.environ) == 0
    out = capsys.readouterr().out
    assert "done: promote (pull_request_url=" in out
    meta = yaml.safe_load(out.split("the channel mapping gives this ModuleReleaseMeta:\n", 1)[1])
    assert meta["kind"] == "ModuleReleaseMeta" and meta["metadata"]["name"] == SHORT
    assert {c["channel"]: c["version"] for c in meta["spec"]["channels"]} == {
        "fast": "0.3.0",
        "regular": "0.3.0",
    }


def test_dry_runs_and_plan_read_the_catalog_and_change_nothing(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    flow.release("0.3.0")
    before = flow.files()
    argv = ["submit", "--version", "0.3.0", "--module-dir", str(flow.module), "--dry-run"]
    assert main(argv, environ=flow.environ) == 0
    out = capsys.readouterr().out
    assert "would write branch sample-operator-0.3.0" in out and "would open a pull request" in out
    assert "nothing was changed (--dry-run)" in out
    assert flow.catalog.pull_requests(CATALOG) == [] and flow.files() == before
    # Submitted and promoted: a plan of the withdraw lists the refusal instead of failing.
    assert flow.run(capsys, "submit", "--version", "0.3.0")[0] == 0
    flow.merge_open()
    assert flow.run(capsys, "promote", "--version", "0.3.0", "--channel", "fast")[0] == 0
    flow.merge_open()
    code, planned = flow.run(capsys, "plan", "--version", "0.3.0", "--withdraw")
    assert code == 0, planned
    (withdraw,) = [r for r in planned["results"] if r["stage"] == "withdraw"]
    assert withdraw["status"] == "planned"
    assert withdraw["actions"][0].startswith(
        "would be refused: cannot withdraw sample-operator 0.3.0: channels"
    )
    code, dry = flow.run(capsys, "promote", "--version", "0.3.0", "--channel", "fast", "--dry-run")
    assert (
        code == 0
        and _only(dry)["status"] == "planned"
        and "already gets 0.3.0" in " ".join(_only(dry)["actions"])
    )


def test_what_submit_refuses_before_it_writes(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    flow.release("0.3.0")
    capsys.readouterr()
    base = ["submit", "--version", "0.3.0", "--module-dir", str(flow.module)]
    # A team of another organisation: GitHub takes only the slug and would ask the catalog owner's team.
    assert main([*base, "--manifests-reviewers", "other-org/reviewers"], environ=flow.environ) == 2
    err = capsys.readouterr().err
    assert "GitHub can only ask teams of kyma to review pull requests in kyma/module-manifests" in err
    # Published, but not yet: the word is right.
    assert main(["submit", "--version", "0.9.0", "--module-dir", str(flow.module)], environ=flow.environ) == 3
    err = capsys.readouterr().err
    assert "has no release for 0.9.0; a version is submitted once it is published" in err
    assert (
        flow.catalog.pull_requests(CATALOG) == []
        and flow.catalog.branch_sha(CATALOG, f"{SHORT}-0.3.0") is None
    )


def test_submit_needs_a_module_config(tmp_path: Path) -> None:
    """A module released from btp-release.yaml alone has no icons, team or manager to submit: said before
    anything is read or written (no client is even made)."""
    from btp_release.errors import InvalidInput
    from btp_release.pipeline import ReleasePipeline
    from btp_release.testing.release import example_config

    config = example_config(tmp_path, github_api_url="https://api.github.com", registry="127.0.0.1:1")
    assert config.module_config is None

    def no_client() -> Any:
        raise AssertionError("no client may be made")

    with (
        ReleasePipeline.from_config(
            attrs.evolve(config, manifests_repo=CATALOG),
            "1.2.0",
            environ={},
            docker=False,
            manifests=no_client,
        ) as pipeline,
        pytest.raises(InvalidInput, match=r"submit needs the module's module-config\.yaml") as info,
    ):
        pipeline.submit()
    assert "add a modulectl module-config.yaml" in (info.value.hint or "")
