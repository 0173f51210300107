"""The ``module-config.yaml`` a submission writes to the module-manifests repository.

The catalog builds a module version from this file with modulectl, so it must be one modulectl accepts, and
it must name exactly what the GitHub release published: the module's own module-config (or, for a module
without one, the release's settings) with ``version`` set to the released version and ``manifest`` /
``defaultCR`` pointing at the release's assets — as https download URLs (the default; modulectl fetches
them) or as bare asset names (``asset_links="name"``, what btp-manager's submit workflow writes for a
catalog pipeline that downloads them itself). ``repositoryTag`` names the release's tag for that pipeline
too (modulectl ignores the key); ``security`` stays as the source says.

The text is deterministic — keys in modulectl's order, maps sorted by name, block style, lists indented as
the catalog's files are — so a re-run produces the same bytes and can compare them with what the
repository already holds (:mod:`~btp_release.manifests.plans`). Before it is proposed the text is read back
with :meth:`ModuleConfig.parse <btp_release.module.moduleconfig.ModuleConfig.parse>` (modulectl's rules) and
must give back exactly the intended config: a file the catalog would refuse is never proposed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.manifests.layout import ManifestsModule
from btp_release.module.moduleconfig import ModuleConfig, ModuleConfigError, UrlOrPath
from btp_release.module.spec import GroupVersionKind, ManagerRef
from btp_release.version import Version

__all__ = [
    "CONFIG_FILE_NAME",
    "AssetLinks",
    "PublishedRelease",
    "Submission",
    "build_submission",
    "module_config_from_settings",
    "web_url_of",
]

AssetLinks = Literal["url", "name"]
CONFIG_FILE_NAME = "module-config.yaml"
# The key btp-manager writes for the catalog pipeline; modulectl ignores it (ModuleConfig.ignored).
REPOSITORY_TAG = "repositoryTag"
_GHES_API = re.compile(r"^(https?://[^/]+)/api/v3/?$")
_API = re.compile(r"^(https?)://api\.([^/]+)/?$")


def web_url_of(api_url: str) -> str:
    """The web address of a GitHub API: ``https://api.github.com`` → ``https://github.com``; GitHub
    Enterprise ``https://HOST/api/v3`` → ``https://HOST``. Release and download links use it."""
    if found := _GHES_API.match(api_url):
        return found.group(1)
    if found := _API.match(api_url):
        return f"{found.group(1)}://{found.group(2)}"
    raise InvalidInput(
        f"cannot tell the web address of the GitHub API {api_url!r}",
        hint="use https://api.github.com or, for GitHub Enterprise Server, https://HOST/api/v3",
    )


def _version(value: Version | str) -> Version:
    return value if isinstance(value, Version) else Version.parse(value)


@attrs.frozen(kw_only=True)
class PublishedRelease:
    """The GitHub release a version of the module was published as: what the pull requests link to."""

    repo: str  # OWNER/NAME of the module's repository
    version: Version = attrs.field(converter=_version)
    tag: str = attrs.field(default=attrs.Factory(lambda self: str(self.version), takes_self=True))
    manifest_asset: str
    default_cr_asset: str | None = None  # None: the release has no default CR
    web_url: str = "https://github.com"  # see web_url_of
    html_url: str | None = None  # the release page as GitHub reports it (default: built from the above)

    @property
    def url(self) -> str:
        """The release page, ``https://github.com/OWNER/NAME/releases/tag/TAG``."""
        return self.html_url or f"{self._base}/releases/tag/{quote(self.tag, safe='')}"

    def asset_url(self, name: str) -> str:
        """``https://github.com/OWNER/NAME/releases/download/TAG/NAME``: where GitHub serves an asset."""
        return f"{self._base}/releases/download/{quote(self.tag, safe='')}/{quote(name, safe='')}"

    @property
    def _base(self) -> str:
        return f"{self.web_url.rstrip('/')}/{self.repo}"


@attrs.frozen(kw_only=True)
class Submission:
    """The module-config.yaml of one published version: ``data`` (its bytes) and ``config`` (read back)."""

    data: bytes
    config: ModuleConfig
    release: PublishedRelease

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    @property
    def module(self) -> ManifestsModule:
        return ManifestsModule(name=self.config.name, repo=self.release.repo)

    @property
    def version(self) -> Version:
        return self.config.version


