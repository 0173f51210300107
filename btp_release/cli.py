"""``btp-release``: a thin command line over the library.

Commands: one per stage (``validate``, ``draft``, ``build``, ``upload``, ``await``, ``e2e``,
``publish``), the pull requests to the module-manifests repository after it (``submit``, ``promote``,
``withdraw``), ``run`` (all of them, or ``--snapshot``: everything into ``./dist`` without network),
``plan`` (what each stage would do now; changes nothing), ``replace`` (preview, ``--yes`` to delete
the release and its tag), ``rehearse`` (the GitHub half against the built-in simulator), and for
E2E ``test-module`` (the scenarios on the cluster of a kubeconfig), ``k3s-versions`` and ``k3s-up``;
``release-meta`` writes a module's ModuleReleaseMeta (channel → version) from its channel mapping.

Exit codes: 0 success; 1 other btp_release error; 2 invalid input or configuration; 3 not found;
4 conflict or already exists; 5 authentication/permission; 6 transient (network, 5xx); 7 rate
limited; 8 timeout; 9 a required check or E2E failed; 10 image build failed; 11 digest mismatch;
12 the preflight found several problems (each listed);
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from btp_release.cli_e2e import E2E_COMMANDS, add_e2e_commands, read_input, run_e2e_command
from btp_release.errors import BtpReleaseError, InvalidInput
from btp_release.redaction import RedactingFilter, redact

__all__ = ["build_parser", "main"]

STAGE_COMMANDS = ("validate", "draft", "build", "upload", "await", "e2e", "publish")
# Outputs for $GITHUB_OUTPUT, in the order they are documented.
OUTPUTS = (
    "release_id",
    "release_url",
    "commit",
    "module_digest",
    "image_digest",
    "snapshot_dir",
    "e2e",
    "pull_request_url",
    "pull_request_number",
    "manifests_verdict",
)
MANIFESTS_COMMANDS = ("submit", "promote", "withdraw")


def _add_release_options(parser: argparse.ArgumentParser, *, without: tuple[str, ...] = ()) -> None:
    from btp_release.config import config_fields

    parser.add_argument("--version", required=True, help="release version X.Y.Z (no leading v)")
    parser.add_argument("--module-dir", default=".", help="module repository root (default: .)")
    parser.add_argument(
        "--config", help="config file (default: btp-release.yaml, else [tool.btp-release] in pyproject.toml)"
    )
    parser.add_argument("--ref", help="branch, tag or SHA to release (default: $GITHUB_SHA, else main)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace registry tags of this (never published) version that hold other content",
    )
    parser.add_argument("--no-docker", action="store_true", help="do not use a Docker daemon")
    settings = parser.add_argument_group("settings (override the config file and BTP_RELEASE_* variables)")
    for name, key, text in config_fields():
        if name == "module_dir" or name in without:
            continue
        settings.add_argument(f"--{key}", dest=f"set_{name}", metavar=name.upper(), help=text)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (also the source of the generated CLI reference in the docs)."""
    parser = argparse.ArgumentParser(prog="btp-release", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "validate": "preflight: inputs, token, registries, daemon, version free (changes nothing)",
        "draft": "create the draft release and the tag",
        "build": "build and push the image and the module; record digests in release-manifest.json",
        "upload": "upload the templates, manifest and default CR rendered from the pushed module",
        "await": "wait for assets, registry tags and required checks (bounded)",
        "e2e": "run the E2E runner on the module and image by digest; record the verdict",
        "publish": "publish the draft if everything still matches what was built and tested",
    }
    for name in STAGE_COMMANDS:
        _add_release_options(commands.add_parser(name, help=helps[name], description=helps[name]))
    run = commands.add_parser("run", help="all stages in order; re-run after any failure to finish")
    _add_release_options(run)
    run.add_argument("--snapshot", action="store_true", help="build everything into a directory, no network")
    run.add_argument("--out", help="snapshot directory (default: the snapshot-dir setting, ./dist)")
    run.add_argument("--commit", help="snapshot: the commit to record (default: git rev-parse HEAD)")
    run.add_argument(
        "--allow-dirty",
        action="store_true",
        help="snapshot: build files that are not a clean checkout of the commit (recorded in the provenance)",
    )
    plan = commands.add_parser("plan", help="what each stage would do now; changes nothing")
    _add_release_options(plan)
    plan.add_argument(
        "--promote",
        action="append",
        default=[],
        metavar="CHANNEL",
        help="also plan the promote of the version to this channel (repeatable)",
    )
    plan.add_argument("--withdraw", action="store_true", help="also plan the withdraw of this version")
    _add_manifests_commands(commands)
    replace = commands.add_parser("replace", help="preview, then (--yes) delete the release and its tag")
    _add_release_options(replace)
    replace.add_argument("--yes", action="store_true", help="really delete (default: only show what)")
    add_e2e_commands(commands)
    rehearse = commands.add_parser(
        "rehearse",
        help="rehearse the GitHub steps of a release against the built-in GitHub simulator",
        description="Tag, draft, upload four assets, wait, publish, find latest, delete — all against "
        "a local GitHub simulator, twice over to show that a re-run changes nothing. "
        "No credentials, no network.",
    )
    rehearse.add_argument("--version", required=True, help="release version, e.g. 1.2.0")
    rehearse.add_argument("--json", action="store_true", help="print the result as JSON")
    rehearse.add_argument("--keep", action="store_true", help="do not delete the release at the end")
    rehearse.add_argument(
        "--module-dir",
        help="rehearse the whole release of this module (its btp-release.yaml) against the GitHub "
        "simulator and a local registry (needs docker-registry), then, for a module with a module-config "
        "or manifests-repo, its submit and promote in a simulated module-manifests repository; without "
        "it: the GitHub half only",
    )
    rehearse.add_argument("--config", help="with --module-dir: the config file")
    rehearse.add_argument("--docker-host", help="with --module-dir: build the image with this daemon")
    _add_release_meta_command(commands)
    return parser


