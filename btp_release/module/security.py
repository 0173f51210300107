"""``sec-scanners-config.yaml``: which images Protecode scans and how WhiteSource (Mend) scans the sources.

The file is an input of the module build (it becomes labels and ``ociImage`` resources of the component
descriptor, see ``btp_release.module.descriptor``) and is also committed in the module repository, where
a release bumps ``rc-tag`` and the image list (:meth:`SecurityConfig.for_release`, then
:meth:`SecurityConfig.write`).
Keys this library does not know are kept, in order, when the file is written back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.version import Version

__all__ = ["SecurityConfig", "WhiteSource", "image_name_and_tag"]

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_KNOWN_KEYS = ("module-name", "rc-tag", "dev-branch", "protecode", "whitesource")


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key (``  - item``), as the committed files and yq write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def image_name_and_tag(image: str) -> tuple[str, str]:
    """``europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0`` → ``("btp-manager", "1.2.0")``.

    The scanners and the component descriptor need ``name:tag``; digest references are refused
    (``InvalidInput``), as the Kyma CLI did.
    """
    if not isinstance(image, str) or not image or "@" in image or any(c.isspace() for c in image):
        raise InvalidInput(
            f"image reference {image!r} must be <repository>:<tag>",
            hint="digest references (…@sha256:…) are not accepted by the security scanners",
        )
    path, _, last = image.rpartition("/")
    name, colon, tag = last.partition(":")
    if not colon or not name or not _TAG.match(tag) or (path and path.endswith("/")):
        raise InvalidInput(
            f"image reference {image!r} must be <repository>:<tag>",
            hint="e.g. europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",
        )
    return name, tag


def _str_tuple(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class WhiteSource:
    """The ``whitesource`` section: source language, sub-project scanning and excluded path patterns."""

    language: str = "golang-mod"
    subprojects: bool = False
    exclude: tuple[str, ...] = attrs.field(default=("**/*_test.go",), converter=_str_tuple)


def _check_images(_instance: Any, _attribute: Any, value: tuple[str, ...]) -> None:
    for image in value:
        image_name_and_tag(image)


@attrs.frozen(kw_only=True)
class SecurityConfig:
    """The parsed ``sec-scanners-config.yaml``."""

    module_name: str = attrs.field(validator=attrs.validators.min_len(1))
    protecode: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple, validator=_check_images)
    whitesource: WhiteSource = attrs.field(factory=WhiteSource)
    rc_tag: str | None = None
    dev_branch: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, converter=dict, hash=False)

    @classmethod
    def parse(cls, text: str | bytes, *, source: str = "sec-scanners-config.yaml") -> SecurityConfig:
        """Parse the YAML; every problem is reported at once in one ``InvalidInput`` naming ``source``."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{source}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{source}: expected a mapping with module-name, protecode, whitesource")
        problems: list[str] = []

        def text_field(key: str, *, required: bool = False) -> str | None:
            value = data.get(key)
            if value is None:
                if required:
                    problems.append(f"{key} is missing")
                return None
            if not isinstance(value, str):
                problems.append(f"{key} must be a string, got {value!r} (quote it)")
                return None
            return value

        module_name = text_field("module-name", required=True)
        rc_tag = text_field("rc-tag")
        dev_branch = text_field("dev-branch")
        protecode = data.get("protecode") or []
        if not isinstance(protecode, list) or not all(isinstance(i, str) for i in protecode):
            problems.append("protecode must be a list of image references")
            protecode = []
        for image in protecode:
            try:
                image_name_and_tag(image)
            except InvalidInput as exc:
                problems.append(f"protecode: {exc}")
        whitesource = cls._parse_whitesource(data.get("whitesource"), problems)
        if problems:
            raise InvalidInput(
                f"{source}: {len(problems)} problem(s): " + "; ".join(problems),
                hint="see the sec-scanners-config.yaml format in docs/module.md",
            )
        assert module_name is not None
        return cls(
            module_name=module_name,
            protecode=tuple(protecode),
            whitesource=whitesource,
            rc_tag=rc_tag,
            dev_branch=dev_branch,
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )

    @staticmethod
    def _parse_whitesource(value: Any, problems: list[str]) -> WhiteSource:
        if value is None:
            return WhiteSource()
        if not isinstance(value, dict):
            problems.append("whitesource must be a mapping (language, subprojects, exclude)")
            return WhiteSource()
        language = value.get("language", "golang-mod")
        if not isinstance(language, str):
            problems.append(f"whitesource.language must be a string, got {language!r}")
            language = ""
        subprojects = value.get("subprojects", False)
        if isinstance(subprojects, str) and subprojects.lower() in ("true", "false"):
            subprojects = subprojects.lower() == "true"  # the Kyma CLI read it as a string
        if not isinstance(subprojects, bool):
            problems.append(f"whitesource.subprojects must be true or false, got {subprojects!r}")
            subprojects = False
        exclude = value.get("exclude") or []
        if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
            problems.append("whitesource.exclude must be a list of path patterns")
            exclude = []
        return WhiteSource(language=language, subprojects=subprojects, exclude=tuple(exclude))

    @classmethod
    def load(cls, path: Path) -> SecurityConfig:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read security scanners config {path}: {exc}") from exc
        return cls.parse(text, source=str(path))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"module-name": self.module_name}
        if self.rc_tag is not None:
            data["rc-tag"] = self.rc_tag
        if self.dev_branch is not None:
            data["dev-branch"] = self.dev_branch
        data["protecode"] = list(self.protecode)
        data["whitesource"] = {
            "language": self.whitesource.language,
            "subprojects": self.whitesource.subprojects,
            "exclude": list(self.whitesource.exclude),
        }
        data.update(self.extra)
        return data

    def to_yaml(self) -> str:
        """Deterministic YAML in the committed file's key order."""
        return yaml.dump(
            self.to_json(), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
        )

    def write(self, path: Path) -> bool:
        """Write the file if its content differs; return whether it changed (idempotent)."""
        path = Path(path)
        text = self.to_yaml()
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except FileNotFoundError:
            pass
        path.write_text(text, encoding="utf-8")
        return True

    def for_release(self, version: Version, images: Sequence[str] | None = None) -> SecurityConfig:
        """The committed copy for a release: ``rc-tag`` = ``X.Y.Z`` and, when given, the Protecode images."""
        return attrs.evolve(
            self, rc_tag=version.image_tag, protecode=tuple(images) if images is not None else self.protecode
        )
