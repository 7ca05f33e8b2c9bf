"""``python -m hvsim serve``: run a lab behind WinRM listeners until SIGTERM/SIGINT.

Prints the URLs per host, the credentials and the CA path, and writes them to
``STATE_DIR/endpoint.json`` for Makefiles and playbooks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import typing as t


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hvsim", description="hvsim: a local Hyper-V lab over WinRM")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a lab on 127.0.0.1")
    serve.add_argument("--lab", default="demo", help="lab name (demo, fleet, ...) or YAML path")
    serve.add_argument("--state-dir", required=True, help="where the lab state, TLS files and endpoint.json live")
    serve.add_argument("--time-scale", type=float, default=1.0, help="simulated durations x this (0 = instant)")
    scheme = serve.add_mutually_exclusive_group()
    scheme.add_argument("--https", dest="schemes", action="store_const", const="https", help="HTTPS listeners only")
    scheme.add_argument("--http", dest="schemes", action="store_const", const="http", help="HTTP listeners only")
    serve.add_argument("--port-base", type=int, default=0, help="first port (consecutive per host/scheme); 0 = free ports")
    serve.add_argument("--allow-unencrypted", action="store_true", help="accept unencrypted SOAP (Basic) over HTTP")
    serve.add_argument("--no-basic", action="store_true", help="refuse Basic authentication")
    serve.add_argument("--enforce-cbt", action="store_true", help="require NTLM channel binding over HTTPS (Strict)")
    serve.add_argument("--fault", action="append", default=[], metavar="SPEC",
                       help="KIND[:k=v,...], e.g. drop_after_mutation:count=1, latency:seconds=0.2, vss_failure:vm=dc01")
    serve.add_argument("--lab-param", action="append", default=[], metavar="K=V", help="lab parameters (fleet: hosts=, vms=)")
    serve.add_argument("--verbose", action="store_true")
    return parser


def serve(args: argparse.Namespace) -> int:
    from hvsim._paths import ensure_collection_importable

    ensure_collection_importable()
    from hvsim.fixture import start_hvsim
    from hvsim.server import write_endpoint_file

    os.makedirs(args.state_dir, exist_ok=True)
    lab_params = {}
    for item in args.lab_param:
        key, _, value = item.partition("=")
        lab_params[key] = value
    schemes = args.schemes
    server = start_hvsim(
        args.lab,
        state_dir=os.path.abspath(args.state_dir),
        time_scale=args.time_scale,
        lab_params=lab_params,
        http=schemes in (None, "http"),
        https=schemes in (None, "https"),
        basic=not args.no_basic,
        allow_unencrypted=args.allow_unencrypted,
        port_base=args.port_base,
        enforce_cbt=args.enforce_cbt,
        verbose=args.verbose,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: t.Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for spec in args.fault:
            server.inject_spec(spec)
        path = write_endpoint_file(server)
        ep = server.endpoints()
        print("hvsim: lab %r, state in %s" % (args.lab, ep["state_dir"]))
        for host, entry in ep["hosts"].items():
            print("  %-12s %s" % (host, "  ".join(v for k, v in sorted(entry.items()) if k.endswith("_url"))))
        print("  username: %s  password: %s" % (ep["username"], ep["password"]))
        if ep["ca_path"]:
            print("  ca_path: %s" % ep["ca_path"])
        print("  control token: %s" % ep["control_token"])
        print("  endpoint file: %s" % path)
        print("hvsim: ready (SIGTERM/SIGINT to stop)", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        save = getattr(server.lab, "save", None)
        if callable(save):
            try:
                save()
            except Exception as exc:  # pragma: no cover
                print("hvsim: saving the lab failed: %s" % exc, file=sys.stderr)
        print("hvsim: stopped", flush=True)
    return 0


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
