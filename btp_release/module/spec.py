"""What a module release is made of: the configuration (``ModuleSpec``) and its inputs (``ModuleInputs``).

Both are frozen values validated on construction, so a bad name, channel or combination of options is
refused before anything is built or pushed. The (check) points of ``spec/kyma-module.md`` are options here
(access style of local blobs, ModuleTemplate API version, whether ``spec.target`` is written, 2023 or
modulectl shape); see ``docs/module.md`` for the defaults and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from btp_release.errors import InvalidInput
from btp_release.module.security import SecurityConfig
from btp_release.version import Version

__all__ = [
    "AccessStyle",
    "CustomStateCheck",
    "GroupVersionKind",
    "ManagerRef",
    "ModuleInputs",
    "ModuleSpec",
    "TemplateApiVersion",
    "TemplateShape",
    "TemplateTarget",
]

AccessStyle = Literal["localBlob", "localOciBlob"]
TemplateApiVersion = Literal["v1beta2", "v1beta1"]
TemplateShape = Literal["legacy-2023", "modulectl"]
TemplateTarget = Literal["remote", "control-plane"]

# OCM component names: a DNS domain, then at least one path element (ocm-spec, compdesc v2 "componentName").
_COMPONENT_NAME = re.compile(
    r"^[a-z][-a-z0-9]*(\.[a-z][-a-z0-9]*)*\.[a-z]{2,}(/[a-z][-a-z0-9_]*(\.[a-z][-a-z0-9_]*)*)+$"
)
# ModuleTemplate v1beta1/v1beta2 of 2023: channel is ^[a-z]+$, 3 to 32 characters.
_CHANNEL = re.compile(r"^[a-z]{3,32}$")
# Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label).
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_BASE_URL = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")


def _check(pattern: re.Pattern[str], what: str, hint: str) -> Callable[[Any, Any, str], None]:
    def validate(_instance: Any, _attribute: Any, value: str) -> None:
        if not isinstance(value, str) or not pattern.match(value):
            raise InvalidInput(f"invalid {what} {value!r}", hint=hint)

    return validate


def _to_version(value: Version | str) -> Version:
    return value if isinstance(value, Version) else Version.parse(value)


def _str_mapping(value: Mapping[str, str] | None) -> dict[str, str]:
    result = dict(value or {})
    for key, item in result.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInput(
                f"label/annotation {key!r}: {item!r} is not a string pair",
                hint='quote values in YAML, e.g. "true"',
            )
    return result


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


@attrs.frozen(kw_only=True)
class ManagerRef:
    """The resource whose readiness means "the module is installed" (modulectl ``spec.manager``)."""

    name: str
    namespace: str | None = None
    group: str = "apps"
    version: str = "v1"
    kind: str = "Deployment"

    def to_json(self) -> dict[str, str]:
        data = {"name": self.name}
        if self.namespace:
            data["namespace"] = self.namespace
        data.update(group=self.group, version=self.version, kind=self.kind)
        return data


@attrs.frozen
class GroupVersionKind:
    """A Kubernetes kind (modulectl ``associatedResources`` entries: resources removed with the module)."""

    group: str
    version: str
    kind: str

    def to_json(self) -> dict[str, str]:
        return {"group": self.group, "version": self.version, "kind": self.kind}


def _gvk_tuple(values: Any) -> tuple[GroupVersionKind, ...]:
    return tuple(values)


def _link_mapping(value: Mapping[str, str] | None) -> dict[str, str]:
    """Icons and resources: name → https link, kept sorted by name (as modulectl renders its maps)."""
    return dict(sorted(_str_mapping(value).items()))


@attrs.frozen(kw_only=True)
class CustomStateCheck:
    """One ``spec.customStateCheck`` entry: map the module CR's value at ``json_path`` to a Kyma state."""

    json_path: str
    value: str
    mapped_state: Literal["Processing", "Deleting", "Ready", "Error", "Warning", ""]

    def to_json(self) -> dict[str, str]:
        return {"jsonPath": self.json_path, "value": self.value, "mappedState": self.mapped_state}


