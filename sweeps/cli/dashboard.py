"""``cocktail dashboard DIR``: a sweep's viewers (Optuna, TensorBoard, MLflow) on one host until Ctrl-C."""
from __future__ import annotations

import argparse

from ftlib.cli.args import at_least


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="open a sweep's viewers: optuna-dashboard, TensorBoard, the MLflow UI")
    p.add_argument("dir", help="a sweep directory (outputs/sweeps/<name>), running or finished")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=at_least(1), default=None,
                   help="first of three ports, one per viewer (default: free ones)")
    p.set_defaults(handler=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    from sweeps.dashboard import serve  # deferred: the sweep reader's pyarrow and pydantic models, 0.5 s

    return serve(args.dir, args.host, args.port)
