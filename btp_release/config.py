"""``ReleaseConfig``: everything that says *what* a module release is, for one module repository.

One frozen value, built once by :func:`load_config` and handed to the pipeline; its defaults reproduce
the btp-operator release of kyma-project/btp-manager. Credentials are not part of it: tokens come from
the environment at the edge (CLI), as :class:`~btp_release.secret.Secret` values.

Sources, later wins per field: the defaults; one config file — ``config_file`` if given (a ``.toml``
one is read for its ``[tool.btp-release]`` table), else ``<module_dir>/btp-release.yaml``, else
``[tool.btp-release]`` of ``<module_dir>/pyproject.toml``; environment variables ``BTP_RELEASE_<FIELD>``;
``overrides`` from CLI flags (``None`` means "not given"). File keys are the field names in kebab-case
(``github-repo``; snake_case works too). ``module_dir`` is not a key: it is the config file's directory,
where relative paths start (``dockerfile`` starts in ``build-context``). Environment values and CLI
strings are text: lists comma-separated (``BTP_RELEASE_REQUIRED_CHECKS=build,lint``), ``build-args``
a JSON object, booleans ``true/false/yes/no/1/0``; empty clears an optional setting.
``BTP_RELEASE_REGISTRY_USERNAME``/``_PASSWORD`` are credentials read elsewhere; any other unknown
``BTP_RELEASE_*`` variable is an error, so a typo cannot pass unnoticed.

Everything is checked before anything runs: types, formats (``OWNER/NAME``, OCM component name,
``host[:port]/path`` without scheme or tag, asset names), the ModuleTemplate shape and API version
(``modulectl`` exists only as ``v1beta2``, which it implies when no version is set), and that the
manifest, default CR, security config, build context and Dockerfile exist. :class:`ConfigError` lists
every problem of every source, each prefixed by its source (``btp-release.yaml: key 'chanel'``,
``environment BTP_RELEASE_AWAIT_TIMEOUT``, ``--await-timeout``) and never showing the value of an
environment variable named like a secret (``*TOKEN*``, ``*PASSWORD*``, ``*SECRET*``).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import yaml

__all__ = [
    "CONFIG_FILE",
    "RESERVED_ASSETS",
    "ConfigError",
    "CredentialsMode",
    "ReleaseConfig",
    "config_fields",
    "load_config",
]

from btp_release.errors import InvalidInput
from btp_release.manifests.settings import HELP as MANIFESTS_HELP
from btp_release.manifests.settings import combination_problems, setting_problem
from btp_release.redaction import redact, register

if typing.TYPE_CHECKING:
    from btp_release.module.moduleconfig import ModuleConfig

CONFIG_FILE = "btp-release.yaml"
CredentialsMode = Literal["dummy", "real"]

# Assets the release uploads itself: module.template.TEMPLATE_FILE, TEMPLATE_CONTROL_PLANE_FILE and
# pipeline.provenance.PROVENANCE_ASSET (not imported: the pipeline imports this; tests check they agree).
RESERVED_ASSETS = ("template.yaml", "template_control_plane.yaml", "release-manifest.json")

# BTP_RELEASE_* variables that are not settings: credentials (registry, module-manifests repository),
# which the CLI reads as secrets.
_NOT_CONFIG_ENV = frozenset(
    {"BTP_RELEASE_REGISTRY_USERNAME", "BTP_RELEASE_REGISTRY_PASSWORD", "BTP_RELEASE_MANIFESTS_TOKEN"}
)
_SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET")
# Fields that are not settings: where the config lives, and the module-config it read.
_NOT_SETTINGS = frozenset({"module_dir", "module_config"})
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
_HTTP_URL = re.compile(r"^https?://[^\s/?#@]+(/[^\s?#]*)?$")
_HTTPS_URL = re.compile(r"^https://[^\s/?#@]+(/\S*)?$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")
_E2E_RUNNER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$", re.ASCII)


class ConfigError(InvalidInput):
    """The configuration is unusable; the message lists every problem with the source it came from."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = [redact(problem) for problem in problems]
        text = "invalid btp-release configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text, hint=hint or "fix the listed settings (see docs/pipeline.md, 'Configuration')")


