"""Throwaway Kubernetes clusters for the E2E stage, behind one small :class:`Cluster` interface.

- :class:`K3sCluster` — k3s on this Linux machine via the official install script (needs root);
  the cluster of the release E2E (spec/seed-pipeline.md, "E2E on k3s").
- :class:`K3dCluster` — k3s in Docker through k3d (no root, any OS with Docker).
- :class:`KindCluster` — kind through pytest-kind, where ``kind`` is installed.
- :class:`ExistingCluster` — a cluster reached through a kubeconfig; never created or deleted.

Plus :class:`LocalRegistry` (a plain-HTTP registry for the cluster to pull from, mirrored as
``registry.localhost:5000``) and :func:`k3s_versions` (the newest patch of recent k3s minors).

Every external program runs through an injected :class:`Runner` (default
:class:`SubprocessRunner`: no shell, always a timeout), files go to injected paths, waits use
:func:`~btp_release.wait.wait_until` with an injected clock and sleeper, so all of it is testable
without a cluster.

Typical use::

    with LocalRegistry() as registry:
        with K3sCluster("v1.31.4+k3s1", mirrors=registry.endpoint.mirrors()) as cluster:
            kube = KubeClient.from_kubeconfig(cluster.kubeconfig, context=cluster.context)
"""

from __future__ import annotations

from btp_release.cluster._run import CommandFailed, Completed, Runner, SubprocessRunner
from btp_release.cluster.base import Cluster, ClusterBase, Kubectl, node_readiness
from btp_release.cluster.existing import ExistingCluster
from btp_release.cluster.k3d import K3dCluster
from btp_release.cluster.k3s import K3S_EXEC, K3S_INSTALL_URL, K3sCluster
from btp_release.cluster.kind import KindCluster
from btp_release.cluster.registry import DEFAULT_MIRROR, LocalRegistry, RegistryEndpoint, registries_yaml
from btp_release.cluster.versions import K3sVersion, k3s_versions, newest_patches

__all__ = [
    "DEFAULT_MIRROR",
    "K3S_EXEC",
    "K3S_INSTALL_URL",
    "Cluster",
    "ClusterBase",
    "CommandFailed",
    "Completed",
    "ExistingCluster",
    "K3dCluster",
    "K3sCluster",
    "K3sVersion",
    "KindCluster",
    "Kubectl",
    "LocalRegistry",
    "RegistryEndpoint",
    "Runner",
    "SubprocessRunner",
    "k3s_versions",
    "newest_patches",
    "node_readiness",
    "registries_yaml",
]
