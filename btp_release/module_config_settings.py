"""A modulectl ``module-config.yaml`` as a source of release settings.

Module repositories of today keep their module's description in the ``module-config.yaml`` modulectl
reads (kyma-today.md, section 2). :func:`settings_from_module_config` turns it into the
:class:`~btp_release.config.ReleaseConfig` settings it has a key for — component name, manifest,
default CR, scanner config, documentation, the GitHub repository — so a module needs no
``btp-release.yaml`` at all. The config file, the environment and flags still win per setting; the
rest of module-config (icons, manager, labels, associatedResources, resources, requiresDowntime…)
goes to the ModuleTemplate through ``ReleaseConfig.module_config``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from btp_release.module.moduleconfig import ModuleConfig, UrlOrPath

__all__ = ["MODULE_CONFIG_FILE", "settings_from_module_config"]

MODULE_CONFIG_FILE = "module-config.yaml"
_GITHUB_REPOSITORY = re.compile(r"^https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")


def _local(ref: UrlOrPath, config: ModuleConfig, module_dir: Path) -> Path:
    """A module-config path (relative to its own directory) as a setting (relative to ``module_dir``)."""
    if Path(config.base_dir) == Path(module_dir):
        return Path(ref.value)
    return ref.local_path(config.base_dir).absolute()


def _file_name(url: str) -> str | None:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return name if name.endswith((".yaml", ".yml")) else None


def settings_from_module_config(
    config: ModuleConfig, module_dir: Path, given: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """``(values, origins, problems)`` for the settings ``module-config.yaml`` decides.

    ``given`` maps the settings already set by the config file, the environment or flags to where
    they came from; those are left alone. A manifest or default CR given by URL names where the
    release publishes it (``resources.rawManifest``, the asset name), but the release builds from a
    local file, which ``btp-release.yaml`` (or a flag) must then name.
    """
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    problems: list[str] = []

    def put(name: str, value: Any, key: str) -> None:
        if name not in given:
            values[name] = value
            origins[name] = f"{config.source}: key {key!r}"

    put("module_name", config.name, "name")
    put("doc_url", config.documentation, "documentation")
    if found := _GITHUB_REPOSITORY.match(config.repository):
        put("github_repo", f"{found.group(1)}/{found.group(2)}", "repository")
    for name, key, asset, ref in (
        ("manifest", "manifest", "manifest_asset", config.manifest),
        ("default_cr", "defaultCR", "default_cr_asset", config.default_cr),
    ):
        if ref is None:
            put(name, None, key)  # module-config without one means none, not the btp-operator default
        elif not ref.is_url:
            put(name, _local(ref, config, module_dir), key)
            put(asset, Path(ref.value).name, key)  # published under its own name, as btp-manager does
        else:
            if (file_name := _file_name(ref.value)) is not None:
                put(asset, file_name, key)
            if name not in given:
                problems.append(
                    f"{config.source}: key {key!r} is the URL {ref.value}; the release is built from a "
                    f"local file: name it with {name.replace('_', '-')}: PATH in btp-release.yaml "
                    f"(or --{name.replace('_', '-')})"
                )
    if config.security is None:
        put("security_config", None, "security")
    elif config.security_path is not None:
        security = config.security_path
        relative = Path(config.security) if Path(config.base_dir) == Path(module_dir) else security.absolute()
        put("security_config", relative, "security")
    return values, origins, problems


def module_config_path(module_dir: Path, setting: Path | None) -> Path | None:
    """Where the module-config is: the ``module-config-file`` setting, relative to ``module_dir``."""
    if setting is None:
        return None
    return setting if setting.is_absolute() else Path(os.path.normpath(module_dir / setting))
