"""Command-line adapter over :class:`btp_release.oci.RegistryClient` for the shared OCI benchmark harness.

The harness (``shared/bench/oci``) runs every client as a whole process from a command template
(``bench/oci.toml``); this file only translates arguments, all the work is the library's:

  push REF FILE...            push_files: the files as layers (titled), an empty config, the manifest
  pull REF -o OUT             pull_artifact: every blob into OUT, each verified
  tags REPO                   list_tags: prints "<count> tags" (following Link pages)
  wait REF --interval-ms N    wait_for_tag: one HEAD every N ms, prints "found"

REF is ``host:port/repository:tag``, REPO ``host:port/repository``; loopback registries use plain HTTP.
Start-up is most of a small artifact's time, so the arguments are parsed by hand (argparse alone
costs ~10 ms of imports) and nothing is imported that the library does not load anyway.
"""

from __future__ import annotations

import sys
from pathlib import Path

from btp_release.oci.model import Reference
from btp_release.oci.registry import RegistryClient
from btp_release.wait import WaitPolicy

LAYER = "application/vnd.oci.image.layer.v1.tar"


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "push" and len(args) >= 2:
        ref = Reference.parse(args[0])
        with RegistryClient(ref.registry) as client:
            _, pushed = client.push_files(ref, [Path(name) for name in args[1:]], LAYER)
        print(pushed.digest)
    elif command == "pull" and len(args) == 3 and args[1] == "-o":
        ref = Reference.parse(args[0])
        with RegistryClient(ref.registry) as client:
            client.pull_artifact(ref, Path(args[2]))
    elif command == "tags" and len(args) == 1:
        host, _, repository = args[0].partition("/")
        with RegistryClient(host) as client:
            print(f"{len(client.list_tags(repository))} tags")
    elif command == "wait" and len(args) == 3 and args[1] == "--interval-ms":
        ref = Reference.parse(args[0])
        policy = WaitPolicy(timeout=120, interval=float(args[2]) / 1000, backoff=1)
        with RegistryClient(ref.registry) as client:
            client.wait_for_tag(ref, policy)
        print("found", flush=True)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