def _str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def _str_dict(value: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted((value or {}).items())}


# One line of help per field, attached as metadata["help"] (see config_fields); a field without
# help fails at import.
_HELP = {
    "module_dir": "directory of the config file; relative paths start there",
    "github_repo": "GitHub repository of the module, OWNER/NAME",
    "github_api_url": "GitHub REST API URL (GitHub Enterprise: https://HOST/api/v3)",
    "module_name": "OCM component name of the module: a domain, then a path",
    "channel": "ModuleTemplate channel, 3 to 32 lowercase letters",
    "module_registry": "registry base of the module artifact, host[:port][/path] without scheme",
    "image_repo": "repository of the manager image, host[:port]/path without scheme or tag",
    "manifest": "rendered Kubernetes manifest of the module",
    "default_cr": "default CR of the module (empty: none)",
    "security_config": "security scanners config of the module (empty: none)",
    "default_cr_crd_external": "the default CR's CRD is installed by something else than the manifest",
    "template_api_version": "ModuleTemplate API version: v1beta2 (default), v1beta1 (2023 shape only)",
    "template_shape": "ModuleTemplate shape: modulectl (today's, the default) or legacy-2023",
    "doc_url": "documentation URL of the module (default: its GitHub repository)",
    "image_mismatch": "when the manifest names another image than the one built: warn or error",
    "set_manager_image": "point the manifest's manager containers at the release image (as kustomize IMG=)",
    "manager_image_names": "further image names (last path element) that mean the manager, e.g. controller",
    "dockerfile": "Dockerfile of the manager image, relative to build-context",
    "build_context": "build context directory of the manager image",
    "build_args": "build arguments of the manager image, NAME: value",
    "manifest_asset": "release asset name of the manifest",
    "default_cr_asset": "release asset name of the default CR",
    "required_checks": "checks that must pass on the released commit",
    "await_timeout": "seconds to wait for checks, builds and assets",
    "poll_interval": "seconds between polls while waiting",
    "credentials": "BTP credentials of the E2E test: dummy or real",
    "e2e_runner": "E2E runner factory, package.module:function (empty: none)",
    "e2e_required": "refuse to publish without a passed E2E test",
    "insecure_registries": "registries reached over plain HTTP although not on loopback, host[:port]",
    "snapshot_dir": "directory for local release snapshots",
    "module_config_file": "modulectl module-config.yaml of the module, read when present (empty: none)",
    "module_config": "the module-config.yaml that was read (not a setting)",
    "build_image": "build the manager image here (with a module-config and no Dockerfile: off)",
    **MANIFESTS_HELP,  # the manifests-* settings, checked in btp_release.manifests.settings
}