def _add_manifests_commands(commands: Any) -> None:
    helps = {
        "submit": "pull request adding the published version's module-config.yaml to the module-manifests "
        "repository (re-run: the same pull request, updated)",
        "promote": "pull request pointing a channel at the version in the module's module-releases.yaml",
        "withdraw": "pull request removing the version from the module-manifests repository (refused while a "
        "channel points at it)",
    }
    for name in MANIFESTS_COMMANDS:
        parser = commands.add_parser(name, help=helps[name], description=helps[name] + ".")
        # promote's --channel is the channel to promote to; the ModuleTemplate channel setting is not used
        _add_release_options(parser, without=("channel",) if name == "promote" else ())
        parser.add_argument(
            "--dry-run", action="store_true", help="read the catalog and say what it would do; change nothing"
        )
        if name == "promote":
            parser.add_argument("--channel", required=True, help="the channel, e.g. fast or regular")
            parser.add_argument(
                "--allow-downgrade",
                action="store_true",
                help="let the channel go to a lower version (installed modules are not downgraded)",
            )


def _add_release_meta_command(commands: Any) -> None:
    meta = commands.add_parser(
        "release-meta",
        help="write the ModuleReleaseMeta (channel → version) of a module, validated against its CRD",
        description="Render the operator.kyma-project.io/v1beta2 ModuleReleaseMeta that tells "
        "lifecycle-manager which version each channel gets, from a channel mapping "
        "(modules/<short>/module-releases.yaml) and/or --channel NAME=VERSION (which set or add a channel "
        "on top of the file), or --mandatory. Validated against the bundled lifecycle-manager CRD; every "
        "problem is listed, exit 2.",
    )
    meta.add_argument(
        "--module-name",
        required=True,
        help="OCM component name, e.g. kyma-project.io/module/btp-operator (the module is its last element)",
    )
    meta.add_argument("--mapping", metavar="FILE", help="channel mapping file (module-releases.yaml)")
    meta.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME=VERSION",
        help="a channel and its version, e.g. regular=1.3.19 (repeatable; updates or extends --mapping)",
    )
    meta.add_argument("--mandatory", metavar="VERSION", help="a mandatory module's version (no channels)")
    meta.add_argument("--namespace", default="kcp-system", help="metadata.namespace (default: kcp-system)")
    meta.add_argument("--out", metavar="FILE", help="write it to FILE (default: stdout)")
    meta.add_argument("--json", action="store_true", help="JSON instead of YAML")


