"""A module of today releases from its modulectl module-config.yaml alone (no btp-release.yaml).

The module is examples/sample-operator (a kustomize-rendered manifest whose Deployment names two of
its images in environment variables, today's scanner config, no Dockerfile: its images are built by
a workflow of its own). Every check compares the output with the input files, so nothing in the
output can be invented: a variant of each real-world format (old and new scanner keys, URL and local
manifests, icons as list and map) goes through the same comparison.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.cli import main
from btp_release.module import read_module
from btp_release.module.validate import manifest_images, parse_documents
from btp_release.oci import OciLayout
from btp_release.testing.release import commit_checkout

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-operator"
VERSION = "0.3.0"
REPOSITORY = "kyma-project/prod/unsigned/component-descriptors/kyma-project.io/module/sample-operator"


def module_copy(tmp_path: Path, edit: Any = None) -> Path:
    module = tmp_path / "sample-operator"
    shutil.copytree(SAMPLE, module)
    if edit is not None:
        edit(module)
    commit_checkout(module)
    return module


def snapshot_argv(module: Path, out: Path, version: str = VERSION) -> list[str]:
    return ["run", "--version", version, "--snapshot", "--module-dir", str(module), "--out", str(out)]


def snapshot(module: Path, out: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main([*snapshot_argv(module, out), "--json", *args], environ={})
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    document: dict[str, Any] = json.loads(captured.out)
    return document


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def images_of(manifest: Path) -> list[str]:
    documents, _ = parse_documents(manifest.read_bytes(), file=str(manifest))
    return manifest_images(documents, shape="modulectl")


def check_release(module: Path, out: Path, *, manifest_asset: str, default_cr_asset: str) -> None:
    """Everything in ``out`` against the module's own files."""
    config = load(module / "module-config.yaml")
    assets = sorted(p.name for p in (out / "assets").iterdir())
    assert assets == sorted(["template.yaml", manifest_asset, default_cr_asset])
    template = load(out / "assets" / "template.yaml")
    assert template["apiVersion"] == "operator.kyma-project.io/v1beta2"
    assert template["metadata"]["name"] == f"sample-operator-{VERSION}"
    assert template["metadata"]["namespace"] == ""
    for key, value in (config.get("labels") or {}).items():
        assert template["metadata"]["labels"][key] == value
    body = template["spec"]
    assert body["moduleName"] == "sample-operator" and body["version"] == VERSION
    assert body["info"]["repository"] == config["repository"]
    assert body["info"]["documentation"] == config["documentation"]
    icons = config["icons"]
    expected_icons = icons if isinstance(icons, list) else [{"name": k, "link": v} for k, v in icons.items()]
    assert body["info"]["icons"] == sorted(expected_icons, key=lambda icon: icon["name"])
    assert body["manager"] == config["manager"]
    assert body["associatedResources"] == config["associatedResources"]
    assert body["requiresDowntime"] is bool(config.get("requiresDowntime"))
    assert body["descriptor"] == {}
    assert body["data"] == load(out / "assets" / default_cr_asset)
    for absent in ("channel", "target", "mandatory"):
        assert absent not in body

    manifest = out / "assets" / manifest_asset
    images = images_of(manifest)
    assert len(images) == 3  # the container's and the two named in environment variables
    content = read_module(
        OciLayout(out / "module"), REPOSITORY, VERSION
    )  # no "v": as lifecycle-manager resolves
    resources = content.descriptor["component"]["resources"]
    referenced = [r["access"]["imageReference"] for r in resources if r["type"] == "ociArtifact"]
    assert sorted(referenced) == sorted(images)

    scanners = load(out / "sec-scanners-config.yaml")
    original = load(module / config["security"])
    assert scanners["rc-tag"] == VERSION
    image_key = "bdba" if "bdba" in original else "protecode"
    assert sorted(scanners[image_key]) == sorted(images)
    assert {k: v for k, v in scanners.items() if k not in ("rc-tag", image_key)} == {
        k: v for k, v in original.items() if k not in ("rc-tag", image_key)
    }
    assert list(scanners) == list(original)  # no key invented, none dropped, the file's order

    provenance = json.loads((out / "release-manifest.json").read_text())
    assert provenance["images"] == sorted(images)
    assert provenance["image"] == {"reference": "", "digest": None}  # no image built here
    assert provenance["module"]["reference"].endswith(f"/sample-operator:{VERSION}")


def test_a_module_with_only_a_module_config_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = module_copy(tmp_path)
    assert not (module / "btp-release.yaml").exists() and not (module / "Dockerfile").exists()
    document = snapshot(module, tmp_path / "dist", capsys)
    check_release(
        module,
        tmp_path / "dist",
        manifest_asset="sample-operator.yaml",
        default_cr_asset="default-sample-cr.yaml",
    )
    notes = " ".join(document["results"][0]["actions"])
    assert "no image built here" in notes
    assert not document["results"][0]["warnings"]  # nothing unserved, no version mismatch