def _with_help(_cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    return [f.evolve(metadata={**f.metadata, "help": _HELP[f.name]}) for f in fields]


@attrs.frozen(kw_only=True, field_transformer=_with_help)
class ReleaseConfig:
    """The release of one Kyma module; see the module docstring for the sources of each field.

    Field names are the config-file keys with ``-`` for ``_`` (``github-repo``), the environment
    variables with a ``BTP_RELEASE_`` prefix (``BTP_RELEASE_GITHUB_REPO``) and the CLI flags
    (``--github-repo``). Validation (formats, allowed values, files present) happens in
    :func:`load_config`, which reports every problem at once.
    """

    module_dir: Path = attrs.field(default=Path("."), converter=Path)
    # GitHub
    github_repo: str = "kyma-project/btp-manager"
    github_api_url: str = "https://api.github.com"
    # the module
    # The component name the btp-operator module is registered under; never change it for a module.
    module_name: str = "kyma-project.io/module/btp-operator"
    channel: str = "regular"
    module_registry: str = "europe-docker.pkg.dev/kyma-project/prod/unsigned"
    image_repo: str = "europe-docker.pkg.dev/kyma-project/prod/btp-manager"
    manifest: Path = attrs.field(default=Path("manifests/btp-manager.yaml"), converter=Path)
    default_cr: Path | None = attrs.field(
        default=Path("examples/btp-operator.yaml"), converter=attrs.converters.optional(Path)
    )
    security_config: Path | None = attrs.field(
        default=Path("sec-scanners-config.yaml"), converter=attrs.converters.optional(Path)
    )
    default_cr_crd_external: bool = False
    template_shape: Literal["legacy-2023", "modulectl"] = "modulectl"
    doc_url: str | None = None
    # modulectl templates exist only as v1beta2; the 2023 shape defaults to v1beta1 (it has spec.target)
    template_api_version: Literal["v1beta1", "v1beta2"] = attrs.field(
        default=attrs.Factory(
            lambda self: "v1beta2" if self.template_shape == "modulectl" else "v1beta1", takes_self=True
        )
    )
    image_mismatch: Literal["warn", "error"] = "warn"
    set_manager_image: bool = True
    manager_image_names: tuple[str, ...] = attrs.field(default=("controller",), converter=_str_tuple)
    # the manager image
    dockerfile: Path = attrs.field(default=Path("Dockerfile"), converter=Path)
    build_context: Path = attrs.field(default=Path("."), converter=Path)
    build_args: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict, hash=False)
    # release assets (besides the ModuleTemplate files, which follow the template options)
    manifest_asset: str = "btp-manager.yaml"
    default_cr_asset: str = "btp-operator.yaml"
    # waiting and checks
    required_checks: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    await_timeout: float = 900.0
    poll_interval: float = 10.0
    # E2E
    credentials: CredentialsMode = "dummy"
    e2e_runner: str | None = None
    e2e_required: bool = True
    # registries reached over plain HTTP although not on loopback
    insecure_registries: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    snapshot_dir: Path = attrs.field(default=Path("dist"), converter=Path)
    # today's module description, relative to module_dir (settings from it: module_config_settings)
    module_config_file: Path | None = attrs.field(
        default=Path("module-config.yaml"), converter=attrs.converters.optional(Path)
    )
    build_image: bool = True
    # the module-manifests repository (docs/manifests.md); its token: BTP_RELEASE_MANIFESTS_TOKEN
    manifests_repo: str | None = None
    manifests_api_url: str = "https://api.github.com"
    manifests_base_branch: str = "main"
    manifests_config_path: str = "modules/{short}/{version}/module-config.yaml"
    manifests_mapping_path: str = "modules/{short}/module-releases.yaml"
    manifests_submit_branch: str = "{short}-{version}"
    manifests_promote_branch: str = "{short}-{version}-{channel}"
    manifests_withdraw_branch: str = "{short}-module-removal-{version}"
    manifests_asset_links: Literal["url", "name"] = "url"
    manifests_reviewers: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    manifests_labels: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    # Not a setting: the parsed module-config, for what the ModuleTemplate takes from it.
    module_config: ModuleConfig | None = None

    def path(self, relative: Path) -> Path:
        """A configured path resolved against ``module_dir``."""
        return relative if relative.is_absolute() else self.module_dir / relative

    @property
    def source_repo_url(self) -> str:
        """The descriptor's source repository: ``github.com/<owner>/<name>`` (the host of the API URL)."""
        host = "github.com"
        if self.github_api_url.rstrip("/") not in ("https://api.github.com", ""):
            host = self.github_api_url.split("://", 1)[-1].split("/", 1)[0]
        return f"{host}/{self.github_repo}"

    @property
    def documentation_url(self) -> str:
        """``doc-url``, else the module's GitHub repository (``https://github.com/OWNER/NAME``)."""
        return self.doc_url or f"https://{self.source_repo_url}"

    @property
    def module_registry_host(self) -> str:
        return self.module_registry.split("/", 1)[0]

    @property
    def image_registry_host(self) -> str:
        return self.image_repo.split("/", 1)[0]