def _release_meta(args: argparse.Namespace) -> int:
    from btp_release.module.releasemeta import (
        ChannelMapping,
        release_meta_yaml,
        render_release_meta,
        short_name,
    )

    if args.mandatory is not None and (args.mapping or args.channel):
        raise InvalidInput("--mandatory cannot be combined with --mapping or --channel", hint="give one")
    if args.mandatory is None and not (args.mapping or args.channel):
        hint = "give --mapping FILE, --channel NAME=VERSION (repeatable) or --mandatory VERSION"
        raise InvalidInput("no channels given", hint=hint)
    mapping = ChannelMapping.parse(read_input(args.mapping), file=args.mapping) if args.mapping else None
    if args.channel:
        malformed = ", ".join(repr(item) for item in args.channel if "=" not in item)
        if malformed:
            raise InvalidInput(f"invalid --channel {malformed}", hint="NAME=VERSION, e.g. regular=1.3.19")
        pairs = [item.partition("=")[::2] for item in args.channel]
        given = ChannelMapping.of(pairs, file="--channel")  # every problem of the flags at once
        if mapping is None:
            mapping = given
        else:
            for entry in given.channels:
                mapping = mapping.with_channel(entry.channel, entry.version)
    release_meta = render_release_meta(
        short_name(args.module_name),
        args.module_name,
        mapping,
        mandatory=args.mandatory,
        namespace=args.namespace,
    )
    text = json.dumps(release_meta, indent=2) + "\n" if args.json else release_meta_yaml(release_meta)
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {args.out}: {exc.strerror}") from exc
    spec = release_meta["spec"]
    what = ", ".join(f"{c['channel']}={c['version']}" for c in spec.get("channels", ()))
    what = what or f"mandatory {spec['mandatory']['version']}"
    print(f"wrote ModuleReleaseMeta {release_meta['metadata']['name']} ({what}) to {args.out}")
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    values = {k.removeprefix("set_"): v for k, v in vars(args).items() if k.startswith("set_")}
    return {k: v for k, v in values.items() if v is not None}


def _summary(version: str, results: Sequence[Any]) -> str:
    lines = [f"### btp-release {version}", "", "| stage | result | what happened |", "|---|---|---|"]
    for result in results:
        what = "; ".join(result.actions[-3:]).replace("|", "\\|") or "-"
        lines.append(f"| {result.stage} | {result.status} | {what} |")
    return "\n".join(lines) + "\n"


