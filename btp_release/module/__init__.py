"""The Kyma module: OCM component descriptor, module OCI artifact, ModuleTemplate, security scan config.

Pure building and rendering (no server needed) plus push/verify/read through any
:class:`~btp_release.oci.model.ArtifactStore` (a registry or an OCI layout). See ``docs/module.md``.
"""

from btp_release.module.artifact import (
    HELM_CHART_MEDIA_TYPE,
    OCM_CONFIG_MEDIA_TYPE,
    OCM_DESCRIPTOR_MEDIA_TYPE,
    OCTET_STREAM,
    ModuleArtifact,
    ModuleContent,
    build_module,
    push_module,
    read_module,
    select_install_layer,
    verify_module,
)
from btp_release.module.descriptor import build_descriptor, descriptor_yaml, local_blob_digest
from btp_release.module.moduleconfig import ModuleConfig, ModuleConfigError, UrlOrPath
from btp_release.module.releasemeta import (
    ChannelMapping,
    release_meta_yaml,
    render_release_meta,
    validate_release_meta,
)
from btp_release.module.security import SecurityConfig, WhiteSource, image_name_and_tag
from btp_release.module.spec import CustomStateCheck, GroupVersionKind, ManagerRef, ModuleInputs, ModuleSpec
from btp_release.module.template import (
    TEMPLATE_CONTROL_PLANE_FILE,
    TEMPLATE_FILE,
    for_target,
    render_template,
    template_files,
    to_yaml,
    write_templates,
)
from btp_release.module.validate import (
    Problem,
    ValidationFailed,
    check_images,
    validate_inputs,
    validate_object,
    validate_template,
)

__all__ = [
    "HELM_CHART_MEDIA_TYPE",
    "OCM_CONFIG_MEDIA_TYPE",
    "OCM_DESCRIPTOR_MEDIA_TYPE",
    "OCTET_STREAM",
    "TEMPLATE_CONTROL_PLANE_FILE",
    "TEMPLATE_FILE",
    "ChannelMapping",
    "CustomStateCheck",
    "GroupVersionKind",
    "ManagerRef",
    "ModuleArtifact",
    "ModuleConfig",
    "ModuleConfigError",
    "ModuleContent",
    "ModuleInputs",
    "ModuleSpec",
    "Problem",
    "SecurityConfig",
    "UrlOrPath",
    "ValidationFailed",
    "WhiteSource",
    "build_descriptor",
    "build_module",
    "check_images",
    "descriptor_yaml",
    "for_target",
    "image_name_and_tag",
    "local_blob_digest",
    "push_module",
    "read_module",
    "release_meta_yaml",
    "render_release_meta",
    "render_template",
    "select_install_layer",
    "template_files",
    "to_yaml",
    "validate_inputs",
    "validate_object",
    "validate_release_meta",
    "validate_template",
    "verify_module",
    "write_templates",
]