def config_fields() -> list[tuple[str, str, str]]:
    """``(field name, config key, one-line help)`` of each setting, in order, for docs and CLI flags.

    ``module_dir`` and ``module_config`` are left out: where the config lives and what it read."""
    fields = attrs.fields(ReleaseConfig)
    return [
        (f.name, f.name.replace("_", "-"), f.metadata["help"]) for f in fields if f.name not in _NOT_SETTINGS
    ]


def load_config(
    module_dir: Path | str = ".",
    *,
    config_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ReleaseConfig:
    """Build the :class:`ReleaseConfig` of the module in ``module_dir`` (sources: module docstring).

    ``environ`` defaults to :data:`os.environ`, read nowhere else in the library. Reads the config file
    and looks for the configured files; writes nothing. Raises :class:`ConfigError` listing every
    problem: unknown keys (with a suggestion), wrong types, bad values, missing files.
    """
    from btp_release.module.moduleconfig import ModuleConfig

    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(ReleaseConfig, localns={"ModuleConfig": ModuleConfig})
    kinds = {name: _kind(tp) for name, tp in hints.items() if name != "module_config"}
    problems: list[str] = []
    path, label, settings = _read_config(Path(module_dir), config_file, problems)
    # Per source: (where, the key as the source spells it, value), how it spells a field, is it text.
    in_file = [(f"{label}: key {k!r}", str(k).replace("_", "-"), v) for k, v in (settings or {}).items()]
    in_env = [(f"environment {k}", k, v) for k, v in sorted(env.items()) if _is_setting_var(k)]
    flags = [(f"--{_kebab(k)}", f"--{_kebab(k)}", v) for k, v in (overrides or {}).items() if v is not None]
    sources = [(in_file, "{kebab}", False), (in_env, "BTP_RELEASE_{upper}", True), (flags, "--{kebab}", True)]
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for entries, spelling, textual in sources:
        for name, where, raw in _known(entries, spelling, list(kinds), problems):
            try:
                values[name] = _checked(name, _coerce(kinds[name], raw, textual=textual))
                origins[name] = where
            except _Invalid as exc:
                problems.append(f"{where}: {exc}")
    base = Path(module_dir) if path is None else path.parent
    module_config = _module_config(base, values, origins, problems) if settings is not None else None
    # As in ModuleSpec, the API version follows the shape unless set: modulectl exists only as v1beta2.
    config = ReleaseConfig(module_dir=base, module_config=module_config, **values)
    if module_config is not None and not ({"build_image", "dockerfile", "build_context"} & origins.keys()):
        # Today's module repositories build their images in a workflow of their own: with a
        # module-config, no Dockerfile and no word about one, the release builds none and takes the
        # manifest's images (which it awaits in their registries). Without a module-config a missing
        # Dockerfile stays an error: the 2023 flow always builds the manager image.
        context = config.path(config.build_context)
        if context.is_dir() and not (context / config.dockerfile).is_file():
            config = attrs.evolve(config, build_image=False)

    def origin(name: str) -> str:
        return origins.get(name, f"{_kebab(name)} (default)")

    problems += _combination_problems(config, origin)
    if settings is not None:  # after an unusable config file, "file missing" would only mislead
        problems += _file_problems(config, origin)
    if problems:
        for name, value in env.items():  # a secret's value must never be echoed as a bad setting
            if any(word in name.upper() for word in _SECRET_WORDS) and value.strip():
                register(value)
        raise ConfigError(problems)
    return config


class _Invalid(ValueError):
    """A value its field cannot take; never leaves :func:`load_config`, which lists it as a problem."""


@attrs.frozen
class _Kind:
    """How a field's values are read, from its annotation: base type, whether empty means None, choices."""

    base: str
    optional: bool = False
    choices: tuple[str, ...] = ()


_BASES = {str: "str", Path: "path", float: "float", bool: "bool", tuple: "list", Mapping: "mapping"}


def _kind(annotation: Any) -> _Kind:
    args = typing.get_args(annotation)
    if optional := type(None) in args:
        (annotation,) = (a for a in args if a is not type(None))
    if typing.get_origin(annotation) is Literal:
        return _Kind("choice", optional, typing.get_args(annotation))
    return _Kind(_BASES[typing.get_origin(annotation) or annotation], optional)


def _coerce(kind: _Kind, value: Any, *, textual: bool) -> Any:
    """``value`` as ``kind``; ``textual`` sources (environment, CLI) give lists and mappings as text."""
    if kind.optional and (value is None or value == ""):
        return None
    if kind.base == "list":
        if textual and isinstance(value, str):
            return _str_tuple(value)
        if not isinstance(value, list | tuple):
            raise _Invalid(f"expected a list, got {_type(value)}" + ("" if textual else " (YAML: [a, b])"))
        if bad := [item for item in value if not isinstance(item, str) or not item.strip()]:
            raise _Invalid(f"items must be non-empty strings, not {', '.join(map(repr, bad))}")
        return tuple(value)
    if kind.base == "mapping":
        if textual and isinstance(value, str):
            try:  # build args may hold secrets: name the JSON error, never the content
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise _Invalid(f"not a JSON object ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a mapping of NAME: value, got {_type(value)}")
        if bad := [str(k) for k, v in value.items() if not (isinstance(k, str) and k and isinstance(v, str))]:
            raise _Invalid(f"names and values must be strings, see {', '.join(bad)} (quote values in YAML)")
        return dict(value)
    if value is None or value == "":
        raise _Invalid("must not be empty")
    if kind.base == "float":
        try:
            number = math.nan if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise _Invalid(f"{value!r} is not a number of seconds > 0")
        return number
    if kind.base == "bool":
        word = value.strip().lower() if isinstance(value, str) else value
        if word not in (True, False, "true", "false", "yes", "no", "1", "0"):
            raise _Invalid(f"{value!r} is not a boolean (true/false, yes/no, 1/0)")
        return word in (True, "true", "yes", "1")
    if kind.base == "path" and isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_type(value)}")
    if kind.base == "choice" and value not in kind.choices:
        raise _Invalid(f"{value!r} is not one of {', '.join(kind.choices)}")
    return Path(value) if kind.base == "path" else value


