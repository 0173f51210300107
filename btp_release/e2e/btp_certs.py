"""The operand's webhook certificates rotated, as btp-manager's run-e2e-tests job checks it (at c70cd184).

btp-manager keeps a self-signed CA in Secret ``kyma-system/ca-server-cert`` and the webhook server's
certificate, signed by it, in ``webhook-server-cert``; the CA certificate is the ``caBundle`` of the operand's
mutating and validating webhook configurations, without which the API server cannot call the webhooks. The
Secrets are watched: a deleted ``ca-server-cert`` makes btp-manager create a new CA (and webhook certificate)
and update both caBundles. The real job records the mutating caBundle, deletes the Secret, gives its
re-creation and the new caBundle 60 s each, greps the bundle for ``BEGIN CERTIFICATE``, compares the
validating one and awaits the BtpOperator Ready. Here the bundle must parse as an X.509 CA certificate, and
the validating one is awaited too: btp-manager writes the two one after the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable

from cryptography import x509

from btp_release.e2e.btp_checks import NAMESPACE, READY, BtpOperatorModule, cr_ready, wait_cr
from btp_release.e2e.scenarios import ScenarioRun
from btp_release.errors import CheckFailed
from btp_release.kube import KubeObject
from btp_release.wait import Poll, wait_until

__all__ = ["CA_SECRET", "MUTATING_WEBHOOK", "VALIDATING_WEBHOOK", "ca_bundle", "ca_rotation"]

WEBHOOK_API = "admissionregistration.k8s.io/v1"
MUTATING_WEBHOOK = "sap-btp-operator-mutating-webhook-configuration"
VALIDATING_WEBHOOK = "sap-btp-operator-validating-webhook-configuration"
CA_SECRET = "ca-server-cert"  # noqa: S105 - the name of the Secret object, not a secret


def ca_bundle(found: KubeObject | None) -> str:
    """``webhooks[0].clientConfig.caBundle`` (base64), or "" when there is none (as kubectl's jsonpath)."""
    webhooks = (found.body.get("webhooks") or []) if found is not None else []
    return str((webhooks[0].get("clientConfig") or {}).get("caBundle") or "") if webhooks else ""


def _short(bundle: str) -> str:
    """A bundle in a message: its length and a digest, never the whole (it is long, and not a secret)."""
    return f"{len(bundle)} characters, sha256 {hashlib.sha256(bundle.encode()).hexdigest()[:12]}"


def _expect_ca_certificate(bundle: str) -> None:
    """The bundle's first certificate must be a CA's; :class:`CheckFailed` says what it is instead."""
    try:
        pem = base64.b64decode(bundle, validate=True)
    except (binascii.Error, ValueError):
        raise CheckFailed(f"the caBundle is not base64 ({_short(bundle)})") from None
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        held = "a private key" if b"PRIVATE KEY" in pem else "no PEM certificate"
        raise CheckFailed(f"the caBundle of {MUTATING_WEBHOOK} holds {held}, not a CA certificate") from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CheckFailed(
            f"the caBundle of {MUTATING_WEBHOOK} is a certificate for {cert.subject.rfc4514_string()!r} "
            "that is not a CA's (no basicConstraints CA:TRUE)"
        )


def _await_bundle(
    run: ScenarioRun, kind: str, name: str, wanted: Callable[[str], bool], what: str, old: str
) -> str:
    """Await a caBundle of the webhook configuration ``kind``/``name`` that ``wanted`` accepts."""

    def probe() -> Poll[str]:
        found = run.kube.get(WEBHOOK_API, kind, name)
        bundle = ca_bundle(found)
        if found is None:
            state = f"{kind} {name} not found"
        elif not bundle:
            state = "no caBundle"
        else:
            state = f"caBundle of {_short(bundle)}" + (", the old one" if bundle == old else "")
        return Poll(wanted(bundle), bundle, state)

    return wait_until(
        probe,
        what=f"the caBundle of {kind} {name} {what}",
        policy=run.policy(run.settings.cert_rotation_timeout),
        clock=run.kube.clock,
        sleeper=run.kube.sleeper,
    )


def ca_rotation(run: ScenarioRun, module: BtpOperatorModule) -> None:
    """``ca-server-cert`` deleted: re-created, the webhooks' caBundle rotated to the new CA, CR Ready."""
    with run.step(f"MutatingWebhookConfiguration {MUTATING_WEBHOOK} has a caBundle"):
        before = ca_bundle(run.kube.get(WEBHOOK_API, "MutatingWebhookConfiguration", MUTATING_WEBHOOK))
        if not before:
            raise CheckFailed(
                f"MutatingWebhookConfiguration {MUTATING_WEBHOOK} is missing or has no "
                "webhooks[0].clientConfig.caBundle: btp-manager did not prepare its webhooks"
            )
    with run.step(f"delete Secret {CA_SECRET}: re-created (a new UID)"):
        secret = run.kube.get("v1", "Secret", CA_SECRET, NAMESPACE)
        if secret is None:
            raise CheckFailed(f"Secret {NAMESPACE}/{CA_SECRET} does not exist: there is no CA to rotate")
        uid = str(secret.metadata.get("uid"))
        run.kube.delete("v1", "Secret", CA_SECRET, NAMESPACE)
        run.kube.wait_for(
            "v1",
            "Secret",
            CA_SECRET,
            NAMESPACE,
            lambda s: s is not None and str(s.metadata.get("uid")) != uid and not s.deleting,
            what=f"Secret {NAMESPACE}/{CA_SECRET} to be re-created (a new UID)",
            policy=run.policy(run.settings.cert_rotation_timeout),
        )
    with run.step(f"the caBundle of {MUTATING_WEBHOOK} changes to a new CA certificate"):
        after = _await_bundle(
            run,
            "MutatingWebhookConfiguration",
            MUTATING_WEBHOOK,
            lambda bundle: bool(bundle) and bundle != before,
            "to change",
            before,
        )
        _expect_ca_certificate(after)
    with run.step(f"the caBundle of {VALIDATING_WEBHOOK} is the same"):
        _await_bundle(
            run,
            "ValidatingWebhookConfiguration",
            VALIDATING_WEBHOOK,
            lambda bundle: bundle == after,
            "to be the mutating one's",
            before,
        )
    namespace, name = module.cr_ref
    with run.step(f"BtpOperator {namespace}/{name} {READY} after the certificate rotation"):
        wait_cr(run, module, cr_ready, READY, run.settings.ready_timeout)
