"""``btp-release``: a thin command line over the library.

Exit codes: 0 success; 1 other btp_release error; 2 invalid input; 3 not found; 4 conflict or
already exists; 5 authentication/permission; 6 transient (network, 5xx); 7 rate limited;
8 timeout; 9 a required check failed; 10 image build failed; 11 digest mismatch;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

import attrs

from btp_release.errors import BtpReleaseError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="btp-release", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "rehearse":
            from btp_release.testing.rehearsal import rehearse

            result = rehearse(
                args.version, say=(lambda _: None) if args.json else print, cleanup=not args.keep
            )
            if args.json:
                print(json.dumps(attrs.asdict(result), indent=2))
        return 0
    except BtpReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
