"""modulectl's ``module-config.yaml``: read it, check it with modulectl's rules, list every problem at once.

A module repository of today describes its module in this one file (``../shared/spec/kyma-today.md``,
section 2). :class:`ModuleConfig` is what the file says, typed; :meth:`ModuleConfig.load` refuses a file
that ``modulectl create`` (kyma-project/modulectl 902c4f8) refuses, but names every broken key in one
:class:`ModuleConfigError` instead of stopping at the first.

How the file is read follows modulectl's non-strict yaml.v3 parse: unknown keys are ignored, a scalar given
for a text key is taken as written (``version: 1.10`` is the text ``1.10``), ``null`` is the empty value,
``yes``/``on``/``no``/``off`` are accepted for true/false keys, a key twice in one mapping is an error.
Keys modulectl once had and dropped (``channel``, ``namespace``, ``mandatory``, ``customStateCheck``,
``repositoryTag``) are ignored too but reported in :attr:`ModuleConfig.ignored`, so the caller can say once
that they have no effect. URLs are checked as Go's ``net/url.Parse`` (Go 1.26) checks them, versions as
Masterminds' ``StrictNewVersion`` does.

Deliberate differences from modulectl (each stricter, each for something modulectl would turn into a broken
artifact or a crash): a version with build metadata (``1.2.0+build``) or longer than 128 characters is
refused, since the version becomes an OCI tag; an ``associatedResources`` entry that is ``null`` is a
problem (modulectl panics on it). Files named in the config are not opened here: the release reads them.

The Go side lives apart: :mod:`~btp_release.module.yamlv3` reads YAML as yaml.v3 does,
:mod:`~btp_release.module.goparse` holds Go's URL and Masterminds' SemVer rules; this module holds
modulectl's keys and checks and the :class:`ModuleConfig` model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from btp_release.errors import InvalidInput
from btp_release.module.goparse import GO_SPACE, parse_url, strict_semver_problem
from btp_release.module.spec import GroupVersionKind, ManagerRef
from btp_release.module.yamlv3 import Decoder, Yamlv3Loader, is_null, node_kind, node_line
from btp_release.version import Version

__all__ = ["REMOVED_KEYS", "ModuleConfig", "ModuleConfigError", "UrlOrPath", "strict_semver_problem"]

# Keys module-config.yaml had once: modulectl ignores them today (kyma-today.md, section 2).
REMOVED_KEYS = ("channel", "namespace", "mandatory", "customStateCheck", "repositoryTag")

_KNOWN_KEYS = (
    "name",
    "version",
    "manifest",
    "repository",
    "team",
    "documentation",
    "icons",
    "defaultCR",
    "security",
    "securityScanEnabled",
    "labels",
    "annotations",
    "manager",
    "associatedResources",
    "resources",
    "requiresDowntime",
    "internal",
    "beta",
)

# modulectl internal/common/validation/validation.go: the OCM component name rule, at most 255 bytes,
# lowercase. fullmatch, not "$": Go's "$" does not match before a trailing newline, Python's does.
_NAME = re.compile(
    r"[a-z][-a-z0-9]*([.][a-z][-a-z0-9]*)*[.][a-z]{2,}(/[a-z][-a-z0-9_]*([.][a-z][-a-z0-9_]*)*)+"
)
_NAME_MAX = 255
_NAMESPACE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NAMESPACE_MAX = 253
_VERSION_MAX = 128  # btp_release.version: the version is an OCI tag


class ModuleConfigError(InvalidInput):
    """A module-config.yaml modulectl would refuse (or one that cannot be read); ``problems`` lists why."""

    def __init__(self, problems: Sequence[str], *, source: str, hint: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems), hint=hint)


@attrs.frozen
class UrlOrPath:
    """``manifest``/``defaultCR``: an https URL, or a path relative to the config file's directory."""

    value: str
    is_url: bool

    @property
    def url(self) -> str | None:
        return self.value if self.is_url else None

    def local_path(self, base_dir: Path) -> Path:
        """The file this names, resolved against ``base_dir`` (the config file's directory)."""
        if self.is_url:
            raise InvalidInput(f"{self.value} is a URL, not a local file")
        return base_dir / self.value

    def __str__(self) -> str:
        return self.value


