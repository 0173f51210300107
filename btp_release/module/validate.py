"""Validation of the module inputs and outputs before anything is pushed.

- the raw manifest parses as multi-document YAML and every document has ``apiVersion``, ``kind`` and
  ``metadata.name``;
- the default CR validates against its CRD's ``openAPIV3Schema`` when the manifest contains that CRD;
- a ModuleTemplate validates against the bundled lifecycle-manager CRD version it declares (``crds/``);
- the images the manifest deploys (:func:`collect_manifest_images`; for the current shape as modulectl
  finds them, ``latest``/``main`` refused) match the image list of the security config (warning or
  error, by option).

Problems are collected, not raised one by one: :class:`ValidationFailed` (an ``InvalidInput``) lists every
problem with its file and document index. CRD schemas are translated to JSON Schema draft 4 (the
OpenAPI v3 dialect): ``x-kubernetes-*`` keys are dropped, ``nullable`` adds ``null``,
``x-kubernetes-int-or-string`` becomes integer-or-string, and — like ``kubectl apply --validate=strict`` —
fields the API server would silently prune are reported as unknown.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any, Literal

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.module.security import SecurityConfig, is_image_candidate, parse_image_reference
from btp_release.module.spec import ModuleInputs, ModuleSpec, TemplateShape
from btp_release.redaction import get_logger

__all__ = [
    "CheckedInputs",
    "Document",
    "ImageMismatch",
    "Problem",
    "ValidationFailed",
    "bundled_crd",
    "check_images",
    "collect_manifest_images",
    "crd_json_schema",
    "find_crd",
    "manifest_images",
    "parse_default_cr",
    "parse_documents",
    "validate_inputs",
    "validate_object",
    "validate_template",
]

log = get_logger(__name__)

ImageMismatch = Literal["warn", "error"]
CrdSet = Literal["2023", "current"]

WORKLOAD_POD_SPEC = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


@attrs.frozen
class Problem:
    """One thing wrong, located: file, 0-based document index in a multi-document file, field path."""

    file: str
    message: str
    document: int | None = None
    path: str = ""

    def __str__(self) -> str:
        where = self.file if self.document is None else f"{self.file} (document {self.document})"
        return f"{where}{' ' + self.path if self.path else ''}: {self.message}"


class ValidationFailed(InvalidInput):
    """One or more validation problems; ``problems`` has them all, the message lists them one per line."""

    def __init__(self, what: str, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{what}: {len(self.problems)} problem(s)\n{lines}",
            hint="fix the files named above and run again; nothing was pushed",
        )


def _raise_if(what: str, problems: Sequence[Problem]) -> None:
    if problems:
        raise ValidationFailed(what, problems)


@attrs.frozen
class Document:
    """One YAML document of a multi-document file, with its 0-based index."""

    index: int
    body: Mapping[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        metadata = self.body.get("metadata")
        return str(metadata.get("name", "")) if isinstance(metadata, Mapping) else ""


def parse_documents(data: bytes | str, *, file: str) -> tuple[list[Document], list[Problem]]:
    """Parse multi-document YAML; empty documents are skipped, indexes count every ``---`` document."""
    documents: list[Document] = []
    problems: list[Problem] = []
    index = -1
    try:
        for index, body in enumerate(yaml.safe_load_all(data)):
            if body is None:
                continue
            if not isinstance(body, dict):
                problems.append(Problem(file, f"expected a mapping, got {type(body).__name__}", index))
                continue
            document = Document(index, body)
            missing = [k for k in ("apiVersion", "kind") if not isinstance(body.get(k), str) or not body[k]]
            if not document.name:
                missing.append("metadata.name")
            if missing:
                problems.append(Problem(file, f"missing {', '.join(missing)}", index))
            documents.append(document)
    except yaml.YAMLError as exc:
        problems.append(Problem(file, f"not valid YAML: {exc}", index + 1))
    if not documents and not problems:
        problems.append(Problem(file, "contains no Kubernetes objects"))
    return documents, problems


def find_crd(documents: Iterable[Document], api_version: str, kind: str) -> Mapping[str, Any] | None:
    """The CRD among ``documents`` that defines ``kind`` in the group of ``api_version``, if any."""
    group = api_version.rpartition("/")[0]
    for document in documents:
        if document.kind != "CustomResourceDefinition":
            continue
        spec = document.body.get("spec") or {}
        if spec.get("group") == group and (spec.get("names") or {}).get("kind") == kind:
            return document.body
    return None


def crd_json_schema(crd: Mapping[str, Any], version: str, *, strict: bool = True) -> dict[str, Any]:
    """The JSON Schema (draft 4) for ``version`` of ``crd``; ``InvalidInput`` if it has no such version."""
    for entry in (crd.get("spec") or {}).get("versions") or ():
        if entry.get("name") == version:
            schema = ((entry.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
            translated: dict[str, Any] = _translate(schema, strict=strict, resource=True)
            return translated
    name = (crd.get("metadata") or {}).get("name")
    raise InvalidInput(f"CRD {name} has no version {version!r}")


def _translate(node: Any, *, strict: bool, resource: bool = False) -> Any:
    """OpenAPI v3 structural schema (Kubernetes dialect) → JSON Schema draft 4."""
    if isinstance(node, list):
        return [_translate(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    embedded = node.get("x-kubernetes-embedded-resource") is True
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties" and isinstance(value, dict):
            # metadata of a resource is ObjectMeta, validated by the API server itself: leave it open.
            out[key] = {
                name: sub if name == "metadata" and (resource or embedded) else _translate(sub, strict=strict)
                for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = _translate(value, strict=strict)
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if embedded:
        out["required"] = sorted({*out.get("required", ()), "apiVersion", "kind"})
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if strict and node.get("type") == "object" and not preserve and "additionalProperties" not in out:
        out["additionalProperties"] = False  # the API server would prune these fields silently
    return out


def _json_path(parts: Iterable[Any]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return text or "."


def validate_object(
    obj: Mapping[str, Any],
    crd: Mapping[str, Any],
    *,
    file: str,
    document: int | None = None,
    strict: bool = True,
) -> list[Problem]:
    """Validate a custom resource against the CRD version its ``apiVersion`` names."""
    api_version = str(obj.get("apiVersion", ""))
    version = api_version.rpartition("/")[2]
    entries = {e.get("name"): e for e in (crd.get("spec") or {}).get("versions") or ()}
    crd_name = (crd.get("metadata") or {}).get("name")
    if version not in entries:
        return [Problem(file, f"{crd_name} has no version {version!r} (has {sorted(entries)})", document)]
    if entries[version].get("served") is False:
        return [Problem(file, f"{crd_name} version {version} is not served", document)]
    schema = crd_json_schema(crd, version, strict=strict)
    validator = _validator_class()(schema)
    errors = sorted(validator.iter_errors(dict(obj)), key=lambda e: (list(e.absolute_path), e.message))
    return [Problem(file, _message(error), document, _json_path(error.absolute_path)) for error in errors]


def _message(error: Any) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = (error.schema or {}).get("properties") or {}
        unknown = sorted(str(key) for key in error.instance if key not in known)
        return f"unknown field(s) {', '.join(unknown)}: not in the CRD schema (the API server drops them)"
    return str(error.message)


@functools.cache
def _validator_class() -> Any:
    # Imported lazily: jsonschema (and its referencing/rpds deps) is only needed when validating.
    return importlib.import_module("jsonschema").Draft4Validator


@functools.cache
def bundled_crd(crd_set: CrdSet) -> Mapping[str, Any]:
    """The ModuleTemplate CRD bundled in ``btp_release/module/crds`` (see its README for the sources)."""
    name = {"2023": "moduletemplates-crd-2023.yaml", "current": "moduletemplates-crd-current.yaml"}[crd_set]
    text = resources.files("btp_release.module").joinpath("crds", name).read_text(encoding="utf-8")
    return next(doc for doc in yaml.safe_load_all(text) if doc)


def validate_template(
    template: Mapping[str, Any], *, file: str = "template.yaml", crd_set: CrdSet = "2023"
) -> list[Problem]:
    """Validate a ModuleTemplate against the version it declares of the bundled CRD (2023 or current)."""
    problems: list[Problem] = []
    if template.get("kind") != "ModuleTemplate":
        problems.append(Problem(file, f"kind is {template.get('kind')!r}, expected ModuleTemplate"))
    if not str(template.get("apiVersion", "")).startswith("operator.kyma-project.io/"):
        problems.append(
            Problem(file, f"apiVersion {template.get('apiVersion')!r} is not operator.kyma-project.io")
        )
    name = (template.get("metadata") or {}).get("name")
    if not name:
        problems.append(Problem(file, "missing metadata.name"))
    if problems:
        return problems
    return validate_object(template, bundled_crd(crd_set), file=file)


# modulectl lists the images of these kinds only (its manifest content provider): containers, init
# containers and the environment variable values of both.
MODULECTL_IMAGE_KINDS = ("Deployment", "StatefulSet")
_DISALLOWED_TAGS = ("latest", "main")


def _pod_spec(document: Document, path: Sequence[str]) -> Mapping[str, Any] | None:
    pod: Any = document.body
    for key in path:
        pod = pod.get(key) if isinstance(pod, Mapping) else None
    return pod if isinstance(pod, Mapping) else None


def _legacy_images(documents: Iterable[Document]) -> list[str]:
    images: set[str] = set()
    for document in documents:
        path = WORKLOAD_POD_SPEC.get(document.kind)
        pod = _pod_spec(document, path) if path is not None else None
        if pod is None:
            continue
        for container in [*(pod.get("containers") or ()), *(pod.get("initContainers") or ())]:
            if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                images.add(container["image"])
    return sorted(images)


def _image_candidates(
    document: Document, pod: Mapping[str, Any], prefix: str
) -> list[tuple[str, str, str, bool]]:
    """(value, field path, whose, from an env variable) of every container image and image-like
    environment variable value of a pod spec."""
    found: list[tuple[str, str, str, bool]] = []
    for field in ("containers", "initContainers"):
        containers = pod.get(field)
        for index, container in enumerate(containers if isinstance(containers, list) else ()):
            if not isinstance(container, Mapping):
                continue
            where = f"{prefix}.{field}[{index}]"
            owner = f"{document.kind} {document.name}, container {container.get('name')}"
            if isinstance(container.get("image"), str):
                found.append((container["image"], f"{where}.image", owner, False))
            env = container.get("env")
            for number, variable in enumerate(env if isinstance(env, list) else ()):
                value = variable.get("value") if isinstance(variable, Mapping) else None
                if isinstance(value, str) and is_image_candidate(value):
                    at, whose = f"{where}.env[{number}].value", f"{owner}, env {variable.get('name')}"
                    found.append((value, at, whose, True))
    return found


def _image_problem(value: str, *, env: bool) -> str | None:
    """Why ``value`` cannot be a release's image (modulectl's rules), or ``None`` if it can."""
    try:
        reference = parse_image_reference(value)
    except InvalidInput as exc:
        if env:
            return f"{exc.message} (the value has a ':' or '@', so modulectl takes it for an image)"
        return exc.message
    if reference.tag is None and reference.digest is None:
        return f"image {value} has no tag (it would run as :latest); name a version"
    if reference.tag is not None and reference.tag.lower() in _DISALLOWED_TAGS:
        return (
            f"image {value}: the tag {reference.tag!r} is not allowed (latest and main move); name a version"
        )
    return None


def collect_manifest_images(
    documents: Iterable[Document], *, file: str = "manifest", shape: TemplateShape = "legacy-2023"
) -> tuple[list[str], list[Problem]]:
    """The images the manifest deploys, each once, sorted; and the problems of those it must not.

    ``modulectl`` shape (what modulectl's ``create`` lists in the component descriptor): Deployments and
    StatefulSets; their containers' and init containers' ``image`` and every environment variable value
    of those containers that looks like an image reference (:func:`~btp_release.module.security.
    is_image_candidate`). Tags ``latest`` and ``main`` (any case), container images without tag or
    digest and image-like values that do not parse are problems naming the image and where it is
    (modulectl refuses them too — except an untagged container image, which it silently leaves out and
    which would run as ``:latest``). Images of other workload kinds are not listed, as in modulectl;
    that is logged.

    ``legacy-2023`` shape: the container and init container images of every workload kind, unchecked
    (the 2023 behaviour).
    """
    documents = list(documents)
    if shape != "modulectl":
        return _legacy_images(documents), []
    images: set[str] = set()
    problems: list[Problem] = []
    for document in documents:
        path = WORKLOAD_POD_SPEC.get(document.kind)
        pod = _pod_spec(document, path) if path is not None else None
        if pod is None:
            continue
        prefix = "." + ".".join(path or ())
        if document.kind not in MODULECTL_IMAGE_KINDS:
            found = _legacy_images([document])
            if found:
                log.warning(
                    "%s: images of %s %s are not listed in the component descriptor (modulectl lists "
                    "Deployment and StatefulSet images only): %s",
                    file,
                    document.kind,
                    document.name,
                    ", ".join(found),
                )
            continue
        for value, at, owner, from_env in _image_candidates(document, pod, prefix):
            problem = _image_problem(value, env=from_env)
            if problem is None:
                images.add(value)
            else:
                problems.append(Problem(file, f"{owner}: {problem}", document.index, at))
    return sorted(images), problems


def manifest_images(documents: Iterable[Document], *, shape: TemplateShape = "legacy-2023") -> list[str]:
    """The images the manifest deploys (see :func:`collect_manifest_images`), without the problems."""
    return collect_manifest_images(documents, shape=shape)[0]


def check_images(
    documents: Iterable[Document],
    security: SecurityConfig,
    *,
    file: str,
    on_mismatch: ImageMismatch = "warn",
    security_file: str = "sec-scanners-config.yaml",
    shape: TemplateShape = "legacy-2023",
    images: Sequence[str] | None = None,
) -> list[Problem]:
    """Compare the manifest's images (``images`` if already collected) with the scanner config's image
    list (``bdba`` or ``protecode``); log (``warn``) or return (``error``) the differences."""
    in_manifest = set(manifest_images(documents, shape=shape) if images is None else images)
    scanned = set(security.images)
    key = security.images_key or "bdba"
    problems = [
        Problem(file, f"image {image} is not in the {key} list of {security_file}")
        for image in sorted(in_manifest - scanned)
    ] + [
        Problem(security_file, f"{key} image {image} is not used by any workload in {file}")
        for image in sorted(scanned - in_manifest)
    ]
    if on_mismatch == "warn":
        for problem in problems:
            log.warning("security scan config mismatch: %s", problem)
        return []
    return problems


@attrs.frozen
class CheckedInputs:
    """What :func:`validate_inputs` parsed: the manifest documents, the default CR and the images the
    manifest deploys (:func:`collect_manifest_images` for the spec's shape)."""

    documents: tuple[Document, ...]
    default_cr: Mapping[str, Any] | None
    images: tuple[str, ...] = ()

    @property
    def default_cr_cluster_scoped(self) -> bool:
        """Whether the default CR's CRD in the manifest is ``Cluster``-scoped (modulectl's rule for
        ``operator.kyma-project.io/is-cluster-scoped``); ``False`` without default CR or CRD."""
        if self.default_cr is None:
            return False
        crd = find_crd(
            self.documents, str(self.default_cr.get("apiVersion", "")), str(self.default_cr.get("kind", ""))
        )
        return crd is not None and (crd.get("spec") or {}).get("scope") == "Cluster"


def parse_default_cr(data: bytes, *, file: str) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    """The default CR: exactly one Kubernetes object."""
    documents, problems = parse_documents(data, file=file)
    if len(documents) > 1:
        problems.append(Problem(file, f"expected one object, found {len(documents)}"))
    return (documents[0].body if documents else None), problems


def _no_crd_problem(
    default_cr: Mapping[str, Any], documents: Sequence[Document], inputs: ModuleInputs
) -> Problem:
    """A default CR whose kind no CRD of the manifest defines could never be applied with the module."""
    present = [
        f"{(d.body.get('spec') or {}).get('names', {}).get('kind')} "
        f"({(d.body.get('spec') or {}).get('group')})"
        for d in documents
        if d.kind == "CustomResourceDefinition"
    ]
    return Problem(
        inputs.default_cr_name,
        f"kind {default_cr['kind']} ({default_cr['apiVersion']}) has no CustomResourceDefinition in "
        f"{inputs.manifest_name}; CRDs there: {', '.join(present) or 'none'} (if the CRD is installed by "
        "something else, set default-cr-crd-external: true)",
    )


def validate_inputs(
    spec: ModuleSpec, inputs: ModuleInputs, *, image_mismatch: ImageMismatch = "warn"
) -> CheckedInputs:
    """Run every input check and raise one :class:`ValidationFailed` listing all problems, if any."""
    problems: list[Problem] = []
    documents: list[Document] = []
    if inputs.manifest is not None:
        documents, found = parse_documents(inputs.manifest, file=inputs.manifest_name)
        problems += found
    default_cr = None
    if inputs.default_cr is not None:
        default_cr, found = parse_default_cr(inputs.default_cr, file=inputs.default_cr_name)
        problems += found
        if default_cr is not None and not found:
            crd = find_crd(documents, str(default_cr["apiVersion"]), str(default_cr["kind"]))
            if crd is not None:
                problems += validate_object(default_cr, crd, file=inputs.default_cr_name, document=0)
            elif spec.default_cr_crd_external or inputs.manifest is None:
                log.info(  # a Helm chart's CRDs are not parsed; an external CRD is the config's word
                    "default CR %s (%s) not validated: its CRD is not in the manifest",
                    inputs.default_cr_name,
                    default_cr["kind"],
                )
            else:
                problems.append(_no_crd_problem(default_cr, documents, inputs))
    images: list[str] = []
    if inputs.manifest is not None:
        images, found = collect_manifest_images(documents, file=inputs.manifest_name, shape=spec.shape)
        problems += found
    if inputs.security is not None and inputs.manifest is not None:
        problems += check_images(
            documents,
            inputs.security,
            file=inputs.manifest_name,
            on_mismatch=image_mismatch,
            security_file=str(spec.security_config_path or "security config"),
            shape=spec.shape,
            images=images,
        )
    _raise_if(f"module {spec.component_name} {spec.component_version}", problems)
    return CheckedInputs(tuple(documents), default_cr, tuple(images))
