"""`teambeat` — the command line: run, demo, db upgrade, check-config, post.

This is the composition root: it is the one place that knows both the core and the adapters.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Coroutine, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from adapters.logs import setup_logging
from bot.config import Config, ConfigError, check_config, load_config, problems_only

SAMPLE = "sample.toml"
SAMPLES = {"zh-CN": SAMPLE, "en": "sample.en.toml"}  # the sample team in each language (--locale)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def sample_config_path(locale: str = "zh-CN") -> Path:
    return Path(str(resources.files("adapters.console").joinpath(SAMPLES[locale])))


def _load(path: str | None, locale: str | None = None) -> Config:
    if path and locale:
        raise ConfigError(
            [
                f"--locale {locale} picks the sample team's language; with -c {path}, set `locale` in "
                "each [[teams]] of the file (and [bot] default_locale) instead"
            ]
        )
    if path:
        return load_config(path)
    # The sample team keeps its `./teambeat.db` in the working directory (not next to the sample file).
    return load_config(sample_config_path(locale or "zh-CN"), relative_to=Path.cwd())


def iso_date(text: str) -> date:
    """An argparse type: a calendar date written YYYY-MM-DD, with a message that says so."""
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date: expected YYYY-MM-DD, e.g. 2026-11-23")


def positive_int(text: str) -> int:
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1, e.g. 3")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("teambeat")
    except PackageNotFoundError:
        return "unknown (not installed: pip install .)"


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1 like every other error of the CLI (product.md: `post` exits 1 on an error)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="teambeat", description="A sales team's daily rhythm in chat.")
    parser.add_argument("--version", action="version", version=f"teambeat {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-c", "--config", help="TOML config file (default: the console sample team)")
        return p

    def with_locale(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--locale",
            choices=sorted(SAMPLES),
            help="the sample team's language: zh-CN (default, team id `sample`) or en (team id `sample-en`)",
        )
        return p

    run = sub.add_parser("run", help="run every configured adapter (console by default)")
    with_locale(with_config(run))
    run.add_argument(
        "--role",
        choices=["all", "web", "worker"],
        default="all",
        help="all (default): everything; web: HTTP and platform connections; "
        "worker: scheduler, deliveries and announcements, no HTTP",
    )
    demo = with_locale(sub.add_parser("demo", help="a seeded team living through N workdays in fast-forward"))
    demo.add_argument("--days", type=positive_int, default=1, help="how many workdays to play (default 1)")
    demo.add_argument(
        "--start", type=iso_date, help="first day, YYYY-MM-DD (default: the next workday from today)"
    )
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    with_config(db_sub.add_parser("upgrade", help="migrate the database to the latest schema"))
    with_config(sub.add_parser("check-config", help="list every problem in a config file"))
    with_config(sub.add_parser("status", help="outbox counts, the oldest pending post, the latest errors"))
    post = with_config(sub.add_parser("post", help="run one scheduled post now"))
    post.add_argument(
        "kind",
        choices=["checkin", "morning", "recap", "weekly", "monthly", "insights"],
        help="which post: check-in prompts, morning goals, evening recap, weekly or monthly summary,"
        " the leaders' private insights",
    )
    post.add_argument("--team", required=True, help="the team's id (`id` in [[teams]]; the sample's: sample)")
    post.add_argument(
        "--date",
        type=iso_date,
        help="post as if at its scheduled time that day, YYYY-MM-DD (default: now)",
    )
    post.add_argument("--force", action="store_true", help="post again even if it was already posted")
    deals = sub.add_parser("deals", help="deals from other systems")
    deals_sub = deals.add_subparsers(dest="deals_command", required=True)
    deals_import = with_config(deals_sub.add_parser("import", help="import deals from a CSV file"))
    deals_import.add_argument("file", help="CSV: id,member,amount,currency,customer,product,closed_at,status")
    deals_import.add_argument("--team", required=True, help="the id of the team the deals belong to")
    deals_import.add_argument("--announce", action="store_true", help="announce deals closed within 24 h")
    export = with_config(sub.add_parser("export", help="CSV on stdout (UTF-8 with BOM, for Excel)"))
    export.add_argument("what", choices=["deals", "checkins"], help="deals or check-ins")
    export.add_argument("--team", required=True, help="the id of the team to export")
    export.add_argument("--from", dest="start", required=True, type=iso_date, help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", required=True, type=iso_date, help="last day, YYYY-MM-DD")
    return parser


T = TypeVar("T")


def run_on_server_loop(main: Coroutine[Any, Any, T]) -> T:
    """`teambeat run` on uvloop where it exists (not on Windows): the event loop's own work per request
    (sockets, callbacks, timers) is cheaper on it than on asyncio's pure-Python loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging()
    try:
        if args.command == "check-config":
            return _check_config(args.config)
        if args.command == "demo":
            from adapters.console.demo import run_demo

            return asyncio.run(run_demo(args.days, args.start, locale=args.locale or "zh-CN"))
        config = _load(args.config, getattr(args, "locale", None))
        if args.command == "db":
            from bot.storage.migrate import upgrade

            asyncio.run(upgrade(config.database.url))
            print(f"database at {_shown_url(config.database.url)} is up to date")
            return 0
        if args.command == "run":
            from adapters.runtime import run

            if not args.config:
                logging.getLogger("teambeat").info(
                    "no config file (-c): the console sample team, database %s", config.database.url
                )
            return run_on_server_loop(run(config, args.role))
        if args.command == "post":
            return asyncio.run(_post(config, args))
        if args.command == "status":
            from bot.delivery.status import print_status

            return asyncio.run(print_status(config.database.url))
        if args.command in ("deals", "export"):
            from adapters.csv_commands import deals_import, export

            command = deals_import if args.command == "deals" else export
            return asyncio.run(command(config, args))
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _shown_url(url: str) -> str:
    """The database URL without its password: this line ends up in service and container logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


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
    from bot.delivery.digest import DealDigestFolder
    from bot.delivery.worker import DeliveryWorker
    from bot.services import directory
    from bot.services.posts import fire_time, post_once

    day: date | None = args.date
    app = await build_app(config)
    try:
        async with app.uow_factory() as uow:
            team = await directory.team_by_slug(uow.session, args.team)
            if team is None:
                print(f"error: no team with id {args.team!r}", file=sys.stderr)
                return 1
            # --date: as if at the kind's scheduled time that day, in the team's timezone.
            at = fire_time(team, args.kind, day) if day else app.clock.now()
            team_id = team.id
        outcome = await post_once(
            app.uow_factory, app.renderer, team_id, args.kind, at, force=args.force, now=app.clock.now()
        )
        adapters = build_adapters(app)
        try:
            worker = DeliveryWorker.from_config(
                app.uow_factory,
                adapters,
                app.clock,
                config.delivery,
                folder=DealDigestFolder(app.renderer),
                images=config.images.enabled,
            )
            await worker.drain()
        finally:
            for adapter in adapters.values():
                await adapter.stop()  # closes the HTTP sessions sending opened (never started: nothing else)
        print(outcome)
        return 0
    finally:
        await app.close()


if __name__ == "__main__":
    sys.exit(main())