def _checked(name: str, value: Any) -> Any:
    """``value`` if its format suits field ``name``, else :class:`_Invalid`."""
    # Imported here: the module package is slow to import, and `btp-release --help` needs this file.
    from btp_release.module.spec import _BASE_URL, _CHANNEL, _COMPONENT_NAME

    formats = {
        "github_repo": (_GITHUB_REPO, "OWNER/NAME of a GitHub repository"),
        "github_api_url": (_HTTP_URL, "an http(s) URL, e.g. https://api.github.com"),
        "manifests_repo": (_GITHUB_REPO, "OWNER/NAME of a GitHub repository"),
        "manifests_api_url": (_HTTP_URL, "an http(s) URL, e.g. https://HOST/api/v3"),
        "doc_url": (_HTTPS_URL, "an https URL"),
        "module_name": (_COMPONENT_NAME, "an OCM component name (a domain, then a path: example.com/x)"),
        "channel": (_CHANNEL, "a channel (3 to 32 lowercase letters, e.g. regular)"),
        "e2e_runner": (_E2E_RUNNER, "package.module:function"),
    }
    problem = None
    if name in formats and value is not None and not formats[name][0].match(value):
        problem = f"{value!r} is not {formats[name][1]}"
    elif name in ("module_registry", "image_repo"):
        problem = _reference_problem(value, _BASE_URL, repository=name == "image_repo")
    elif name.endswith("_asset") and value in RESERVED_ASSETS:
        problem = f"{value!r} is a name the release uses itself ({', '.join(RESERVED_ASSETS)})"
    elif name.endswith("_asset") and ("/" in value or "\\" in value or value in (".", "..")):
        problem = f"{value!r} is not a plain file name"
    elif name == "insecure_registries" and (bad := [r for r in value if not _HOST_PORT.match(r)]):
        problem = f"{', '.join(map(repr, bad))}: not host[:port] (no scheme, no path)"
    elif name.startswith("manifests_") and name not in formats:
        problem = setting_problem(name, value)
    if problem:
        raise _Invalid(problem)
    return value


