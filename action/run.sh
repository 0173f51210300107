#!/usr/bin/env bash
# The action's one step: turn the INPUT_* variables (set from the action's inputs through env:, never
# interpolated into this script) into btp-release's argv, and run it. Outputs, annotations, the step
# summary and the masking of tokens are the CLI's own (it detects GitHub Actions).
set -euo pipefail

# The module-manifests repository's token reaches the CLI under the one name it reads, and under no other
# name; an empty input leaves a BTP_RELEASE_MANIFESTS_TOKEN from the caller's env: as it is. Never printed.
if [ -n "${INPUT_MANIFESTS_TOKEN:-}" ]; then export BTP_RELEASE_MANIFESTS_TOKEN="$INPUT_MANIFESTS_TOKEN"; fi
unset INPUT_MANIFESTS_TOKEN

command="${INPUT_COMMAND:?the command input is required}"
args=("$command")
case "$command" in
    validate|draft|build|upload|await|e2e|publish|run|plan|replace)
        args+=(--version "${INPUT_VERSION:?the version input is required for $command}")
        args+=(--module-dir "${INPUT_MODULE_DIR:-.}" --credentials "${INPUT_CREDENTIALS:-dummy}")
        if [ -n "${INPUT_CONFIG:-}" ]; then args+=(--config "$INPUT_CONFIG"); fi
        if [ -n "${INPUT_REF:-}" ]; then args+=(--ref "$INPUT_REF"); fi
        if [ "${INPUT_OVERWRITE:-false}" = "true" ]; then args+=(--overwrite); fi
        if [ "$command" = "run" ] && [ "${INPUT_SNAPSHOT:-false}" = "true" ]; then args+=(--snapshot); fi
        if [ "$command" = "replace" ] && [ "${INPUT_CONFIRM:-false}" = "true" ]; then args+=(--yes); fi
        # plan's --channel is the ModuleTemplate channel setting; --promote CHANNEL plans the promote.
        if [ "$command" = "plan" ] && [ -n "${INPUT_CHANNEL:-}" ]; then args+=(--promote "$INPUT_CHANNEL"); fi
        ;;
    submit|promote|withdraw)
        # Pull requests to the module-manifests repository: no E2E and no registry writes, so neither
        # --credentials (an E2E setting; the flag would override the config file's) nor --overwrite.
        args+=(--version "${INPUT_VERSION:?the version input is required for $command}")
        args+=(--module-dir "${INPUT_MODULE_DIR:-.}")
        if [ -n "${INPUT_CONFIG:-}" ]; then args+=(--config "$INPUT_CONFIG"); fi
        if [ -n "${INPUT_REF:-}" ]; then args+=(--ref "$INPUT_REF"); fi
        if [ "$command" = "promote" ]; then
            args+=(--channel "${INPUT_CHANNEL:?the channel input is required for promote}")
            if [ "${INPUT_ALLOW_DOWNGRADE:-false}" = "true" ]; then args+=(--allow-downgrade); fi
        fi
        ;;
    test-module)
        if [ -z "${INPUT_MODULE:-}" ] && [ -z "${INPUT_MODULE_CONFIG:-}" ]; then
            echo "::error title=btp-release::test-module needs the module input, the module-config input, or both"
            exit 2
        fi
        if [ -n "${INPUT_MODULE:-}" ]; then args+=(--module "$INPUT_MODULE"); fi
        if [ -n "${INPUT_MODULE_CONFIG:-}" ]; then args+=(--module-config "$INPUT_MODULE_CONFIG"); fi
        IFS=',' read -ra scenarios <<< "${INPUT_SCENARIOS:-}"
        for scenario in "${scenarios[@]}"; do
            scenario="${scenario//[[:space:]]/}"
            if [ -n "$scenario" ]; then args+=(--scenario "$scenario"); fi
        done
        args+=(--credentials "${INPUT_CREDENTIALS:-dummy}")
        if [ -n "${INPUT_PREVIOUS:-}" ]; then args+=(--previous "$INPUT_PREVIOUS"); fi
        if [ -n "${INPUT_K3S_VERSION:-}" ]; then args+=(--kubeconfig /etc/rancher/k3s/k3s.yaml); fi
        ;;
    *)
        echo "::error title=btp-release::unknown command '$command'"
        exit 2
        ;;
esac
exec btp-release "${args[@]}"
