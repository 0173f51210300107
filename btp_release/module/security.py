"""``sec-scanners-config.yaml``: which images and sources the security scanners look at.

Two formats are read, validated and written back:

- today's (btp-manager, template-operator, the scanners of kyma-project/test-infra): ``module-name``,
  ``kind`` (e.g. ``kyma``), ``rc-tag``, ``bdba`` (the image list), ``mend`` (``language``,
  ``subprojects``, ``exclude``), ``checkmarx-one`` (``preset``, ``exclude``), ``dev-branch``;
- the 2023 one the Kyma CLI read: ``protecode`` (the image list) and ``whitesource`` instead of ``bdba``
  and ``mend``.

A key this library does not know is an error that lists the known ones: a typo must not silently drop
a scanner setting. Nothing is invented: a section absent in the file stays absent when the file is
written back (and in the descriptor's labels); an unchanged config writes the same data in the same key
order. A release ships the file with :meth:`SecurityConfig.for_release`: ``rc-tag`` = the release and
the image list = exactly the images its manifest deploys; every other key stays as in the file.

Image references are parsed here too (:func:`parse_image_reference`, the grammar of
``github.com/distribution/reference`` that modulectl uses) and :func:`image_name_and_tag` keeps the
2023 rule for ``protecode`` images (``name:tag``, no digest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.redaction import get_logger
from btp_release.version import Version

__all__ = [
    "CheckmarxOne",
    "ImageReference",
    "Mend",
    "SecurityConfig",
    "SourceScan",
    "WhiteSource",
    "image_name_and_tag",
    "is_image_candidate",
    "parse_image_reference",
]

log = get_logger(__name__)

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

# Top-level keys, in the order they are written when the file does not say otherwise.
_NEW_KEYS = ("module-name", "kind", "rc-tag", "dev-branch", "bdba", "mend", "checkmarx-one")
_OLD_KEYS = ("protecode", "whitesource")
_KEY_ORDER = (
    "module-name",
    "kind",
    "rc-tag",
    "dev-branch",
    "bdba",
    "protecode",
    "mend",
    "whitesource",
    "checkmarx-one",
)
_SOURCE_SCAN_KEYS = ("language", "subprojects", "exclude")
_CHECKMARX_KEYS = ("preset", "exclude")
_RENAMED = (("protecode", "bdba"), ("whitesource", "mend"))


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key (``  - item``), as the committed files and yq write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


# --- image references ---------------------------------------------------------------------------------

# github.com/distribution/reference (what modulectl parses images with): name, optional tag, digest.
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*))"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_SHA256_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# What distribution/reference takes for a digest, not a name: 64 hex, or a digest of a known algorithm.
_BARE_DIGEST = re.compile(r"^(?:[a-f0-9]{64}|sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$")
_NAME_MAX = 255


@attrs.frozen
class ImageReference:
    """A parsed image reference: ``reference`` as written, ``name`` its last path element."""

    reference: str
    repository: str
    tag: str | None
    digest: str | None  # "sha256:<64 hex>"

    @property
    def name(self) -> str:
        """``europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0`` → ``btp-manager``."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def digest_hex(self) -> str | None:
        return self.digest.partition(":")[2] if self.digest else None


def is_image_candidate(value: str) -> bool:
    """Whether an environment variable value counts as an image reference, by modulectl's rule:
    3 to 256 characters, a ``:`` or ``@`` (tag, digest or port), no whitespace."""
    return (
        3 <= len(value) <= 256 and (":" in value or "@" in value) and not any(c in value for c in " \t\n\r")
    )


