"""`python -m bench.profile [--n 200] [--hook patient-view] [--calls 200]`: where a hook call goes.

Profiles the whole service path in-process with pyinstrument: the real Flask app from
`create_app` (with a throw-away SQLite store), called through its WSGI test client, so
request handling, validation, evaluation, card rendering and the ledger are all in the
profile; only the socket is not. Prints the top frames by own time, then the call tree.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any

import orjson
from pyinstrument import Profiler

from bench.synthetic import SERVICE_OF, hook_request


def _own_times(frame: Any, totals: dict[str, float]) -> None:
    """Self time per function (a frame's self time already holds its synthetic children)."""
    key = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
    totals[key] = totals.get(key, 0.0) + frame.total_self_time
    for child in frame.children:
        if not child.is_synthetic:
            _own_times(child, totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="lab Observations in the history")
    parser.add_argument("--hook", default="patient-view", choices=sorted(SERVICE_OF))
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--tree", action="store_true", help="also print the call tree")
    args = parser.parse_args(argv)

    from cds_service.edge.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        app = create_app(
            {
                "auth": "none",
                "database_url": f"sqlite:///{folder}/p.sqlite3",
                "log_level": "WARNING",
            }
        )
        client = app.test_client()
        body = orjson.dumps(hook_request(args.hook, args.n))
        path = f"/cds-services/{SERVICE_OF[args.hook]}"
        headers = {"Content-Type": "application/json"}
        for _ in range(5):
            status = client.post(path, data=body, headers=headers).status_code
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.calls):
            client.post(path, data=body, headers=headers)
        session = profiler.stop()
    root = profiler.last_session and session.root_frame()
    totals: dict[str, float] = {}
    if root is not None:
        _own_times(root, totals)
    duration = session.duration
    print(
        f"# {args.calls} calls of {args.hook} at N={args.n}: "
        f"{1000 * duration / args.calls:.2f} ms per call (profiled)"
    )
    print(f"# top {args.top} frames by own time")
    for key, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[: args.top]:
        print(
            f"{100 * seconds / duration:6.1f}%  {1000 * seconds / args.calls:7.3f} ms/call  {key}"
        )
    if args.tree:
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
