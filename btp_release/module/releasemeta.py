"""The ModuleReleaseMeta: which module version each channel gets (or the one mandatory version).

lifecycle-manager reads the ModuleReleaseMeta named after the module (in ``kcp-system``), takes the version
of the Kyma's channel from it, then the ModuleTemplate ``<module>-<version>`` and the component descriptor
``<ocmComponentName>:<version>``. Module teams keep the channel → version assignment in the catalog file
``modules/<short>/module-releases.yaml``::

    channels:
      - channel: regular
        version: 1.3.19
      - channel: fast
        version: 1.3.20

:class:`ChannelMapping` reads, validates, updates and writes that file (``with_channel`` is what
btp-manager's ``update_channel_mapping.sh`` does when a version is promoted; :meth:`ChannelMapping.initial`
is its rule for a missing file). :func:`render_release_meta` turns it into the
``operator.kyma-project.io/v1beta2`` ``ModuleReleaseMeta`` and validates that against the bundled
lifecycle-manager CRD (``crds/modulereleasemetas-crd-current.yaml``), including the CEL rule the CRD states
and JSON Schema cannot: exactly one of ``channels`` and ``mandatory``. Every problem is collected: one
:class:`ValidationFailed` (an ``InvalidInput``) lists them all with the file and the entry. Nothing here
writes files.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.module.validate import Problem, ValidationFailed, validate_object
from btp_release.version import Version

__all__ = [
    "API_VERSION",
    "DEFAULT_CHANNELS",
    "DEFAULT_NAMESPACE",
    "KIND",
    "MAPPING_FILE",
    "ChannelMapping",
    "ChannelVersion",
    "release_meta_crd",
    "release_meta_yaml",
    "render_release_meta",
    "short_name",
    "validate_release_meta",
]

API_VERSION = "operator.kyma-project.io/v1beta2"
KIND = "ModuleReleaseMeta"
DEFAULT_NAMESPACE = "kcp-system"  # the control plane's namespace (lifecycle-manager api/shared/namespace.go)
MAPPING_FILE = "module-releases.yaml"
DEFAULT_CHANNELS = ("regular", "fast")  # a new mapping file gets both, as update_channel_mapping.sh does
CRD_FILE = "modulereleasemetas-crd-current.yaml"
EXACTLY_ONE = "exactly one of 'mandatory' or 'channels' must be specified"  # the CRD's CEL rule, checked here

# The rules of lifecycle-manager api/v1beta2/modulereleasemeta_types.go (and its CRD), matched in full.
_CHANNEL = re.compile(r"[a-z]{3,32}")
_CHANNEL_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[a-zA-Z-][0-9a-zA-Z-]*)?", re.ASCII)
_MAX_VERSION = 32
_MODULE_NAME = re.compile(r"[a-z]{3,}(-[a-z]{3,})*")
_MAX_MODULE_NAME = 64
_OCM_NAME = re.compile(
    r"[a-z][-a-z0-9]*([.][a-z][-a-z0-9]*)*[.][a-z]{2,}(/[a-z][-a-z0-9_]*([.][a-z][-a-z0-9_]*)*)+"
)
_MAX_OCM_NAME = 255
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_MAX_NAMESPACE = 63


@attrs.frozen
class ChannelVersion:
    """One entry of the mapping: the module version a channel gets."""

    channel: str
    version: Version

    def to_json(self) -> dict[str, str]:
        return {"channel": self.channel, "version": str(self.version)}


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def _channel_problem(channel: object) -> str | None:
    if not isinstance(channel, str):
        return f"channel must be a string, got {_describe(channel)}"
    if not _CHANNEL.fullmatch(channel):
        return (
            f"channel {channel!r} is not valid: 3 to 32 lowercase letters a-z "
            "(lifecycle-manager's pattern ^[a-z]+$)"
        )
    return None


def _version_problem(version: object, what: str = "version") -> str | None:
    if isinstance(version, int | float) and not isinstance(version, bool):
        return f"{what} {version!r} is a number to YAML, not a version X.Y.Z such as 1.3.19"
    if not isinstance(version, str):
        return f"{what} must be a string such as 1.3.19, got {_describe(version)}"
    try:
        Version.parse(version)
    except InvalidInput as exc:
        return exc.message
    if len(version) > _MAX_VERSION:
        return (
            f"{what} {version!r} is {len(version)} characters long; lifecycle-manager allows {_MAX_VERSION}"
        )
    if what == "version" and not _CHANNEL_VERSION.fullmatch(version):
        return (
            f"version {version!r} is SemVer, but a ModuleReleaseMeta channel takes only X.Y.Z or "
            "X.Y.Z-<one pre-release identifier starting with a letter>, e.g. 1.3.0-rc1 (no dots after '-')"
        )
    return None


def _entry_problems(
    entries: Iterable[tuple[object, object]], *, file: str, path: str = ".channels"
) -> list[Problem]:
    """Problems of raw ``(channel, version)`` entries: each value, and channels listed twice."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, (channel, version) in enumerate(entries):
        found = _channel_problem(channel)
        if found:
            problems.append(Problem(file, found, path=f"{path}[{index}].channel"))
        elif isinstance(channel, str):
            if channel in seen:
                problems.append(
                    Problem(
                        file,
                        f"channel {channel!r} is listed twice (entries {seen[channel]} and {index})",
                        path=f"{path}[{index}].channel",
                    )
                )
            seen.setdefault(channel, index)
        found = _version_problem(version)
        if found:
            problems.append(Problem(file, found, path=f"{path}[{index}].version"))
    return problems


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar that reads back as this string (``yes``, ``null``… are quoted)."""
    return text if yaml.safe_load(text) == text else json.dumps(text)


@attrs.frozen
class ChannelMapping:
    """The ``channels`` of a ``module-releases.yaml``, validated: channel names as lifecycle-manager accepts
    them, versions strict SemVer within its pattern and length, each channel once, at least one.

    Build one with :meth:`parse`, :meth:`load`, :meth:`of` or :meth:`initial`; constructing it directly
    validates too. ``file`` names the source in error messages (it takes no part in equality).
    """

    channels: tuple[ChannelVersion, ...]
    file: str = attrs.field(default=MAPPING_FILE, eq=False)

    def __attrs_post_init__(self) -> None:
        entries = [(entry.channel, str(entry.version)) for entry in self.channels]
        problems = _entry_problems(entries, file=self.file)
        if not entries:
            problems.insert(0, Problem(self.file, "lists no channels", path=".channels"))
        if problems:
            raise ValidationFailed(f"channel mapping {self.file}", problems)

    # -- constructors ---------------------------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        channels: Mapping[str, str | Version] | Iterable[tuple[str, str | Version]],
        *,
        file: str = MAPPING_FILE,
    ) -> ChannelMapping:
        """From channel → version pairs, in their order; every problem listed at once."""
        pairs = list(channels.items() if isinstance(channels, Mapping) else channels)
        raw = [(channel, str(v) if isinstance(v, Version) else v) for channel, v in pairs]
        problems = _entry_problems(raw, file=file)
        if not raw:
            problems.insert(0, Problem(file, "lists no channels", path=".channels"))
        if problems:
            raise ValidationFailed(f"channel mapping {file}", problems)
        return cls(tuple(ChannelVersion(c, Version.parse(str(v))) for c, v in raw), file=file)

    @classmethod
    def initial(
        cls, version: str | Version, *, channels: Iterable[str] = DEFAULT_CHANNELS, file: str = MAPPING_FILE
    ) -> ChannelMapping:
        """The mapping of a file that does not exist yet: every channel (``regular``, ``fast``) gets
        ``version`` — btp-manager's rule when it promotes a version of a module with no mapping file."""
        return cls.of([(channel, version) for channel in channels], file=file)

    @classmethod
    def parse(cls, data: bytes | str, *, file: str = MAPPING_FILE) -> ChannelMapping:
        """Parse the text of a ``module-releases.yaml``; one :class:`ValidationFailed` lists every problem."""
        try:
            body = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise ValidationFailed(
                f"channel mapping {file}", [Problem(file, f"not valid YAML: {exc}")]
            ) from exc
        problems: list[Problem] = []
        if not isinstance(body, dict):
            got = "an empty file" if body is None else _describe(body)
            problems.append(Problem(file, f"expected a mapping with the key channels, got {got}"))
            raise ValidationFailed(f"channel mapping {file}", problems)
        unknown = sorted(str(key) for key in body if key != "channels")
        if unknown:
            problems.append(Problem(file, f"unknown key(s) {', '.join(unknown)}: the file has only channels"))
        items = body.get("channels")
        if not isinstance(items, list) or not items:
            got = "nothing" if items is None else ("an empty list" if items == [] else _describe(items))
            problems.append(
                Problem(file, f"expected a list of {{channel, version}} entries, got {got}", path=".channels")
            )
            raise ValidationFailed(f"channel mapping {file}", problems)
        entries: list[tuple[object, object]] = []
        for index, item in enumerate(items):
            where = f".channels[{index}]"
            if not isinstance(item, dict):
                problems.append(
                    Problem(file, f"expected {{channel, version}}, got {_describe(item)}", path=where)
                )
                entries.append(("", ""))  # placeholder, keeps indexes; reported above
                continue
            extra = sorted(str(key) for key in item if key not in ("channel", "version"))
            if extra:
                problems.append(
                    Problem(
                        file,
                        f"unknown key(s) {', '.join(extra)}: an entry has channel and version",
                        path=where,
                    )
                )
            missing = [key for key in ("channel", "version") if key not in item]
            if missing:
                problems.append(Problem(file, f"missing {' and '.join(missing)}", path=where))
            entries.append((item.get("channel"), item.get("version")))
        problems += [
            p
            for index, p in _indexed(_entry_problems(entries, file=file))
            if _entry_is_checkable(items[index], p.path)
        ]
        if problems:
            raise ValidationFailed(f"channel mapping {file}", sorted(problems, key=_problem_order))
        return cls(tuple(ChannelVersion(str(c), Version.parse(str(v))) for c, v in entries), file=file)

    @classmethod
    def load(cls, path: str | Path) -> ChannelMapping:
        """Read and :meth:`parse` a ``module-releases.yaml``; ``InvalidInput`` if it cannot be read."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"cannot read the channel mapping {path}: {exc.strerror}",
                hint="a module without one starts with ChannelMapping.initial(version)",
            ) from exc
        return cls.parse(data, file=str(path))

    # -- use ------------------------------------------------------------------------------------------------

    def with_channel(self, channel: str, version: str | Version) -> ChannelMapping:
        """Set ``channel`` to ``version``: the matching entry is updated in place, a new one appended."""
        pairs: list[tuple[str, str | Version]] = [(e.channel, e.version) for e in self.channels]
        for index, (name, _) in enumerate(pairs):
            if name == channel:
                pairs[index] = (channel, version)
                break
        else:
            pairs.append((channel, version))
        return ChannelMapping.of(pairs, file=self.file)

    def version(self, channel: str) -> Version | None:
        """The version ``channel`` gets, if it is listed."""
        return next((e.version for e in self.channels if e.channel == channel), None)

    def to_json(self) -> list[dict[str, str]]:
        """The ``channels`` list, as ``spec.channels`` of the ModuleReleaseMeta takes it."""
        return [entry.to_json() for entry in self.channels]

    def to_yaml(self) -> str:
        """The file's text: deterministic, in the mapping's channel order, indented as the catalog's files."""
        lines = ["channels:"]
        for entry in self.channels:
            lines += [f"  - channel: {_scalar(entry.channel)}", f"    version: {_scalar(str(entry.version))}"]
        return "\n".join(lines) + "\n"


