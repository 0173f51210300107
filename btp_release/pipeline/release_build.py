"""What one release builds, computed from its config, its version and the module files alone.

:class:`ReleaseBuild` names the release's artifacts (tag, module and image references), makes the
module spec and the module artifact (cached per commit: the build is deterministic), the image build
and the provenance record, and lists the assets. None of it asks GitHub or a registry: that is the
remote state of :class:`~btp_release.pipeline.context.ReleaseContext`, which extends this class, so the
preflight (before a commit is known) and a snapshot (without GitHub) build the same way a release does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from btp_release.config import ReleaseConfig
from btp_release.images import ImageBuild
from btp_release.module import ModuleArtifact, ModuleInputs, ModuleSpec, build_module
from btp_release.module.manifest import set_manager_image
from btp_release.module.security import SecurityConfig
from btp_release.module.validate import manifest_images, parse_documents
from btp_release.oci import Reference
from btp_release.pipeline.provenance import PROVENANCE_ASSET, ArtifactRecord, Provenance, sha256_bytes
from btp_release.redaction import get_logger
from btp_release.version import Version

__all__ = ["ReleaseBuild"]

log = get_logger("btp_release.pipeline")


class ReleaseBuild:
    """One version of one module as built from its files: names, spec, artifact, provenance, assets.

    ``tool_versions`` are recorded in the provenance (what made the release).
    """

    def __init__(
        self, config: ReleaseConfig, version: Version | str, *, tool_versions: dict[str, str] | None = None
    ) -> None:
        self.config = config
        self.version = version if isinstance(version, Version) else Version.parse(version)
        self.tool_versions = tool_versions or {}
        self._artifact: ModuleArtifact | None = None
        self._artifact_commit: str | None = None
        self._security: SecurityConfig | None = None

    # -- names ---------------------------------------------------------------------------------

    @property
    def tag(self) -> str:
        return self.version.image_tag

    @property
    def image_ref(self) -> Reference:
        return Reference.parse(f"{self.config.image_repo}:{self.version.image_tag}")

    def module_spec(self, commit: str) -> ModuleSpec:
        """The module's spec: settings from the config, the rest of the ModuleTemplate from the
        module-config (icons, manager, labels, associatedResources, resources, requiresDowntime…)."""
        c = self.config
        return ModuleSpec(
            **_from_module_config(c),
            component_name=c.module_name,
            version=self.version,
            registry_base_url=c.module_registry,
            source_repo_url=c.source_repo_url,
            source_commit=commit,
            manifest_path=c.path(c.manifest),
            default_cr_path=c.path(c.default_cr) if c.default_cr else None,
            security_config_path=c.path(c.security_config) if c.security_config else None,
            channel=c.channel,
            shape=c.template_shape,
            template_api_version=c.template_api_version,
            default_cr_crd_external=c.default_cr_crd_external,
            doc_url=c.documentation_url,
        )

    def module_config_warnings(self) -> list[str]:
        """What a run says once about the module-config: a version other than the one released
        (``--version`` wins), keys modulectl no longer reads (and so neither does the release)."""
        module = self.config.module_config
        if module is None:
            return []
        warnings = []
        if module.version != self.version:
            warnings.append(
                f"{module.source} says version {module.version}; releasing {self.version} (--version)"
            )
        if module.ignored:
            warnings.append(
                f"{module.source}: {', '.join(module.ignored)} ignored (modulectl no longer reads them)"
            )
        if module.unknown:
            warnings.append(f"{module.source}: unknown key(s) {', '.join(module.unknown)} ignored (a typo?)")
        return warnings

    def unserved_template_warning(self) -> str | None:
        """A word for runs that write v1beta1 ModuleTemplates, which current lifecycle-manager does not
        serve (its CRD marks v1beta1 ``served: false`` since 2024): they are for the 2023 flow only."""
        if self.config.template_api_version != "v1beta1":
            return None
        return (
            "the templates are operator.kyma-project.io/v1beta1 (2023 shape), which current "
            "lifecycle-manager does not serve; a module of today uses template-shape: modulectl (v1beta2)"
        )

    def image_build(self, commit: str) -> ImageBuild:
        """The manager image build: ``VERSION`` build arg, OCI labels with version, commit, source."""
        c = self.config
        return ImageBuild(
            context=c.path(c.build_context),
            dockerfile=c.dockerfile,
            reference=self.image_ref,
            build_args={"VERSION": str(self.version), **c.build_args},
            version=str(self.version),
            revision=commit,
            source=f"https://{c.source_repo_url}",
        )

    def provenance(
        self,
        commit: str,
        module_digest: str,
        image_digest: str | None,
        assets: Mapping[str, bytes],
        *,
        snapshot: bool,
        unverified_source: tuple[str, ...] = (),
        images: tuple[str, ...] = (),
    ) -> Provenance:
        """The record of a build of this release: digests and the checksum of every rendered file
        (and, for a snapshot allowed to be dirty, why its files are not those of ``commit``)."""
        return Provenance(
            version=str(self.version),
            commit=commit,
            github_repo=self.config.github_repo,
            module=ArtifactRecord(str(self.module_ref), module_digest),
            # Without an image built here there is no release image: the manifest's images are all.
            image=ArtifactRecord(str(self.image_ref) if self.config.build_image else "", image_digest),
            images=images,
            assets={name: sha256_bytes(data) for name, data in assets.items()},
            tools=self.tool_versions,
            snapshot=snapshot,
            unverified_source=unverified_source,
        )

    @property
    def module_ref(self) -> Reference:
        spec = self.module_spec("0" * 40)
        return Reference(self.config.module_registry_host, spec.module_repository, spec.component_version)

    def release_security(self, commit: str) -> SecurityConfig | None:
        """The scanner config as this release ships it (``rc-tag``, its images), if the module has one."""
        self.build_artifact(commit)
        return self._security

    def release_images(self, commit: str) -> tuple[str, ...]:
        """The images the built module's manifest deploys (after the manager image was set)."""
        spec, artifact = self.build_artifact(commit)
        if artifact.raw_manifest is None:
            return ()
        documents, _ = parse_documents(artifact.raw_manifest, file="raw manifest")
        return tuple(manifest_images(documents, shape=spec.shape))

    def build_artifact(self, commit: str) -> tuple[ModuleSpec, ModuleArtifact]:
        """The module built from the files (validated; deterministic, so cached per commit)."""
        spec = self.module_spec(commit)
        if self._artifact is None or self._artifact_commit != commit:
            inputs = ModuleInputs.load(spec)
            if self.config.build_image and self.config.set_manager_image and inputs.manifest is not None:
                manifest, replaced = set_manager_image(
                    inputs.manifest,
                    str(self.image_ref),
                    names=self.config.manager_image_names,
                    file=inputs.manifest_name,
                )
                if replaced:
                    log.info("manifest: manager image %s set to %s", ", ".join(replaced), self.image_ref)
                inputs = attrs.evolve(inputs, manifest=manifest)
            if inputs.security is not None:
                # Today's scanner config lists the manifest's images; the 2023 one the release image.
                images = (
                    self.manifest_images(spec, inputs) if spec.shape == "modulectl" else [str(self.image_ref)]
                )
                inputs = attrs.evolve(inputs, security=inputs.security.for_release(self.version, images))
            self._security = inputs.security
            self._artifact = build_module(spec, inputs, image_mismatch=self.config.image_mismatch)
            self._artifact_commit = commit
        return spec, self._artifact

    @staticmethod
    def manifest_images(spec: ModuleSpec, inputs: ModuleInputs) -> list[str]:
        """Every image the manifest deploys (today's shape: containers, init containers and
        environment values of Deployments and StatefulSets, as modulectl counts them)."""
        if inputs.manifest is None:
            return []
        documents, _ = parse_documents(inputs.manifest, file=inputs.manifest_name)
        return manifest_images(documents, shape=spec.shape)

    # -- assets --------------------------------------------------------------------------------

    def assets_to_render(self) -> tuple[str, ...]:
        spec = self.module_spec("0" * 40)
        names = ["template.yaml"]
        if spec.target_emitted:
            names.append("template_control_plane.yaml")
        names.append(self.config.manifest_asset)
        if self.config.default_cr is not None:
            names.append(self.config.default_cr_asset)
        return tuple(names)

    def release_assets(self) -> tuple[str, ...]:
        """Every asset a finished release has: the rendered files and ``release-manifest.json``."""
        return (*self.assets_to_render(), PROVENANCE_ASSET)


def _from_module_config(config: ReleaseConfig) -> dict[str, Any]:
    """ModuleSpec fields only a module-config gives (none without one)."""
    module = config.module_config
    if module is None:
        return {}
    return {
        "repository_url": module.repository,
        "icons": module.icons,
        "requires_downtime": module.requires_downtime,
        "associated_resources": module.associated_resources,
        "resources": module.resources,
        "manifest_url": module.manifest.url,
        "team": module.team,
        "security_scan_enabled": module.security_scan_enabled,
        "labels": module.labels,
        "annotations": module.annotations,
        "manager": module.manager,
        "beta": module.beta,
        "internal": module.internal,
    }