def _reference_problem(value: str, base_url: re.Pattern[str], *, repository: bool) -> str | None:
    expected = "host[:port]/path without scheme or tag" if repository else "host[:port][/path] without scheme"
    host, _, path = value.partition("/")
    if "://" in value:
        return f"{value!r} has a scheme; expected {expected}"
    if repository and ("@" in path or ":" in path):
        return f"{value!r} has a tag or digest; expected {expected} (the release adds the tag)"
    if not base_url.match(value) or (repository and not path):
        return f"{value!r} is not {expected}"
    if "." not in host and ":" not in host and host != "localhost":  # Docker's rule for a registry host
        return f"{value!r} does not start with a registry host (a domain, host:port or localhost)"
    return None


def _combination_problems(config: ReleaseConfig, origin: Callable[[str], str]) -> list[str]:
    problems = []
    # lifecycle-manager's CRD: the modulectl shape exists only as v1beta2 (as in ModuleSpec._check_target).
    if config.template_shape == "modulectl" and config.template_api_version != "v1beta2":
        problems.append(
            f"{origin('template_shape')} with {origin('template_api_version')}: the modulectl ModuleTemplate "
            "shape exists only as v1beta2; set template-api-version to v1beta2 or leave it unset"
        )
    problems += combination_problems(config)  # the manifests-* patterns together
    if config.manifest_asset == config.default_cr_asset:
        where = f"{origin('manifest_asset')} and {origin('default_cr_asset')}"
        problems.append(f"{where}: two release assets named {config.manifest_asset!r}")
    return problems


def _file_problems(config: ReleaseConfig, origin: Callable[[str], str]) -> list[str]:
    if not config.module_dir.is_dir():
        there = "is not a directory" if config.module_dir.exists() else "does not exist"
        return [f"module directory {config.module_dir} {there}"]
    problems = []
    for name in ("manifest", "default_cr", "security_config"):
        relative = getattr(config, name)
        if relative is not None and not config.path(relative).is_file():
            problems.append(f"{origin(name)}: file {config.path(relative)} does not exist")
    context = config.path(config.build_context)
    if not config.build_image:
        return problems
    if not context.is_dir():
        problems.append(f"{origin('build_context')}: directory {context} does not exist")
    elif not (dockerfile := context / config.dockerfile).is_file():  # an absolute dockerfile stays as is
        problems.append(f"{origin('dockerfile')}: file {dockerfile} does not exist")
    return problems


def _module_config(
    base: Path, values: dict[str, Any], origins: dict[str, str], problems: list[str]
) -> ModuleConfig | None:
    """Read the module-config (when present or asked for) and take the settings it decides into
    ``values``/``origins`` where no other source set them; its problems go to ``problems``."""
    from btp_release.module.moduleconfig import ModuleConfig, ModuleConfigError
    from btp_release.module_config_settings import module_config_path, settings_from_module_config

    path = module_config_path(base, values.get("module_config_file", ReleaseConfig().module_config_file))
    if path is None or not (path.is_file() or "module_config_file" in origins):
        return None
    try:
        module_config = ModuleConfig.load(path)
    except ModuleConfigError as exc:
        problems.extend(f"{exc.source}: {problem}" for problem in exc.problems)
        return None
    found, where, more = settings_from_module_config(module_config, base, origins)
    values.update(found)
    origins.update(where)
    problems.extend(more)
    return module_config