def _release_command(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from btp_release.actions import Actions, Console, WarningsToConsole
    from btp_release.config import load_config
    from btp_release.pipeline import ReleasePipeline
    from btp_release.secret import Secret

    # The runner reads workflow commands on stderr too; with --json, stdout is the document alone.
    actions = Actions.from_environ(environ, stream=err if args.json else out)
    secrets = ("GITHUB_TOKEN", "GH_TOKEN", "BTP_RELEASE_MANIFESTS_TOKEN", "BTP_RELEASE_REGISTRY_PASSWORD")
    for name in (*secrets, "SM_CLIENT_SECRET"):
        if environ.get(name):
            actions.mask(Secret(environ[name]))
    console = Console(actions, as_json=args.json, out=out, err=err)
    library_log = logging.getLogger("btp_release")
    handler = WarningsToConsole(console)
    if not args.verbose:
        library_log.addHandler(handler)
        library_log.propagate = False
    results: list[Any] = []
    error: BtpReleaseError | None = None
    try:
        snapshot = args.command == "run" and args.snapshot
        if getattr(args, "allow_dirty", False) and not snapshot:
            raise InvalidInput(
                "--allow-dirty is only for snapshots (--snapshot)",
                hint="a real release is built from a clean checkout of the commit it records",
            )
        config = load_config(
            args.module_dir, config_file=args.config, environ=environ, overrides=_overrides(args)
        )
        with ReleasePipeline.from_config(
            config,
            args.version,
            environ=environ,
            ref=args.ref,
            overwrite=args.overwrite,
            docker=not args.no_docker,
            github=not snapshot,
            reporter=console,
        ) as pipeline:
            if snapshot:
                target = Path(args.out) if args.out else None
                results.append(pipeline.snapshot(target, commit=args.commit, allow_dirty=args.allow_dirty))
            elif args.command == "run":
                pipeline.run(on_result=results.append)
            elif args.command == "plan":
                results.extend(pipeline.plan(channels=args.promote, withdraw=args.withdraw))
            elif args.command == "submit":
                results.append(pipeline.submit(dry_run=args.dry_run))
            elif args.command == "promote":
                promote = pipeline.promote(
                    args.channel, allow_downgrade=args.allow_downgrade, dry_run=args.dry_run
                )
                results.append(promote)
            elif args.command == "withdraw":
                results.append(pipeline.withdraw(dry_run=args.dry_run))
            elif args.command == "replace":
                results.append(pipeline.replace(dry_run=not args.yes))
            else:
                results.append(pipeline.stage(args.command))
    except BtpReleaseError as exc:
        error = exc
        console.end_group()  # the annotation must not sit inside the failed stage's collapsed group
        if actions.enabled:  # elsewhere the "error:" line on stderr reports it, once
            actions.error(str(exc), title=f"btp-release {args.command} failed")
    finally:
        library_log.removeHandler(handler)
        library_log.propagate = True
    outputs: dict[str, str] = {}
    for result in results:
        outputs.update({k: v for k, v in result.outputs.items() if v})
    for name in OUTPUTS:
        if name in outputs:
            actions.set_output(name, outputs[name])
    if results or error:
        actions.summary(_summary(args.version, results) + (f"\n**Failed:** {error}\n" if error else ""))
    if args.json:
        document = {
            "command": args.command,
            "version": args.version,
            "results": [r.to_json() for r in results],
            "outputs": outputs,
            "error": None
            if error is None
            else {"type": type(error).__name__, "message": error.message, "hint": error.hint},
        }
        out.write(redact(json.dumps(document, indent=2)) + "\n")
    elif error is None:
        console.write(_human_result(args.command, results, outputs))
    if error is not None:
        err.write(redact(f"error: {error}\n"))
        return error.exit_code
    return 0


def _human_result(command: str, results: Sequence[Any], outputs: Mapping[str, str]) -> str:
    if command == "replace" and results and results[0].status == "planned":
        return "nothing was deleted; run again with --yes to do the above\n"
    if command in MANIFESTS_COMMANDS and results and results[0].status == "planned":
        return "nothing was changed (--dry-run): the steps above are what it would do\n"
    shown = ", ".join(f"{k}={outputs[k]}" for k in OUTPUTS if k in outputs)
    done = f"done: {command}" + (f" ({shown})" if shown else "") + "\n"
    if "release_meta" in outputs:  # promote: the ModuleReleaseMeta the mapping gives, checked
        from btp_release.module.releasemeta import release_meta_yaml

        done += "the channel mapping gives this ModuleReleaseMeta:\n" + release_meta_yaml(
            json.loads(outputs["release_meta"])
        )
    return done


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:  # whatever a library logs, no secret gets through
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    try:
        if args.command == "rehearse" and (args.module_dir or args.config):
            from btp_release.config import load_config
            from btp_release.testing.rehearsal import rehearse_release

            config = load_config(args.module_dir or ".", config_file=args.config, environ={})
            results = rehearse_release(
                config,
                args.version,
                say=(lambda _: None) if args.json else print,
                docker_host=args.docker_host,
            )
            if args.json:
                print(json.dumps([r.to_json() for r in results], indent=2))
            return 0
        if args.command == "rehearse":
            from btp_release.testing.rehearsal import rehearse

            result = rehearse(
                args.version, say=(lambda _: None) if args.json else print, cleanup=not args.keep
            )
            if args.json:
                print(json.dumps(attrs.asdict(result), indent=2))
            return 0
        if args.command in E2E_COMMANDS:
            return run_e2e_command(args, env)
        if args.command == "release-meta":
            return _release_meta(args)
        return _release_command(args, env, sys.stdout, sys.stderr)
    except BtpReleaseError as exc:
        print(redact(f"error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: report it with its traceback (which may quote a secret: redacted)
        import traceback

        print(redact(traceback.format_exc()), file=sys.stderr, end="")
        print("error: internal error in btp-release (a bug; please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