def _as_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen(kw_only=True)
class ModuleConfig:
    """A valid module-config.yaml. Build it with :meth:`load` or :meth:`parse`, which check every rule."""

    name: str
    version: Version
    manifest: UrlOrPath
    repository: str
    documentation: str
    icons: Mapping[str, str] = attrs.field(converter=_as_dict, hash=False)  # name → link, sorted
    team: str | None = None  # required (non-empty) only while security_scan_enabled
    default_cr: UrlOrPath | None = None
    security: str | None = None  # the scanner config's path; modulectl reads it but checks nothing
    security_scan_enabled: bool = True
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_as_dict, hash=False)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_as_dict, hash=False)
    manager: ManagerRef | None = None
    associated_resources: tuple[GroupVersionKind, ...] = ()
    resources: Mapping[str, str] = attrs.field(factory=dict, converter=_as_dict, hash=False)
    requires_downtime: bool = False
    internal: bool = False
    beta: bool = False
    ignored: tuple[str, ...] = ()  # keys modulectl dropped (channel, namespace, …) found in the file
    unknown: tuple[str, ...] = ()  # other top-level keys modulectl does not know (ignored too; typos?)
    source: str = "module-config.yaml"
    base_dir: Path = attrs.field(factory=Path)

    @property
    def short_name(self) -> str:
        """The last path element of ``name``: ``btp-operator`` (the ModuleTemplate's ``moduleName``)."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def manifest_path(self) -> Path | None:
        """The manifest as a local file (None when it is a URL)."""
        return None if self.manifest.is_url else self.manifest.local_path(self.base_dir)

    @property
    def default_cr_path(self) -> Path | None:
        """The default CR as a local file (None when there is none or it is a URL)."""
        if self.default_cr is None or self.default_cr.is_url:
            return None
        return self.default_cr.local_path(self.base_dir)

    @property
    def security_path(self) -> Path | None:
        """The scanner config file, relative to the config file's directory (None when not given)."""
        return None if self.security is None else self.base_dir / self.security

    @classmethod
    def load(cls, path: Path) -> ModuleConfig:
        """Read and validate ``path``; a missing, unreadable or invalid file is a ``ModuleConfigError``."""
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ModuleConfigError(
                ["no such file"], source=source, hint="give the path of the module's module-config.yaml"
            ) from exc
        except IsADirectoryError as exc:
            raise ModuleConfigError(["is a directory, not a module-config.yaml"], source=source) from exc
        except UnicodeDecodeError as exc:
            raise ModuleConfigError([f"is not UTF-8 text ({exc.reason})"], source=source) from exc
        except OSError as exc:
            raise ModuleConfigError([f"cannot be read: {exc.strerror or exc}"], source=source) from exc
        return cls.parse(text, source=source, base_dir=path.parent)

    @classmethod
    def parse(cls, text: str, *, source: str, base_dir: Path) -> ModuleConfig:
        """Validate the text of a module-config.yaml; ``source`` names it in errors, ``base_dir`` is the
        directory local paths in it are relative to."""
        root = _compose(text, source)
        reader = _Reader()
        fields = reader.top_level(root)
        config = reader.build(fields, source=source, base_dir=base_dir)
        if reader.problems or config is None:
            raise ModuleConfigError(reader.problems, source=source)
        return config


def _compose(text: str, source: str) -> MappingNode:
    loader = Yamlv3Loader(text)
    try:
        # Like yaml.v3's Unmarshal: the first document only.
        node = loader.get_node() if loader.check_node() else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = ""
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ModuleConfigError(
            [f"invalid YAML{where}: {exc.problem or exc}{context}"], source=source
        ) from exc
    except yaml.YAMLError as exc:
        raise ModuleConfigError([f"invalid YAML: {exc}"], source=source) from exc
    finally:
        loader.dispose()
    if node is None or is_null(node):
        raise ModuleConfigError(
            ["the file is empty"], source=source, hint="a module-config.yaml names at least the module"
        )
    if not isinstance(node, MappingNode):
        raise ModuleConfigError(
            [f"expected a mapping of module-config keys, got {node_kind(node)} (line {node_line(node)})"],
            source=source,
        )
    return node


_LINK_WHAT = "a list of {name, link} or a mapping of names to links"
_REF_WHAT = "an https URL or a path relative to the directory of the config file"