@attrs.frozen(kw_only=True)
class ModuleSpec:
    """Everything that decides the module artifact and its ModuleTemplate, except the file contents.

    The same spec and the same input files always produce byte-identical artifacts (same manifest
    digest); that is what makes pushing idempotent and "publish what was tested" checkable.
    """

    component_name: str = attrs.field(
        validator=_check(
            _COMPONENT_NAME,
            "component name",
            "a domain then a path, e.g. kyma-project.io/module/btp-operator",
        )
    )
    version: Version = attrs.field(converter=_to_version)
    registry_base_url: str = attrs.field(
        validator=_check(
            _BASE_URL,
            "module registry base URL",
            "host[:port]/path without scheme, e.g. europe-docker.pkg.dev/kyma-project/prod/unsigned",
        )
    )
    source_repo_url: str = attrs.field(validator=attrs.validators.min_len(1))
    source_commit: str = attrs.field(
        validator=_check(_COMMIT, "source commit", "the full lowercase hex SHA of the released commit")
    )
    manifest_path: Path | None = attrs.field(default=None, converter=_optional_path)
    chart_path: Path | None = attrs.field(default=None, converter=_optional_path)
    default_cr_path: Path | None = attrs.field(default=None, converter=_optional_path)
    security_config_path: Path | None = attrs.field(default=None, converter=_optional_path)
    channel: str = attrs.field(
        default="regular",
        validator=_check(_CHANNEL, "channel", "3 to 32 lowercase letters, e.g. regular, fast"),
    )
    provider: str = "kyma-project.io"
    git_ref: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_str_mapping, hash=False)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_str_mapping, hash=False)
    beta: bool = False
    internal: bool = False
    doc_url: str | None = None
    namespace: str = attrs.field(
        default="kcp-system", validator=_check(_DNS_LABEL, "namespace", "a DNS-1123 label")
    )
    template_name: str | None = None
    access_style: AccessStyle = attrs.field(
        default="localBlob", validator=attrs.validators.in_(("localBlob", "localOciBlob"))
    )
    shape: TemplateShape = attrs.field(
        default="legacy-2023", validator=attrs.validators.in_(("legacy-2023", "modulectl"))
    )
    # The 2023 shape defaults to v1beta1, the version that has spec.target: that is what the original
    # pipeline's template.yaml / template_control_plane.yaml pair expressed. modulectl exists only as v1beta2.
    template_api_version: TemplateApiVersion = attrs.field(
        default=attrs.Factory(
            lambda self: "v1beta2" if self.shape == "modulectl" else "v1beta1", takes_self=True
        ),
        validator=attrs.validators.in_(("v1beta2", "v1beta1")),
    )
    emit_target: bool | None = None
    custom_state_checks: tuple[CustomStateCheck, ...] = attrs.field(default=(), converter=tuple)
    cluster_scoped: bool | None = None
    manager: ManagerRef | None = None
    mandatory: bool = False
    # Some Kyma CLI versions put the default CR only into the template's spec.data, not into a layer.
    default_cr_layer: bool = True
    # The default CR's CRD is installed by something else than the manifest: its kind is not checked.
    default_cr_crd_external: bool = False
    # The current (modulectl) shape: spec.info, requiresDowntime, associatedResources, resources, and the
    # component labels of the descriptor (kyma-today.md, sections 2 and 3).
    repository_url: str | None = None  # spec.info.repository (https URL); default https://<source_repo_url>
    icons: Mapping[str, str] = attrs.field(factory=dict, converter=_link_mapping, hash=False)
    requires_downtime: bool = False
    associated_resources: tuple[GroupVersionKind, ...] = attrs.field(default=(), converter=_gvk_tuple)
    resources: Mapping[str, str] = attrs.field(factory=dict, converter=_link_mapping, hash=False)
    manifest_url: str | None = None  # the manifest as an https URL: resources.rawManifest by default
    team: str | None = None  # kyma/<team>: responsibles of the security scan
    security_scan_enabled: bool = True

    def __attrs_post_init__(self) -> None:
        if (self.manifest_path is None) == (self.chart_path is None):
            raise InvalidInput(
                f"module {self.component_name}: give exactly one of manifest_path and chart_path",
                hint="a module ships either a rendered raw manifest or a Helm chart",
            )
        name = self.resolved_template_name
        if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            raise InvalidInput(f"invalid ModuleTemplate name {name!r}", hint="a DNS-1123 subdomain")
        self._check_target()

    def _check_target(self) -> None:
        # lifecycle-manager's CRD (2023-10): v1beta1 requires spec.target, v1beta2 has no such field (the API
        # server would silently prune it), the modulectl shape dropped it. Mismatches are refused up front.
        if self.shape == "modulectl":
            if self.mandatory:
                raise InvalidInput(
                    "the current ModuleTemplate has no mandatory flag (modulectl dropped it in 2025)",
                    hint="a mandatory module is declared in its ModuleReleaseMeta (spec.mandatory.version)",
                )
            if self.emit_target:
                raise InvalidInput(
                    "the modulectl ModuleTemplate shape has no spec.target",
                    hint="drop emit_target, or use shape='legacy-2023' with template_api_version='v1beta1'",
                )
            if self.template_api_version != "v1beta2":
                raise InvalidInput(
                    "the modulectl ModuleTemplate shape exists only as v1beta2",
                    hint="drop template_api_version or set it to v1beta2",
                )
            return
        if self.template_api_version == "v1beta2" and self.emit_target:
            raise InvalidInput(
                "ModuleTemplate v1beta2 has no spec.target (lifecycle-manager CRD), so a template "
                "with target would lose it on apply",
                hint="set template_api_version='v1beta1' to write spec.target, or leave emit_target unset",
            )
        if self.template_api_version == "v1beta1" and self.emit_target is False:
            raise InvalidInput(
                "ModuleTemplate v1beta1 requires spec.target",
                hint="leave emit_target unset (or True) for v1beta1, or use template_api_version='v1beta2'",
            )

    @property
    def short_name(self) -> str:
        """The module's short name: the last path element of the component name (``btp-operator``)."""
        return self.component_name.rsplit("/", 1)[-1]

    @property
    def component_version(self) -> str:
        """The OCM component version and OCI tag of the module artifact: ``vX.Y.Z`` for the 2023 shape;
        ``X.Y.Z`` for the current one, as lifecycle-manager resolves it from a ModuleReleaseMeta."""
        return str(self.version) if self.shape == "modulectl" else self.version.module_tag

    @property
    def info_repository(self) -> str:
        """``spec.info.repository`` of the current shape: the configured URL, else the source repository."""
        return self.repository_url or f"https://{self.source_repo_url}"

    @property
    def resolved_git_ref(self) -> str:
        return self.git_ref or f"refs/tags/{self.version.image_tag}"

    @property
    def target_emitted(self) -> bool:
        """Whether rendered templates carry ``spec.target`` (only the 2023 shape in v1beta1)."""
        return self.shape == "legacy-2023" and self.template_api_version == "v1beta1"

    @property
    def resolved_template_name(self) -> str:
        if self.template_name:
            return self.template_name
        if self.shape == "modulectl":
            return f"{self.short_name}-{self.version}"
        return f"{self.short_name}-{self.channel}"

    @property
    def registry_host(self) -> str:
        return self.registry_base_url.split("/", 1)[0]

    @property
    def module_repository(self) -> str:
        """Repository path of the artifact inside the registry (OCM "urlPath" mapping, without the host)."""
        _, _, base_path = self.registry_base_url.partition("/")
        prefix = f"{base_path}/" if base_path else ""
        return f"{prefix}component-descriptors/{self.component_name}"

    @property
    def module_reference(self) -> str:
        """``<base-url>/component-descriptors/<component name>:v<version>``."""
        return (
            f"{self.registry_base_url}/component-descriptors/{self.component_name}:{self.component_version}"
        )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(
            f"{what} {path} does not exist", hint="check the path in the module config"
        ) from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc}") from exc


@attrs.frozen(kw_only=True)
class ModuleInputs:
    """The contents the artifact is built from, read once so every later step sees the same bytes."""

    manifest: bytes | None = None
    chart: bytes | None = None
    default_cr: bytes | None = None
    security: SecurityConfig | None = None
    manifest_name: str = "manifest"
    default_cr_name: str = "default CR"

    @classmethod
    def load(cls, spec: ModuleSpec) -> ModuleInputs:
        """Read the files ``spec`` names; a missing or unreadable file is an ``InvalidInput`` naming it."""
        return cls(
            manifest=_read(spec.manifest_path, "manifest") if spec.manifest_path else None,
            chart=_read(spec.chart_path, "Helm chart") if spec.chart_path else None,
            default_cr=_read(spec.default_cr_path, "default CR") if spec.default_cr_path else None,
            security=SecurityConfig.load(spec.security_config_path) if spec.security_config_path else None,
            manifest_name=str(spec.manifest_path or spec.chart_path),
            default_cr_name=str(spec.default_cr_path or "default CR"),
        )