def icons_as_a_map(module: Path) -> None:
    config = load(module / "module-config.yaml")
    config["icons"] = {"module-icon": config["icons"][0]["link"], "another": "https://example.com/a.svg"}
    (module / "module-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def old_scanner_format(module: Path) -> None:
    (module / "sec-scanners-config.yaml").write_text(
        "module-name: sample-operator\n"
        "rc-tag: 0.2.0\n"
        "protecode:\n  - europe-docker.pkg.dev/kyma-project/prod/sample-operator:0.2.0\n"
        "whitesource:\n  language: golang-mod\n  exclude:\n    - '**/test/**'\n"
    )


@pytest.mark.parametrize("edit", [icons_as_a_map, old_scanner_format], ids=["icons-map", "old-scanner-keys"])
def test_each_format_variant_comes_out_as_it_went_in(
    edit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = module_copy(tmp_path, edit)
    snapshot(module, tmp_path / "dist", capsys)
    check_release(
        module,
        tmp_path / "dist",
        manifest_asset="sample-operator.yaml",
        default_cr_asset="default-sample-cr.yaml",
    )


MANIFEST_URL = "https://github.com/kyma-project/sample-operator/releases/download/0.3.0/sample-operator.yaml"
CR_URL = "https://github.com/kyma-project/sample-operator/releases/download/0.3.0/default-sample-cr.yaml"


def urls_for_manifest_and_default_cr(module: Path) -> None:
    config = load(module / "module-config.yaml")
    config.update(manifest=MANIFEST_URL, defaultCR=CR_URL)
    (module / "module-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (module / "manifests").mkdir()
    shutil.move(module / "sample-operator.yaml", module / "manifests" / "rendered.yaml")


def test_manifest_urls_name_the_published_files_and_a_local_file_is_named_for_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = module_copy(tmp_path, urls_for_manifest_and_default_cr)
    assert main(snapshot_argv(module, tmp_path / "x"), environ={}) == 2
    err = capsys.readouterr().err
    assert f"key 'manifest' is the URL {MANIFEST_URL}" in err and "manifest: PATH" in err

    (module / "btp-release.yaml").write_text(
        "manifest: manifests/rendered.yaml\ndefault-cr: default-sample-cr.yaml\n"
    )
    commit_checkout(module, "name the local files")
    snapshot(module, tmp_path / "dist", capsys)
    # the assets carry the names the URLs promise; the template points at the manifest's URL
    check_release(
        module,
        tmp_path / "dist",
        manifest_asset="sample-operator.yaml",
        default_cr_asset="default-sample-cr.yaml",
    )
    template = load(tmp_path / "dist" / "assets" / "template.yaml")
    assert template["spec"]["resources"] == [{"name": "rawManifest", "link": MANIFEST_URL}]


def test_the_version_flag_wins_and_stale_keys_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def stale(module: Path) -> None:
        with (module / "module-config.yaml").open("a") as handle:
            handle.write("channel: regular\n")

    module = module_copy(tmp_path, stale)
    assert main(snapshot_argv(module, tmp_path / "d", "0.4.0"), environ={}) == 0
    out = capsys.readouterr().out
    assert "says version 0.3.0; releasing 0.4.0" in out
    assert "channel ignored (modulectl no longer reads them)" in out
    assert load(tmp_path / "d" / "assets" / "template.yaml")["spec"]["version"] == "0.4.0"


def test_a_broken_module_config_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(module: Path) -> None:
        config = load(module / "module-config.yaml")
        config.update(documentation="http://not-https.example.com", icons=[], name="Not A Name")
        (module / "module-config.yaml").write_text(yaml.safe_dump(config))

    module = module_copy(tmp_path, broken)
    argv = ["validate", "--version", VERSION, "--module-dir", str(module)]
    assert main(argv, environ={}) == 2
    err = capsys.readouterr().err
    for key in ("documentation", "icons", "name"):
        assert f"{module / 'module-config.yaml'}: " in err and key in err
    assert "Traceback" not in err


# -- a real run: GitHub simulator, a real registry, images built by another workflow ---------------


def build_image_rules(tmp_path: Path) -> list[tuple[str, Any]]:
    """``build_image`` as each layout gets it (module-config present or not, Dockerfile or not)."""
    from btp_release.config import ConfigError, load_config

    results: list[tuple[str, Any]] = []
    for name, dockerfile, setting in (
        ("module-config, no Dockerfile", False, None),
        ("module-config and a Dockerfile", True, None),
        ("module-config, no Dockerfile, build-image: true", False, "build-image: true\n"),
    ):
        module = tmp_path / f"module-{len(results)}"
        shutil.copytree(SAMPLE, module)
        if dockerfile:
            (module / "Dockerfile").write_text("FROM scratch\n")
        if setting:
            (module / "btp-release.yaml").write_text(setting)
        try:
            results.append((name, load_config(module, environ={}).build_image))
        except ConfigError as exc:
            results.append((name, exc.problems))
    return results


def test_a_module_config_without_a_dockerfile_builds_no_image_unless_asked(tmp_path: Path) -> None:
    (quiet, built, asked) = build_image_rules(tmp_path)
    assert quiet[1] is False and built[1] is True
    (problem,) = asked[1]  # asked for a build without a Dockerfile: the missing file is named
    assert problem.startswith("dockerfile (default): file ") and "Dockerfile does not exist" in problem


@pytest.fixture
def registry() -> Any:
    from btp_release.localservices.registry import registry_binary
    from btp_release.testing import LocalRegistry

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    with LocalRegistry() as running:
        yield running


def test_run_waits_for_the_images_built_elsewhere_then_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: Any
) -> None:
    from btp_release.oci import RegistryClient
    from btp_release.testing import GitHubSimulator
    from btp_release.testing.release import push_stand_in_image

    host = registry.host

    def local_images(module: Path) -> None:
        manifest = module / "sample-operator.yaml"
        manifest.write_text(manifest.read_text().replace("europe-docker.pkg.dev", host))
        (module / "sec-scanners-config.yaml").write_text(
            (module / "sec-scanners-config.yaml").read_text().replace("europe-docker.pkg.dev", host)
        )

    with GitHubSimulator(owner="kyma-project", repo="sample-operator") as sim:
        module = module_copy(tmp_path, local_images)
        settings = {
            "github-api-url": sim.api_url,
            "module-registry": f"{host}/kyma-project/prod/unsigned",
            "poll-interval": 0.05,
            "await-timeout": 1.0,
            "e2e-runner": "btp_release.testing.release:passing_runner",
        }
        (module / "btp-release.yaml").write_text(yaml.safe_dump(settings))
        sim.add_commit("module files", sha=commit_checkout(module))
        images = images_of(module / "sample-operator.yaml")
        assert len(images) == 3 and all(image.startswith(host) for image in images)
        argv = ["run", "--version", VERSION, "--module-dir", str(module), "--no-docker"]
        environ = {"GITHUB_TOKEN": sim.token}

        # The images' own workflow has pushed one of three: the run waits, then names what is missing.
        with RegistryClient(host) as client:
            push_stand_in_image(client, images[0], sim.head_sha, tmp_path)
        assert main(argv, environ=environ) == 8
        err = capsys.readouterr().err
        assert f"image {images[1]} (built elsewhere)" in err and "not found" in err
        assert not [r for r in sim.releases() if not r.draft]  # nothing published

        with RegistryClient(host) as client:
            digests = {image: push_stand_in_image(client, image, sim.head_sha, tmp_path) for image in images}
        assert main([*argv, "--json"], environ=environ) == 0
        document = json.loads(capsys.readouterr().out)
        (release,) = sim.releases()
        assert not release.draft and release.tag_name == VERSION
        (awaited,) = [r for r in document["results"] if r["stage"] == "await"]
        for image, digest in digests.items():
            assert f"{image} present ({digest})" in awaited["actions"]
        assets = sorted(a.name for a in sim.assets(release.id))
        assert assets == sorted(
            ["template.yaml", "sample-operator.yaml", "default-sample-cr.yaml", "release-manifest.json"]
        )
        # The module in the registry under the name lifecycle-manager resolves (version without "v").
        with RegistryClient(host) as client:
            content = read_module(client, REPOSITORY, VERSION)
        referenced = [
            r["access"]["imageReference"]
            for r in content.descriptor["component"]["resources"]
            if r["type"] == "ociArtifact"
        ]
        assert sorted(referenced) == sorted(images)


def test_rehearse_plays_the_registries_of_the_images_built_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from btp_release.localservices.registry import registry_binary

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    module = module_copy(tmp_path)
    argv = ["rehearse", "--version", VERSION, "--module-dir", str(module)]
    code = main(argv, environ={})
    out = capsys.readouterr().out
    assert code == 0, out
    images = images_of(module / "sample-operator.yaml")
    assert "stand-ins pushed to 127.0.0.1:" in out and all(image in out for image in images)
    assert "a real release would refuse" not in out  # a clean checkout, nothing else read
    assert "re-run: publish unchanged" in out
    assert f"released {VERSION} (published)" in out
    # Today's flow goes on: submitted and promoted to the module's channel in a GHES-layout catalog,
    # each pull request opened once (the re-run finds it) and then merged.
    lines = out.splitlines()
    assert any(
        re.match(r"first run: submit changed \(http://127\.0\.0\.1:\d+/kyma/module-manifests/pull/1\)$", x)
        for x in lines
    )
    assert any(re.match(r"re-run: submit unchanged \(.*/pull/1\)$", x) for x in lines)
    assert any(re.match(r"first run: promote to regular changed \(.*/pull/2\)$", x) for x in lines)
    assert any(re.match(r"re-run: promote to regular unchanged \(.*/pull/2\)$", x) for x in lines)
    assert lines[-1] == (
        "kyma/module-manifests now holds: README.md, modules/sample-operator/0.3.0/module-config.yaml, "
        "modules/sample-operator/module-releases.yaml"
    )