def _read_config(
    module_dir: Path, config_file: Path | str | None, problems: list[str]
) -> tuple[Path | None, str, Mapping[Any, Any] | None]:
    """The config file in use, its label and its settings (``None``: unusable, the problem is added)."""
    path = Path(config_file) if config_file is not None else module_dir / CONFIG_FILE
    if config_file is None and not path.is_file():
        path = module_dir / "pyproject.toml"
        if not path.is_file():
            return None, "", {}
    if path.exists() and not path.is_file():  # e.g. --config /dev/null or a directory
        kind = "a directory" if path.is_dir() else "not a regular file"
        problems.append(f"config file {path} is {kind}")
        return None, str(path), None
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".toml":
            return path, str(path), _yaml_mapping(path, text, problems)
        tool = tomllib.loads(text).get("tool")
    except FileNotFoundError:
        problems.append(f"config file {path} does not exist")
        return path, str(path), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:  # TOML: "… (at line L, column C)"
        what = "invalid TOML" if isinstance(exc, tomllib.TOMLDecodeError) else "cannot read"
        problems.append(f"{path}: {what}: {exc}")
        return path, str(path), None
    table = tool.get("btp-release") if isinstance(tool, dict) else None
    if isinstance(table, dict) or (table is None and config_file is None):
        return path, f"{path} [tool.btp-release]", table or {}  # a pyproject.toml without it: no config
    problems.append(f"{path}: no [tool.btp-release] table")
    return path, str(path), None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML forbids duplicate keys but PyYAML lets the last one win; a release config must not, silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        for index, key in enumerate(keys):
            if isinstance(key, str) and key in keys[:index]:
                mark = node.value[index][0].start_mark
                raise yaml.constructor.ConstructorError(problem=f"duplicate key {key!r}", problem_mark=mark)
        return super().construct_mapping(node, deep=deep)


def _yaml_mapping(path: Path, text: str, problems: list[str]) -> Mapping[Any, Any] | None:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problems.append(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}")
        return None
    if data is None:  # empty or only comments: almost always a mistake (a wrong path, a lost edit)
        problems.append(
            f"{path}: the file holds no settings; write key: value lines (e.g. github-repo: OWNER/NAME), "
            "or delete it to use the defaults"
        )
        return None
    if isinstance(data, dict):
        return data
    problems.append(f"{path}: expected a mapping of settings (key: value), got {_type(data)}")
    return None


def _known(
    entries: list[tuple[str, str, Any]], spelling: str, names: list[str], problems: list[str]
) -> list[tuple[str, str, Any]]:
    """``(field name, where, value)`` of the entries naming a field (``spelling`` is how the source
    writes one, e.g. ``--{kebab}``); the other entries become problems (their values never shown)."""
    spelled = {spelling.format(kebab=_kebab(name), upper=name.upper()): name for name in names}
    result: list[tuple[str, str, Any]] = []
    seen: dict[str, str] = {}
    for where, key, value in entries:
        name = spelled.get(key)
        if name == "module_dir":
            problems.append(f"{where}: not a setting; it is the config file's directory (or the argument)")
        elif name is None:  # suggest the credentials' variables too, not module_dir
            known = [k for k, n in spelled.items() if n != "module_dir"] + sorted(_NOT_CONFIG_ENV)
            problems.append(f"{where}: unknown setting{_suggest(key, known)}")
        elif name in seen:
            problems.append(f"{where}: also given as {seen[name]}")
        else:
            seen[name] = where
            result.append((name, where, value))
    return result


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _is_setting_var(name: str) -> bool:
    return name.startswith("BTP_RELEASE_") and name not in _NOT_CONFIG_ENV


def _suggest(word: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(candidates), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__