def _indexed(problems: list[Problem]) -> list[tuple[int, Problem]]:
    return [(int(p.path.split("[", 1)[1].split("]", 1)[0]), p) for p in problems]


def _entry_is_checkable(item: object, path: str) -> bool:
    """Value problems of an entry that is not a mapping, or of a missing key, are already reported."""
    key = path.rsplit(".", 1)[1]
    return isinstance(item, dict) and key in item


def _problem_order(problem: Problem) -> tuple[int, str]:
    match = re.search(r"\[(\d+)\]", problem.path)
    return (int(match.group(1)) if match else -1, problem.path)


# -- the ModuleReleaseMeta ----------------------------------------------------------------------------------


def short_name(ocm_component_name: str) -> str:
    """The module's short name: the last ``/`` element of its OCM component name (as modulectl derives it)."""
    return ocm_component_name.rstrip("/").rpartition("/")[2]


@functools.cache
def release_meta_crd() -> Mapping[str, Any]:
    """The ModuleReleaseMeta CRD bundled in ``btp_release/module/crds`` (see its README for the source)."""
    text = resources.files("btp_release.module").joinpath("crds", CRD_FILE).read_text(encoding="utf-8")
    return next(doc for doc in yaml.safe_load_all(text) if doc)


def _field_problems(obj: Mapping[str, Any], file: str) -> list[Problem]:
    """The rules with messages that say what is allowed, and those JSON Schema cannot express."""
    problems: list[Problem] = []
    if obj.get("kind") != KIND:
        problems.append(Problem(file, f"kind is {obj.get('kind')!r}, expected {KIND}", path=".kind"))
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    spec = obj.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    module_name = spec.get("moduleName")
    if not isinstance(module_name, str) or not module_name:
        problems.append(Problem(file, "missing the module name", path=".spec.moduleName"))
    elif len(module_name) > _MAX_MODULE_NAME or not _MODULE_NAME.fullmatch(module_name):
        problems.append(
            Problem(
                file,
                f"module name {module_name!r} is not valid: lowercase words of at least 3 letters a-z "
                f"joined by '-', at most {_MAX_MODULE_NAME} characters "
                "(lifecycle-manager's ^([a-z]{3,}(-[a-z]{3,})*)?$)",
                path=".spec.moduleName",
            )
        )
    name = metadata.get("name")
    if not name:
        problems.append(Problem(file, "missing metadata.name", path=".metadata.name"))
    elif isinstance(module_name, str) and module_name and name != module_name:
        problems.append(
            Problem(
                file,
                f"metadata.name {name!r} differs from spec.moduleName {module_name!r}: lifecycle-manager "
                "looks the ModuleReleaseMeta up by the module's name",
                path=".metadata.name",
            )
        )
    namespace = metadata.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str)
        or len(namespace) > _MAX_NAMESPACE
        or not _NAMESPACE.fullmatch(namespace)
    ):
        problems.append(
            Problem(
                file,
                f"namespace {namespace!r} is not a valid Kubernetes namespace name (lowercase letters, "
                f"digits and '-', at most {_MAX_NAMESPACE} characters)",
                path=".metadata.namespace",
            )
        )
    component = spec.get("ocmComponentName")
    if component is not None and (
        not isinstance(component, str) or len(component) > _MAX_OCM_NAME or not _OCM_NAME.fullmatch(component)
    ):
        problems.append(
            Problem(
                file,
                f"OCM component name {component!r} is not valid: DOMAIN/PATH in lowercase, e.g. "
                f"kyma-project.io/module/btp-operator, at most {_MAX_OCM_NAME} characters",
                path=".spec.ocmComponentName",
            )
        )
    channels = spec.get("channels")
    if isinstance(channels, list):
        entries = [
            (item.get("channel"), item.get("version"))
            for item in channels
            if isinstance(item, Mapping) and "channel" in item and "version" in item
        ]
        if len(entries) == len(channels):  # otherwise the CRD schema names the malformed entries
            problems += _entry_problems(entries, file=file, path=".spec.channels")
    mandatory = spec.get("mandatory")
    if isinstance(mandatory, Mapping) and "version" in mandatory:
        found = _version_problem(mandatory["version"], "mandatory version")
        if found:
            problems.append(Problem(file, found, path=".spec.mandatory.version"))
    if (spec.get("channels") is None) == (spec.get("mandatory") is None):  # the CRD's CEL rule
        both = "both are" if spec.get("channels") is not None else "neither is"
        problems.append(Problem(file, f"{EXACTLY_ONE} ({both})", path=".spec"))
    return problems