def parse_image_reference(value: str) -> ImageReference:
    """Parse ``[host[:port]/]path[:tag][@sha256:…]``; ``InvalidInput`` naming the value if it is none.

    The grammar is distribution/reference's (lowercase path components, tag ``[\\w][\\w.-]{0,127}``,
    name at most 255 characters); a bare digest is not an image. Only ``sha256`` digests are accepted:
    the component descriptor names digested images by their sha256 (modulectl does the same).
    A reference with neither tag nor digest is returned as such; callers decide whether that is allowed.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"image reference {value!r} is empty")
    if _BARE_DIGEST.match(value):
        raise InvalidInput(f"image reference {value!r} is a digest without an image name")
    match = _REFERENCE.match(value)
    if match is None:
        raise InvalidInput(
            f"{value!r} is not a valid image reference",
            hint="[host[:port]/]path[:tag][@sha256:<digest>], lowercase path, e.g. "
            "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",
        )
    name = match["name"]
    if len(name) > _NAME_MAX:
        raise InvalidInput(f"image reference {value!r}: the name is longer than {_NAME_MAX} characters")
    digest = match["digest"]
    if digest is not None and not _SHA256_DIGEST.match(digest):
        raise InvalidInput(f"image reference {value!r}: only sha256 digests (64 lowercase hex) are supported")
    return ImageReference(reference=value, repository=name, tag=match["tag"], digest=digest)


def image_name_and_tag(image: str) -> tuple[str, str]:
    """``europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0`` → ``("btp-manager", "1.2.0")``.

    The 2023 rule for ``protecode`` images and the 2023 descriptor's ``ociImage`` resources: the
    scanners needed ``name:tag``; digest references are refused (``InvalidInput``), as the Kyma CLI did.
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


def _check_bdba_image(image: str) -> None:
    reference = parse_image_reference(image)
    if reference.tag is None and reference.digest is None:
        raise InvalidInput(f"image reference {image!r} has neither a tag nor a digest")


# --- the config ---------------------------------------------------------------------------------------


