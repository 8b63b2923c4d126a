"""`teambeat deals import` and `teambeat export`: files and stdout here, the rules in bot/services/csv_io."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import App, build_app
from bot.config import Config
from bot.services import csv_io, directory
from bot.services.deal_intake import IntakeRules
from bot.storage.orm import Team
from bot.storage.uow import UnitOfWork


async def deals_import(config: Config, args: argparse.Namespace) -> int:
    """All or nothing: exit 1 with every bad line listed, or 0 with what was imported.

    Without --announce the import runs without the announcer, so not even a void posts a correction.
    """
    path = Path(args.file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        rows = csv_io.read_rows(raw)
    except csv_io.ImportFailed as failed:
        return _refused(path, failed)
    app = await build_app(config)
    try:
        uow = app.uow_factory() if args.announce else UnitOfWork(app.sessionmaker)
        async with uow:
            team = await _team(uow, args.team)
            if team is None:
                return 1
            try:
                report = await csv_io.import_deals(
                    uow,
                    team,
                    rows,
                    app.clock.now(),
                    IntakeRules(max_amount=config.bot.max_amount),
                    announce=args.announce,
                )
            except csv_io.ImportFailed as failed:
                return _refused(path, failed)
            await uow.commit()
        if args.announce and report.announced:
            await _deliver(app)
        print(
            f"imported {report.recorded} deal(s) from {path} ({report.announced} announced), "
            f"{report.duplicates} already recorded, {report.voided} voided"
        )
        return 0
    finally:
        await app.close()


async def export(config: Config, args: argparse.Namespace) -> int:
    """The CSV goes to stdout as bytes (UTF-8 with BOM), whatever the terminal's encoding."""
    if args.end < args.start:
        print("error: --to is before --from", file=sys.stderr)
        return 1
    app = await build_app(config)
    try:
        async with app.uow_factory() as uow:
            team = await _team(uow, args.team)
            if team is None:
                return 1
            write = csv_io.export_deals if args.what == "deals" else csv_io.export_checkins
            text = await write(uow, team, args.start, args.end)
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_io.for_excel(text))
        sys.stdout.buffer.flush()
        return 0
    finally:
        await app.close()


async def _team(uow: UnitOfWork, slug: str) -> Team | None:
    team = await directory.team_by_slug(uow.session, slug)
    if team is None:
        print(f"error: no team with id {slug!r}", file=sys.stderr)
    return team


def _refused(path: Path, failed: csv_io.ImportFailed) -> int:
    for error in failed.errors:
        print(f"{path}: {error}", file=sys.stderr)
    print(f"{path}: nothing imported ({len(failed.errors)} problem(s))", file=sys.stderr)
    return 1


async def _deliver(app: App) -> None:
    """Send the announcements now, as `teambeat post` does, whether or not `teambeat run` is up."""
    from adapters.runtime import build_adapters
    from bot.delivery.worker import DeliveryWorker

    await app.jobs.drain()
    await DeliveryWorker(app.uow_factory, build_adapters(app), app.clock).drain()