def validate_release_meta(obj: Mapping[str, Any], *, file: str = "ModuleReleaseMeta") -> list[Problem]:
    """Every problem of a ModuleReleaseMeta: the bundled CRD's v1beta2 schema (unknown fields included), its
    CEL rule (exactly one of ``channels`` and ``mandatory``), the name lifecycle-manager looks it up by, and
    the name, channel and version rules with messages that say what is allowed."""
    problems = _field_problems(obj, file)
    reported = {p.path for p in problems}
    problems += [p for p in validate_object(obj, release_meta_crd(), file=file) if p.path not in reported]
    return problems


def render_release_meta(
    module_name: str,
    ocm_component_name: str,
    mapping: ChannelMapping | None = None,
    *,
    mandatory: str | Version | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    beta: bool = False,
    internal: bool = False,
) -> dict[str, Any]:
    """The ``operator.kyma-project.io/v1beta2`` ModuleReleaseMeta of a module, validated.

    ``module_name`` is the short name (``btp-operator``), the last element of ``ocm_component_name``
    (``kyma-project.io/module/btp-operator``). Give either ``mapping`` (the channels) or ``mandatory``
    (the version of a mandatory module). ``beta``/``internal`` (deprecated by lifecycle-manager) are
    written only when true. Any problem → one :class:`ValidationFailed` listing all of them.
    """
    spec: dict[str, Any] = {"moduleName": module_name, "ocmComponentName": ocm_component_name}
    if mapping is not None:
        spec["channels"] = mapping.to_json()
    if mandatory is not None:
        spec["mandatory"] = {"version": str(mandatory)}
    if beta:
        spec["beta"] = True
    if internal:
        spec["internal"] = True
    release_meta: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": module_name, "namespace": namespace},
        "spec": spec,
    }
    file = f"ModuleReleaseMeta {module_name or '(no name)'}"
    problems = validate_release_meta(release_meta, file=file)
    reported = {p.path for p in problems}
    short = short_name(ocm_component_name) if isinstance(ocm_component_name, str) else ""
    if (
        ".spec.moduleName" not in reported
        and ".spec.ocmComponentName" not in reported
        and short != module_name
    ):
        problems.append(
            Problem(
                file,
                f"module name {module_name!r} is not the last element of the OCM component name "
                f"{ocm_component_name!r} ({short!r}): modulectl names the ModuleTemplate {short}-<version>, "
                f"lifecycle-manager looks for {module_name}-<version>",
                path=".spec.moduleName",
            )
        )
    if problems:
        raise ValidationFailed(file, problems)
    return release_meta


def release_meta_yaml(release_meta: Mapping[str, Any]) -> str:
    """Deterministic YAML (keys in rendering order, no line folding)."""
    return yaml.safe_dump(
        dict(release_meta), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1_000_000
    )