def _optional_tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _str_tuple(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class SourceScan:
    """The ``mend`` section (``whitesource`` in the old format): how the sources are scanned.

    Every field is optional and ``None`` means "not in the file" (nothing is written for it).
    ``subprojects`` keeps the file's value: a boolean, or the string ``"true"``/``"false"`` that the
    Kyma CLI and modulectl wrote.
    """

    language: str | None = None
    subprojects: bool | str | None = None
    exclude: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.language is not None:
            data["language"] = self.language
        if self.subprojects is not None:
            data["subprojects"] = self.subprojects
        if self.exclude is not None:
            data["exclude"] = list(self.exclude)
        return data


WhiteSource = SourceScan
"""The old name of the section type (``whitesource``); the same class as :data:`Mend`."""
Mend = SourceScan


@attrs.frozen(kw_only=True)
class CheckmarxOne:
    """The ``checkmarx-one`` section: the scan preset and excluded path patterns (both optional)."""

    preset: str | None = None
    exclude: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.preset is not None:
            data["preset"] = self.preset
        if self.exclude is not None:
            data["exclude"] = list(self.exclude)
        return data


def _check_protecode(_instance: Any, _attribute: Any, value: tuple[str, ...] | None) -> None:
    for image in value or ():
        image_name_and_tag(image)


def _check_bdba(_instance: Any, _attribute: Any, value: tuple[str, ...] | None) -> None:
    for image in value or ():
        _check_bdba_image(image)


def _known_keys_text() -> str:
    return f"{', '.join(_NEW_KEYS)} (current format); {', '.join(_OLD_KEYS)} (old format)"


@attrs.frozen(kw_only=True)
class SecurityConfig:
    """The parsed ``sec-scanners-config.yaml`` (either format; ``None`` = the key is not in the file).

    ``key_order`` is the file's top-level key order (not part of equality); keys not in it are written
    in the usual order (``module-name``, ``kind``, ``rc-tag``, ``dev-branch``, ``bdba``/``protecode``,
    ``mend``/``whitesource``, ``checkmarx-one``).
    """

    module_name: str = attrs.field(validator=attrs.validators.min_len(1))
    kind: str | None = None
    rc_tag: str | None = None
    dev_branch: str | None = None
    bdba: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple, validator=_check_bdba)
    protecode: tuple[str, ...] | None = attrs.field(
        default=None, converter=_optional_tuple, validator=_check_protecode
    )
    mend: SourceScan | None = None
    whitesource: SourceScan | None = None
    checkmarx_one: CheckmarxOne | None = None
    key_order: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple, eq=False)

    def __attrs_post_init__(self) -> None:
        mixed = [f"{old} and {new}" for old, new in _RENAMED if old in self._present and new in self._present]
        if mixed:
            raise InvalidInput(
                f"security scanners config mixes the old and the current format: {'; '.join(mixed)}",
                hint="protecode is the old name of bdba and whitesource of mend: keep only bdba and mend",
            )

    @property
    def _present(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "module-name": self.module_name,
            "kind": self.kind,
            "rc-tag": self.rc_tag,
            "dev-branch": self.dev_branch,
            "bdba": self.bdba,
            "protecode": self.protecode,
            "mend": self.mend,
            "whitesource": self.whitesource,
            "checkmarx-one": self.checkmarx_one,
        }
        return {key: value for key, value in values.items() if value is not None}

    @property
    def images_key(self) -> str | None:
        """``bdba`` or ``protecode``: the key of the image list in this file, ``None`` if it has none."""
        if self.bdba is not None:
            return "bdba"
        return "protecode" if self.protecode is not None else None

    @property
    def images(self) -> tuple[str, ...]:
        """The images the scanners scan, from ``bdba`` (current format) or ``protecode`` (old format)."""
        if self.bdba is not None:
            return self.bdba
        return self.protecode or ()

    @property
    def source_scan(self) -> SourceScan | None:
        """The ``mend`` section, or ``whitesource`` in the old format; ``None`` if there is neither."""
        return self.mend if self.mend is not None else self.whitesource

    @classmethod
    def parse(cls, text: str | bytes, *, source: str = "sec-scanners-config.yaml") -> SecurityConfig:
        """Parse the YAML; every problem is reported at once in one ``InvalidInput`` naming ``source``."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{source}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(
                f"{source}: expected a mapping with module-name, bdba, mend… (or protecode, whitesource)"
            )
        problems: list[str] = []
        unknown = [str(key) for key in data if key not in _KEY_ORDER]
        if unknown:
            problems.append(f"unknown key(s) {', '.join(unknown)}; the known keys are {_known_keys_text()}")
        problems += [
            f"both {old} and {new}: {old} is the old name of {new}, keep only {new}"
            for old, new in _RENAMED
            if old in data and new in data
        ]

        def text_field(key: str, *, required: bool = False) -> str | None:
            value = data.get(key)
            if value is None:
                if required:
                    problems.append(f"{key} is missing")
                return None
            if not isinstance(value, str):
                problems.append(f"{key} must be a string, got {value!r} (quote it)")
                return None
            if required and not value:
                problems.append(f"{key} must not be empty")
                return None
            return value

        values: dict[str, Any] = {
            "module_name": text_field("module-name", required=True),
            "kind": text_field("kind"),
            "rc_tag": text_field("rc-tag"),
            "dev_branch": text_field("dev-branch"),
        }
        for key, check in (("bdba", _check_bdba_image), ("protecode", image_name_and_tag)):
            if key in data:
                values[key] = _image_list(data[key], key, check, problems)
        for key in ("mend", "whitesource"):
            if key in data:
                values[key] = _source_scan(data[key], key, problems)
        if "checkmarx-one" in data:
            values["checkmarx_one"] = _checkmarx(data["checkmarx-one"], problems)
        if problems:
            raise InvalidInput(
                f"{source}: {len(problems)} problem(s): " + "; ".join(problems),
                hint="see the sec-scanners-config.yaml format in docs/module.md",
            )
        return cls(**values, key_order=tuple(str(key) for key in data))

    @classmethod
    def load(cls, path: Path) -> SecurityConfig:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read security scanners config {path}: {exc}") from exc
        return cls.parse(text, source=str(path))

    def to_json(self) -> dict[str, Any]:
        """The file's data: the keys present, in the file's order (then the usual order)."""
        present = self._present
        order = [key for key in self.key_order if key in present]
        order += [key for key in _KEY_ORDER if key in present and key not in order]
        data: dict[str, Any] = {}
        for key in order:
            value = present[key]
            if isinstance(value, tuple):
                data[key] = list(value)
            elif isinstance(value, SourceScan | CheckmarxOne):
                data[key] = value.to_json()
            else:
                data[key] = value
        return data

    def to_yaml(self) -> str:
        """Deterministic YAML in the file's key order."""
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

    def for_release(self, version: Version, images: Sequence[str]) -> SecurityConfig:
        """The copy a release ships: ``rc-tag`` = ``X.Y.Z`` and the image list (``bdba``, or
        ``protecode`` in the old format) = exactly ``images`` — the images the release's manifest
        deploys, in the caller's order. Every other key stays as in the file.

        A file without an image list keeps having none (adding one would switch on a scanner the
        module does not use); that is logged. ``InvalidInput`` if an image is not acceptable for the
        list (``protecode`` images must be ``name:tag``).
        """
        images = tuple(images)
        order = list(self.key_order)
        if self.key_order and "rc-tag" not in order:
            anchor = "kind" if "kind" in order else "module-name"
            order.insert(order.index(anchor) + 1 if anchor in order else 0, "rc-tag")
        changes: dict[str, Any] = {"rc_tag": version.image_tag, "key_order": tuple(order)}
        if self.bdba is not None:
            changes["bdba"] = images
        elif self.protecode is not None:
            changes["protecode"] = images
        elif images:
            log.warning(
                "the security scanners config has no bdba list: the release's images (%s) are not added",
                ", ".join(images),
            )
        return attrs.evolve(self, **changes)


