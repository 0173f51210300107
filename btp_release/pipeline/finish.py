"""The stages that finish a release: await (the assets, the registry tags and the required checks),
e2e (the E2E runner on the digests that were built) and publish.

Each decides on what GitHub and the registries hold now, never on what an earlier stage saw: a tag
pushed over or an asset replaced after the build stops the release before it is published.
"""

from __future__ import annotations

import attrs

from btp_release.errors import CheckFailed, DigestMismatch, InvalidInput, NotFound
from btp_release.github import Release
from btp_release.oci import Reference
from btp_release.pipeline.context import ReleaseContext
from btp_release.pipeline.outcomes import StageLog, StageResult
from btp_release.pipeline.provenance import PROVENANCE_ASSET, E2ERecord, Provenance
from btp_release.pipeline.records import put_provenance, registry_digest
from btp_release.pipeline.runner import E2ERequest
from btp_release.wait import Poll, wait_until

__all__ = ["await_stage", "e2e", "publish"]


def await_stage(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Wait (bounded, one overall deadline) for the assets, both registry tags with the recorded
    digests, and the required commit statuses / check runs."""
    run = StageLog(ctx, "await", dry_run=dry_run)
    release = ctx.require_release("await")
    provenance = ctx.require_provenance("await")
    names = list(ctx.release_assets())
    if dry_run:
        run.act(f"wait for assets {', '.join(names)}", lambda: None)
        if ctx.config.build_image:
            run.act(f"wait for {ctx.module_ref} and {ctx.image_ref}", lambda: None)
        else:
            images = ", ".join(provenance.images) or "none"
            run.act(f"wait for {ctx.module_ref} and the images built elsewhere: {images}", lambda: None)
        if ctx.config.required_checks:
            run.act(f"wait for checks {', '.join(ctx.config.required_checks)}", lambda: None)
        return run.result()
    clock = ctx.github.clock
    deadline = clock() + ctx.config.await_timeout

    if release.draft:
        found = ctx.github.wait_for_assets(
            release,
            names,
            policy=ctx.wait_policy(deadline - clock()),
            on_progress=ctx.progress("await", "assets"),
        )
        run.note(f"assets present: {', '.join(found)}")
    for record in (provenance.module, provenance.image):
        if not record.reference:  # no release image: the manifest's images are built elsewhere
            continue
        if record.digest is None:
            run.warn(f"{record.reference} has no recorded digest; not awaited")
            continue
        ref = Reference.parse(record.reference)
        expected = record.digest

        def probe(ref: Reference = ref, expected: str = expected) -> Poll[str]:
            found = ctx.registry(ref.registry).head_manifest(ref)
            if found is not None and found.digest != expected:
                raise DigestMismatch(
                    f"{ref} has digest {found.digest}, but the build recorded {expected}",
                    hint="the tag was overwritten after the build; re-run the build stage",
                )
            return Poll(found is not None, expected, f"{ref} {'present' if found else 'not found'}")

        wait_until(
            probe,
            what=f"{ref} in the registry",
            policy=ctx.wait_policy(deadline - clock()),
            clock=clock,
            sleeper=ctx.github.sleeper,
            on_progress=ctx.progress("await", str(ref)),
        )
        run.note(f"{ref} present with {expected}")
    if not ctx.config.build_image:
        for image in provenance.images:
            digest = _await_image(ctx, image, deadline)
            run.note(f"{image} present ({digest})")
    if ctx.config.required_checks:
        states = ctx.github.wait_for_checks(
            provenance.commit,
            ctx.config.required_checks,
            policy=ctx.wait_policy(deadline - clock()),
            on_progress=ctx.progress("await", "checks"),
        )
        run.note("checks passed: " + ", ".join(states))
    return run.result()


def _await_image(ctx: ReleaseContext, image: str, deadline: float) -> str:
    """Wait for an image the manifest deploys but no stage here builds (its own workflow pushes it):
    a release must not publish a manifest whose images cannot be pulled. Returns its digest."""
    ref = Reference.from_image_name(image)

    def probe() -> Poll[str]:
        client = ctx.registry(ref.registry)  # may be a mirror (a rehearsal's local registry)
        found = client.head_manifest(attrs.evolve(ref, registry=client.host))
        digest = found.digest if found is not None else ""
        return Poll(found is not None, digest, f"{ref} {'present' if found else 'not found'}")

    clock = ctx.github.clock
    digest: str = wait_until(
        probe,
        what=f"image {image} (built elsewhere) in its registry",
        policy=ctx.wait_policy(deadline - clock()),
        clock=clock,
        sleeper=ctx.github.sleeper,
        on_progress=ctx.progress("await", image),
    )
    return digest


def _verify_registry(ctx: ReleaseContext, provenance: Provenance) -> None:
    """Every recorded digest is still what its tag points at (publish what was tested)."""
    for record in (provenance.module, provenance.image):
        if record.digest is None:
            continue
        ref = Reference.parse(record.reference)
        current = registry_digest(ctx, ref)
        if current is None:
            raise NotFound(f"{ref} is gone from the registry", hint="re-run the build stage")
        if current != record.digest:
            raise DigestMismatch(
                f"{ref} now has digest {current}, but {record.digest} was built and recorded",
                hint="someone pushed over the tag; re-run the build (and E2E) stages",
            )


def e2e(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Run the E2E runner on the module and image *by digest*; record its verdict in the provenance.

    A verdict already recorded as passed for exactly these digests is not run again. A failed run
    is recorded too and raises :class:`CheckFailed`.
    """
    run = StageLog(ctx, "e2e", dry_run=dry_run)
    runner = ctx.e2e_runner
    if runner is None:
        if ctx.config.e2e_required:
            raise InvalidInput("no E2E runner configured", hint="set e2e-runner or e2e-required: false")
        run.note("no E2E runner configured and E2E not required: skipped")
        return run.result(skipped=True)
    release = ctx.require_release("e2e")
    provenance = ctx.require_provenance("e2e")
    if runner.name in provenance.e2e_passed():
        run.note(f"E2E {runner.name} already passed on these digests")
        return run.result()
    if provenance.module.digest is None:
        raise NotFound(f"{PROVENANCE_ASSET} records no module digest", hint="re-run the build stage")
    _verify_registry(ctx, provenance)
    module = Reference.parse(provenance.module.reference).with_digest(provenance.module.digest)
    image = None
    if provenance.image.digest:
        image = str(Reference.parse(provenance.image.reference).with_digest(provenance.image.digest))
    previous = ctx.latest_published()
    upgrade_from = None
    if previous is not None:
        upgrade_from = str(ctx.module_ref.with_tag(f"v{previous.tag_name.removeprefix('v')}"))
    request = E2ERequest(
        version=str(ctx.version),
        module_reference=str(module),
        image_reference=image,
        credentials=ctx.config.credentials,
        upgrade_from=upgrade_from,
        workdir=ctx.workdir / "e2e" / runner.name,
        manager=ctx.config.module_config.manager if ctx.config.module_config else None,
    )
    outcome = run.act(f"run E2E {runner.name} on {module}", lambda: runner.run(request))
    if outcome is None:
        return run.result()
    record = E2ERecord(
        result="passed" if outcome.passed else "failed",
        module_digest=provenance.module.digest,
        image_digest=provenance.image.digest,
        summary=outcome.summary,
        at=ctx.timestamp(),
    )
    put_provenance(ctx, run, release, provenance.with_e2e(runner.name, record))
    if not outcome.passed:
        raise CheckFailed(
            f"E2E {runner.name} failed on {module}: {outcome.summary}",
            hint=f"see {outcome.report}" if outcome.report else "see the runner's output",
        )
    run.outputs["e2e"] = record.result
    return run.result()


def _check_assets(release: Release, provenance: Provenance, names: tuple[str, ...]) -> None:
    problems = []
    for name in names:
        asset = release.asset(name)
        if asset is None or not asset.complete:
            problems.append(f"{name} missing")
        elif name in provenance.assets and asset.digest and asset.digest != provenance.assets[name]:
            problems.append(f"{name} is {asset.digest}, recorded {provenance.assets[name]}")
    if problems:
        raise DigestMismatch(
            f"release {release.tag_name} assets do not match the build: {'; '.join(problems)}",
            hint="re-run the upload stage",
        )


def publish(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Publish the draft — only if the registries and the assets still hold exactly what was built,
    E2E passed on those digests (when required) and the required checks passed."""
    run = StageLog(ctx, "publish", dry_run=dry_run)
    ctx.refresh()  # decide on fresh state only
    release = ctx.require_release("publish")
    provenance = ctx.require_provenance("publish")
    _verify_registry(ctx, provenance)
    if not release.draft:
        run.note(f"release {ctx.tag} is published ({release.html_url}) and matches its build")
        run.outputs.update(release_id=str(release.id), release_url=release.html_url)
        return run.result()
    _check_assets(release, provenance, ctx.release_assets())
    if ctx.config.e2e_required:
        passed = provenance.e2e_passed()
        if not passed:
            failed = [n for n, r in provenance.e2e.items() if r.result == "failed"]
            raise CheckFailed(
                f"no E2E run passed on module {provenance.module.digest}"
                + (f" (failed: {', '.join(failed)})" if failed else ""),
                hint="run the e2e stage; publishing untested digests is refused",
            )
        run.note(f"E2E passed on these digests: {', '.join(passed)}")
    if ctx.config.required_checks:
        states = ctx.github.check_states(provenance.commit, ctx.config.required_checks)
        bad = {c: s for c, s in states.items() if s != "success"}
        if bad:
            raise CheckFailed(
                "required checks not passed: " + ", ".join(f"{c}={s}" for c, s in bad.items()),
                hint="wait for them (await stage) or fix the failing job",
            )
    published = run.act(f"publish release {ctx.tag}", lambda: ctx.github.publish_release(release))
    final = published or release
    if published is not None:
        ctx.remember(release=published)
    run.outputs.update(release_id=str(final.id), release_url=final.html_url)
    return run.result()
