"""btp-manager's configuration reaching the operand, as its run-e2e-tests job checks it (at c70cd184).

``EnableLimitedCache`` in btp-manager's ConfigMap ``kyma-system/sap-btp-manager`` (default ``"true"``) is
copied into the operand's ConfigMap ``sap-btp-operator-config`` as ``ENABLE_LIMITED_CACHE`` at the next
reconcile; the real job gives it 60 s each way. btp-manager sees its ConfigMap only labelled
``app.kubernetes.io/managed-by: btp-manager`` (or the environment broker's value); when there is none, the
check makes one and removes it afterwards.
"""

from __future__ import annotations

from btp_release.e2e.btp_checks import CONFIG_MAP, CONFIG_MAP_LABELS, NAMESPACE
from btp_release.e2e.scenarios import ScenarioRun
from btp_release.errors import CheckFailed

__all__ = ["OPERAND_CONFIG", "limited_cache"]

OPERAND_CONFIG = "sap-btp-operator-config"
SETTING, OPERAND_KEY = "EnableLimitedCache", "ENABLE_LIMITED_CACHE"


def _operand_value(run: ScenarioRun) -> str | None:
    found = run.kube.get("v1", "ConfigMap", OPERAND_CONFIG, NAMESPACE)
    return None if found is None else (found.body.get("data") or {}).get(OPERAND_KEY)


def _propagated(run: ScenarioRun, value: str) -> None:
    run.kube.wait_for(
        "v1",
        "ConfigMap",
        OPERAND_CONFIG,
        NAMESPACE,
        lambda found: found is not None and (found.body.get("data") or {}).get(OPERAND_KEY) == value,
        what=f"{OPERAND_KEY}={value} in ConfigMap {NAMESPACE}/{OPERAND_CONFIG}",
        policy=run.policy(run.settings.limited_cache_timeout),
    )


def limited_cache(run: ScenarioRun) -> None:
    """Default true; false and back to true, each reaching the operand's config."""
    with run.step(f"{OPERAND_KEY} in ConfigMap {OPERAND_CONFIG} is true (the default)"):
        if (value := _operand_value(run)) != "true":
            raise CheckFailed(f"{OPERAND_KEY} in {NAMESPACE}/{OPERAND_CONFIG} is {value!r}, expected 'true'")
    made = run.kube.get("v1", "ConfigMap", CONFIG_MAP, NAMESPACE) is None
    for value in ("false", "true"):
        with run.step(
            f"{SETTING}={value} in ConfigMap {CONFIG_MAP}: {OPERAND_KEY}={value} in {OPERAND_CONFIG}"
        ):
            if run.kube.get("v1", "ConfigMap", CONFIG_MAP, NAMESPACE) is None:
                run.kube.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE, "labels": CONFIG_MAP_LABELS},
                        "data": {SETTING: value},
                    }
                )
            else:  # a merge patch keeps the other settings (HardDeleteTimeout for dummy credentials)
                patch = {"metadata": {"labels": CONFIG_MAP_LABELS}, "data": {SETTING: value}}
                run.kube.merge_patch("v1", "ConfigMap", CONFIG_MAP, NAMESPACE, patch)
            _propagated(run, value)
    if made:
        with run.step(f"remove ConfigMap {CONFIG_MAP} (made for this check)"):
            run.kube.delete("v1", "ConfigMap", CONFIG_MAP, NAMESPACE)
