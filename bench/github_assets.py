"""Peak memory and throughput of streaming asset upload and download, client process only.

The GitHub simulator runs in this process; the client runs in a child process whose peak RSS
(``ru_maxrss``) is measured, so the simulator's own copy of the asset does not count. Run with
``nox -s bench`` or ``python bench/github_assets.py --size-mib 256``. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from btp_release.testing import GitHubSimulator

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from btp_release import GitHubClient

api, token, path = sys.argv[1:4]
with GitHubClient("kyma-project/btp-manager", token=token, api_url=api) as github:
    draft = github.create_draft_release("1.0.0", target_commitish=github.resolve_commit("main"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    asset = github.upload_asset(draft, Path(path))
    upload = time.perf_counter() - start
    after_upload = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    github.download_asset(asset, Path(path + ".down"))
    download = time.perf_counter() - start
    after_download = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_before_kib": before, "rss_after_upload_kib": after_upload,
                  "rss_after_download_kib": after_download, "upload_s": upload, "download_s": download}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, GitHubSimulator() as sim:
        path = Path(scratch) / "big.bin"
        block = os.urandom(1 << 20)
        with path.open("wb") as handle:
            for _ in range(args.size_mib):
                handle.write(block)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, sim.api_url, sim.token, str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        result = json.loads(done.stdout)
        if (Path(scratch) / "big.bin.down").read_bytes()[-(1 << 20) :] != block:
            raise SystemExit("downloaded content differs")
    size = args.size_mib
    result |= {
        "size_mib": size,
        "peak_growth_upload_mib": (result["rss_after_upload_kib"] - result["rss_before_kib"]) / 1024,
        "peak_growth_download_mib": (result["rss_after_download_kib"] - result["rss_before_kib"]) / 1024,
        "upload_mib_s": size / result["upload_s"],
        "download_mib_s": size / result["download_s"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
