"""`python -m api serve|token create|token list|token revoke`: run the HTTP API, manage its tokens."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict

from spooler.config import layout_for
from spooler.logs import setup_logging
from spooler.names import printable

from .settings import DEFAULT_PORT, SettingsError, api_dir, settings_from
from .tokens import TokenError, TokenStore

EPILOG = "The root folder is --root-path, else $LIPSPOOL_ROOT, else the repository folder."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m api", description="LipSpool's HTTP API.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (uvicorn)", epilog=EPILOG)
    serve.add_argument("--root-path", help="folder holding spool/, results/ and logs/")
    serve.add_argument("--host", help="address to listen on (default $LIPSPOOL_API_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help=f"port (default $LIPSPOOL_API_PORT, else {DEFAULT_PORT})")
    serve.add_argument("--max-upload", metavar="SIZE",
                       help="largest request body, e.g. 4G or 500M (default $LIPSPOOL_API_MAX_UPLOAD, else 4G)")
    serve.add_argument("-v", "--verbose", action="store_true")

    token = sub.add_parser("token", help="create, list or revoke bearer tokens", epilog=EPILOG)
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="make a token; it is shown once, on stdout")
    create.add_argument("--name", required=True, help="who or what uses it (unique)")
    listing = tsub.add_parser("list", help="list tokens (their ids and names; never the tokens)")
    listing.add_argument("--json", action="store_true")
    revoke = tsub.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token", metavar="ID_OR_NAME")
    for p in (create, listing, revoke):
        p.add_argument("--root-path", help="folder holding spool/, results/ and logs/")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        return token_command(args)
    except (SettingsError, TokenError, OSError) as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 1


def serve(args: argparse.Namespace) -> int:
    """Run the service until interrupted."""
    import uvicorn

    from .app import create_app

    settings = settings_from(args.root_path, args.host, args.port, args.max_upload)
    setup_logging(settings.layout.logs / "api.log", logging.DEBUG if args.verbose else logging.INFO)
    if not TokenStore(settings.folder).records():
        logging.getLogger("api").warning("no tokens yet: only /v1/health answers; make one with "
                                         "python -m api token create --name NAME")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, proxy_headers=True,
                timeout_graceful_shutdown=5)
    return 0


def token_command(args: argparse.Namespace) -> int:
    """token create | list | revoke."""
    store = TokenStore(api_dir(layout_for(args.root_path)))
    if args.token_command == "create":
        record, token = store.create(args.name)
        print(f"token {record.id} ({record.name}) created; it is shown only now, keep it secret:", file=sys.stderr)
        print(token)
        return 0
    if args.token_command == "list":
        records = store.records()
        if args.json:
            print(json.dumps([{k: v for k, v in asdict(r).items() if k != "sha256"} for r in records], indent=1))
        else:
            for r in records:
                print(printable(f"{r.id}  {r.created}  {r.name}"))
            if not records:
                print("no tokens", file=sys.stderr)
        return 0
    record = store.revoke(args.token)
    print(printable(f"token {record.id} ({record.name}) revoked"))
    return 0