def _image_list(value: Any, key: str, check: Any, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{key} must be a list of image references")
        return ()
    for image in value:
        try:
            check(image)
        except InvalidInput as exc:
            problems.append(f"{key}: {exc}")
    return tuple(value)


def _unknown_section_keys(
    value: Mapping[Any, Any], key: str, known: Sequence[str], problems: list[str]
) -> None:
    unknown = [str(k) for k in value if k not in known]
    if unknown:
        problems.append(f"{key}: unknown key(s) {', '.join(unknown)}; the known keys are {', '.join(known)}")


def _string_list(
    section: Mapping[Any, Any], key: str, where: str, problems: list[str]
) -> tuple[str, ...] | None:
    if key not in section:
        return None
    value = section[key]
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{where}.{key} must be a list of path patterns")
        return None
    return tuple(value)


def _optional_text(section: Mapping[Any, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = section.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(f"{where}.{key} must be a string, got {value!r}")
        return None
    return value


def _source_scan(value: Any, key: str, problems: list[str]) -> SourceScan | None:
    if not isinstance(value, dict):
        problems.append(f"{key} must be a mapping ({', '.join(_SOURCE_SCAN_KEYS)})")
        return None
    _unknown_section_keys(value, key, _SOURCE_SCAN_KEYS, problems)
    subprojects = value.get("subprojects")
    if subprojects is not None and not (
        isinstance(subprojects, bool)
        or (isinstance(subprojects, str) and subprojects.lower() in ("true", "false"))
    ):
        problems.append(f"{key}.subprojects must be true or false, got {subprojects!r}")
        subprojects = None
    return SourceScan(
        language=_optional_text(value, "language", key, problems),
        subprojects=subprojects,
        exclude=_string_list(value, "exclude", key, problems),
    )


def _checkmarx(value: Any, problems: list[str]) -> CheckmarxOne | None:
    if not isinstance(value, dict):
        problems.append(f"checkmarx-one must be a mapping ({', '.join(_CHECKMARX_KEYS)})")
        return None
    _unknown_section_keys(value, "checkmarx-one", _CHECKMARX_KEYS, problems)
    return CheckmarxOne(
        preset=_optional_text(value, "preset", "checkmarx-one", problems),
        exclude=_string_list(value, "exclude", "checkmarx-one", problems),
    )
