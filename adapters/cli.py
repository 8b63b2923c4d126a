"""`teambeat` — the command line: run, demo, db upgrade, check-config, post.

This is the composition root: it is the one place that knows both the core and the adapters.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Config, ConfigError, check_config, load_config, problems_only

SAMPLE = "sample.toml"


def sample_config_path() -> Path:
    return Path(str(resources.files("adapters.console").joinpath(SAMPLE)))


def _load(path: str | None) -> Config:
    return load_config(path if path else sample_config_path())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="teambeat", description="A sales team's daily rhythm in chat.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-c", "--config", help="TOML config file (default: the console sample team)")
        return p

    with_config(sub.add_parser("run", help="run every configured adapter (console by default)"))
    demo = sub.add_parser("demo", help="a seeded team living through N workdays in fast-forward")
    demo.add_argument("--days", type=int, default=1)
    demo.add_argument("--start", help="first day, YYYY-MM-DD (default: the next workday from today)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    with_config(db_sub.add_parser("upgrade", help="migrate the database to the latest schema"))
    with_config(sub.add_parser("check-config", help="list every problem in a config file"))
    post = with_config(sub.add_parser("post", help="run one scheduled post now"))
    post.add_argument("kind", choices=["morning", "recap"])
    post.add_argument("--team", required=True)
    post.add_argument("--date")
    post.add_argument("--force", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "check-config":
            return _check_config(args.config)
        if args.command == "demo":
            from adapters.console.demo import run_demo

            return asyncio.run(run_demo(args.days, date.fromisoformat(args.start) if args.start else None))
        config = _load(args.config)
        if args.command == "db":
            from bot.storage.migrate import upgrade

            asyncio.run(upgrade(config.database.url))
            print(f"database at {config.database.url} is up to date")
            return 0
        if args.command == "run":
            from adapters.runtime import run

            return asyncio.run(run(config))
        if args.command == "post":
            return asyncio.run(_post(config, args))
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _check_config(path: str | None) -> int:
    lines = check_config(path)
    for line in lines:
        print(line)
    errors = problems_only(lines)
    if not errors:
        print(f"{path or 'defaults'}: OK")
    return 1 if errors else 0


async def _post(config: Config, args: argparse.Namespace) -> int:
    from adapters.runtime import build_adapters
    from bot.app import build_app
    from bot.delivery.worker import DeliveryWorker
    from bot.services import directory
    from bot.services.posts import run_post

    app = await build_app(config)
    try:
        async with app.uow_factory() as uow:
            team = await directory.team_by_slug(uow.session, args.team)
            if team is None:
                print(f"error: no team with id {args.team!r}", file=sys.stderr)
                return 1
            now = app.clock.now()
            if args.date:
                at = time(9, 30) if args.kind == "morning" else time(18, 0)
                now = datetime.combine(date.fromisoformat(args.date), at, ZoneInfo(team.timezone))
            outcome = await run_post(uow, app.renderer, team, args.kind, now, force=args.force)
            await uow.commit()
        adapters = build_adapters(app)
        await DeliveryWorker(app.uow_factory, adapters, app.clock).drain()
        print(outcome)
        return 0
    finally:
        await app.close()


if __name__ == "__main__":
    sys.exit(main())