def module_config_from_settings(
    *,
    name: str,
    repository: str,
    documentation: str,
    icons: Mapping[str, str],
    team: str | None = None,
    security: str | None = None,
    security_scan_enabled: bool = True,
    manager: ManagerRef | None = None,
    associated_resources: tuple[GroupVersionKind, ...] = (),
) -> ModuleConfig:
    """The source of a submission for a module without a module-config.yaml: the release's settings.

    Nothing is checked here — :func:`build_submission` reads its result back with modulectl's rules, which
    also say what is missing (modulectl needs at least one icon, and a team while the scan is enabled).
    Version and manifest are placeholders the submission replaces with the release's.
    """
    return ModuleConfig(
        name=name,
        version=Version(0, 0, 0),
        manifest=UrlOrPath("manifest.yaml", is_url=False),
        repository=repository,
        documentation=documentation,
        icons=icons,
        team=team,
        security=security,
        security_scan_enabled=security_scan_enabled,
        manager=manager,
        associated_resources=associated_resources,
        source="the release's settings",
    )


def _link(release: PublishedRelease, asset: str, links: AssetLinks) -> UrlOrPath:
    return (
        UrlOrPath(release.asset_url(asset), is_url=True) if links == "url" else UrlOrPath(asset, is_url=False)
    )


def _links(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "link": link} for name, link in sorted(values.items())]


def _document(config: ModuleConfig, tag: str) -> dict[str, Any]:
    """The keys in modulectl's order (its ModuleConfig struct); optional ones only when they say something."""
    doc: dict[str, Any] = {
        "name": config.name,
        "version": str(config.version),
        "manifest": config.manifest.value,
        "repository": config.repository,
        REPOSITORY_TAG: tag,
    }
    if config.team:
        doc["team"] = config.team
    doc["documentation"] = config.documentation
    doc["icons"] = _links(config.icons)
    if config.default_cr is not None:
        doc["defaultCR"] = config.default_cr.value
    if config.security:
        doc["security"] = config.security
    if not config.security_scan_enabled:
        doc["securityScanEnabled"] = False
    if config.labels:
        doc["labels"] = dict(sorted(config.labels.items()))
    if config.annotations:
        doc["annotations"] = dict(sorted(config.annotations.items()))
    if config.manager is not None:
        doc["manager"] = config.manager.to_json()
    if config.associated_resources:
        doc["associatedResources"] = [gvk.to_json() for gvk in config.associated_resources]
    if config.resources:
        doc["resources"] = _links(config.resources)
    for key, value in (
        ("requiresDowntime", config.requires_downtime),
        ("internal", config.internal),
        ("beta", config.beta),
    ):
        if value:
            doc[key] = True
    return doc


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as the catalog's hand-written files are."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(doc: Mapping[str, Any]) -> bytes:
    text = yaml.dump(
        dict(doc),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
    return text.encode("utf-8")


def build_submission(
    source: ModuleConfig, release: PublishedRelease, *, asset_links: AssetLinks = "url"
) -> Submission:
    """The module-config.yaml that submits ``release`` (see the module docstring).

    ``source`` is the module's module-config (:meth:`ModuleConfig.load`) or
    :func:`module_config_from_settings`. Raises :class:`ModuleConfigError` when the result is a file
    modulectl would refuse (e.g. a release served over plain http with ``asset_links="url"``, no icon).
    """
    if asset_links not in ("url", "name"):
        raise InvalidInput(f"asset links must be 'url' or 'name', got {asset_links!r}")
    where = f"{CONFIG_FILE_NAME} submitted for {source.short_name} {release.version}"
    intended = attrs.evolve(
        source,
        version=release.version,
        manifest=_link(release, release.manifest_asset, asset_links),
        default_cr=_link(release, release.default_cr_asset, asset_links)
        if release.default_cr_asset
        else None,
        labels=dict(sorted(source.labels.items())),
        annotations=dict(sorted(source.annotations.items())),
        ignored=(REPOSITORY_TAG,),
        unknown=(),
        source=where,
        base_dir=Path("."),
    )
    data = _dump(_document(intended, release.tag))
    try:
        parsed = ModuleConfig.parse(data.decode("utf-8"), source=where, base_dir=Path("."))
    except ModuleConfigError as exc:
        raise ModuleConfigError(
            exc.problems,
            source=where,
            hint=f"the catalog runs modulectl on this file: fix {source.source} (docs/manifests.md)",
        ) from exc
    if parsed != intended:  # a YAML scalar that reads back as something else: never propose it
        raise InvalidInput(
            f"{where} does not read back as written",
            hint="report this as a btp_release bug, with the module-config.yaml it was made from",
        )
    return Submission(data=data, config=parsed, release=release)