class _Reader(Decoder):
    """Decodes the node tree as yaml.v3 decodes it into modulectl's struct, and checks modulectl's rules,
    collecting every problem (see :class:`~btp_release.module.yamlv3.Decoder`)."""

    def __init__(self) -> None:
        super().__init__()
        self.ignored: list[str] = []
        self.unknown: list[str] = []

    # the document

    def top_level(self, root: MappingNode) -> dict[str, Node]:
        fields: dict[str, Node] = {}
        for name, value in self.pairs(root, "").items():
            if name in _KNOWN_KEYS:
                fields[name] = value
            elif name in REMOVED_KEYS:
                self.ignored.append(name)
            else:
                self.unknown.append(name)
        return fields

    def build(self, fields: dict[str, Node], *, source: str, base_dir: Path) -> ModuleConfig | None:
        # modulectl's order (reader.ValidateModuleConfig); one problem per key, but every entry of a list.
        name = self.check_name(fields.get("name"))
        version = self.check_version(fields.get("version"))
        manifest = self.check_ref(fields.get("manifest"), "manifest", required=True)
        repository = self.check_https(fields.get("repository"), "repository")
        scan = self.flag(fields.get("securityScanEnabled"), "securityScanEnabled")
        scan_enabled = True if scan is None else scan
        team = self.text(fields.get("team"), "team")
        if scan_enabled and not team and "team" not in self.bad:
            self.problem(
                "team: required while securityScanEnabled is true (the default): the team responsible for "
                "the security scan, e.g. kyma/jellyfish; or set securityScanEnabled: false",
                fields.get("team"),
            )
        documentation = self.check_https(fields.get("documentation"), "documentation")
        icons = self.check_links(fields.get("icons"), "icons", at_least_one=True)
        resources = self.check_links(fields.get("resources"), "resources", at_least_one=False)
        default_cr = self.check_ref(fields.get("defaultCR"), "defaultCR", required=False)
        associated = self.check_associated_resources(fields.get("associatedResources"))
        manager = self.check_manager(fields.get("manager"))
        security = self.text(fields.get("security"), "security")
        labels = self.string_map(fields.get("labels"), "labels")
        annotations = self.string_map(fields.get("annotations"), "annotations")
        requires_downtime = self.flag(fields.get("requiresDowntime"), "requiresDowntime")
        internal = self.flag(fields.get("internal"), "internal")
        beta = self.flag(fields.get("beta"), "beta")
        if self.problems or not (name and version and manifest and repository and documentation):
            return None
        return ModuleConfig(
            name=name,
            version=version,
            manifest=manifest,
            repository=repository,
            documentation=documentation,
            icons=icons,
            team=team or None,
            default_cr=default_cr,
            security=security or None,
            security_scan_enabled=scan_enabled,
            labels=labels,
            annotations=annotations,
            manager=manager,
            associated_resources=associated,
            resources=resources,
            requires_downtime=bool(requires_downtime),
            internal=bool(internal),
            beta=bool(beta),
            ignored=tuple(self.ignored),
            unknown=tuple(self.unknown),
            source=source,
            base_dir=base_dir,
        )

    def check_name(self, node: Node | None) -> str | None:
        what = "the OCM component name of the module, e.g. kyma-project.io/module/btp-operator"
        value = self.required_text(node, "name", what)
        if value is None:
            return None
        size = len(value.encode())
        if size > _NAME_MAX:
            self.problem(f"name: must not be longer than {_NAME_MAX} characters, it has {size}", node)
        elif value != value.lower():
            self.problem(f"name: must not contain uppercase letters, got {value!r}", node)
        elif not _NAME.fullmatch(value):
            self.problem(
                f"name: {value!r} is not an OCM component name: a domain, then at least one path element, "
                "in lowercase letters, digits, '-', '.' and '_' (e.g. kyma-project.io/module/btp-operator)",
                node,
            )
        else:
            return value
        return None

    def check_version(self, node: Node | None) -> Version | None:
        value = self.required_text(node, "version", "the module version, strict SemVer such as 1.2.0")
        if value is None:
            return None
        text = value.strip(GO_SPACE)  # modulectl trims, then parses
        reason = strict_semver_problem(text)
        if reason is None and "+" in text:
            reason = "build metadata ('+…') is not supported by btp_release: the version becomes an OCI tag"
        if reason is None and len(text) > _VERSION_MAX:
            reason = f"it is longer than {_VERSION_MAX} characters, the limit of an OCI tag"
        if reason is None:
            try:
                return Version.parse(text)
            except InvalidInput as exc:
                reason = exc.message
        self.problem(f"version: {value!r} is not a strict SemVer version MAJOR.MINOR.PATCH: {reason}", node)
        return None

    def check_ref(self, node: Node | None, key: str, *, required: bool) -> UrlOrPath | None:
        """manifest / defaultCR: modulectl's UrlOrLocalFile and its checks."""
        value = self.required_text(node, key, _REF_WHAT) if required else self.text(node, key)
        if not value:
            return None
        try:
            url = parse_url(value)
        except ValueError as exc:
            self.problem(f"{key}: {value!r} is neither a valid URL nor a valid path: {exc}", node)
            return None
        if url.scheme and not url.host:
            self.problem(f"{key}: {value!r} is not a valid URL: it has no host", node)
        elif url.scheme and url.scheme != "https":
            self.problem(f"{key}: must be an https URL or a local path, got {value!r}", node)
        elif url.scheme:
            return UrlOrPath(value, is_url=True)
        elif value.startswith("/"):
            self.problem(f"{key}: must not be an absolute path, got {value!r}: {_REF_WHAT}", node)
        else:
            return UrlOrPath(value, is_url=False)
        return None

    def check_https(self, node: Node | None, key: str) -> str | None:
        value = self.required_text(node, key, "an https URL")
        if not value:
            return None
        problem = _https_problem(value)
        if problem:
            self.problem(f"{key}: {problem}", node)
            return None
        return value

    def check_links(self, node: Node | None, key: str, *, at_least_one: bool) -> dict[str, str]:
        """icons / resources: modulectl's Icons/Resources, a list of {name, link} or a name → link mapping."""
        entries: list[tuple[str, str, str, Node]] = []  # (path, name, link, node)
        if node is None or is_null(node):
            pass
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                path = f"{key}[{index}]"
                if isinstance(item, MappingNode):
                    fields = self.pairs(item, path)
                    name = self.text(fields.get("name"), f"{path}.name")
                    link = self.text(fields.get("link"), f"{path}.link")
                    if f"{path}.name" not in self.bad and f"{path}.link" not in self.bad:
                        entries.append((path, name or "", link or "", item))
                elif is_null(item):
                    entries.append((path, "", "", item))
                else:
                    self.wrong_type(path, "a mapping with name and link", item)
        elif isinstance(node, MappingNode):
            for name, value in self.pairs(node, key).items():
                path = f"{key}.{name}" if name else key
                link = self.text(value, path)
                if link is not None:
                    entries.append((path, name, link, value))
        else:
            self.wrong_type(key, _LINK_WHAT, node)
            return {}
        if at_least_one and not entries and not any(p == key or p.startswith(f"{key}[") for p in self.bad):
            self.problem(f"{key}: at least one entry is required: {_LINK_WHAT}", node)
        result: dict[str, str] = {}
        first: dict[str, str] = {}
        for path, name, link, item in entries:
            if name in first:
                self.problem(f"{path}: the name {name!r} is already used by {first[name]}", item)
                continue
            first[name] = path
            if not name:
                self.problem(f"{path}: name must not be empty", item)
            elif not link:
                self.problem(f"{path}: link must not be empty: an https URL", item)
            elif (problem := _https_problem(link)) is not None:
                self.problem(f"{path}: link {problem}", item)
            else:
                result[name] = link
        return dict(sorted(result.items()))

    def gvk(self, fields: Mapping[str, Node], path: str, node: Node) -> GroupVersionKind | None:
        values = {
            part: self.text(fields.get(part), f"{path}.{part}") for part in ("group", "version", "kind")
        }
        if any(f"{path}.{part}" in self.bad for part in values):
            return None
        for part in ("kind", "group", "version"):  # modulectl's order
            if not values[part]:
                self.problem(f"{path}: {part} must not be empty", node)
                return None
        return GroupVersionKind(values["group"] or "", values["version"] or "", values["kind"] or "")

    def check_associated_resources(self, node: Node | None) -> tuple[GroupVersionKind, ...]:
        key = "associatedResources"
        if node is None or is_null(node):
            return ()
        if not isinstance(node, SequenceNode):
            self.wrong_type(key, "a list of {group, version, kind}", node)
            return ()
        result = []
        for index, item in enumerate(node.value):
            path = f"{key}[{index}]"
            if not isinstance(item, MappingNode):
                self.wrong_type(path, "a mapping with group, version and kind", item)
                continue
            gvk = self.gvk(self.pairs(item, path), path, item)
            if gvk is not None:
                result.append(gvk)
        return tuple(result)

    def check_manager(self, node: Node | None) -> ManagerRef | None:
        key = "manager"
        if node is None or is_null(node):
            return None
        if not isinstance(node, MappingNode):
            self.wrong_type(key, "a mapping with name, namespace, group, version and kind", node)
            return None
        before = len(self.problems)
        fields = self.pairs(node, key)
        name = self.text(fields.get("name"), f"{key}.name")
        namespace = self.text(fields.get("namespace"), f"{key}.namespace")
        if not name and f"{key}.name" not in self.bad:
            self.problem(f"{key}: name must not be empty", node)
        gvk = self.gvk(fields, key, node)
        if namespace and (len(namespace) > _NAMESPACE_MAX or not _NAMESPACE.fullmatch(namespace)):
            self.problem(
                f"{key}.namespace: {namespace!r} is not a namespace name: lowercase letters, digits and '-', "
                f"starting and ending with a letter or digit, at most {_NAMESPACE_MAX} characters",
                fields["namespace"],
            )
        if len(self.problems) > before or gvk is None or not name:
            return None
        return ManagerRef(
            name=name, namespace=namespace or None, group=gvk.group, version=gvk.version, kind=gvk.kind
        )


def _https_problem(value: str) -> str | None:
    """modulectl's ValidateIsValidHTTPSURL: Go parses it, the scheme is https (a host is not checked)."""
    try:
        url = parse_url(value)
    except ValueError as exc:
        return f"{value!r} is not a valid URL: {exc}"
    if url.scheme != "https":
        return f"must be an https URL, got {value!r}"
    return None
