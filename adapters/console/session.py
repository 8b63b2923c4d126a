"""A console chat session: lines in, replies and posts out, speaking as one member at a time."""

from __future__ import annotations

from adapters.console.adapter import ConsoleAdapter
from adapters.console.render import render_console
from bot.app import App
from bot.delivery.worker import DeliveryWorker
from bot.services import directory


class ConsoleSession:
    """`/as NAME` switches speaker; `/dm TEXT` or plain text goes to the DM; the rest to the channel.
    A message's buttons show as numbered choices: `/1`, `/2` … clicks one, as the speaker."""

    def __init__(
        self,
        app: App,
        adapter: ConsoleAdapter,
        team_slug: str,
        *,
        echo: bool = True,
        worker: DeliveryWorker | None = None,
    ) -> None:
        self.app = app
        self.echo = echo
        self.adapter = adapter
        self.team_slug = team_slug
        self.worker = worker or DeliveryWorker(app.uow_factory, {adapter.name: adapter}, app.clock)
        self.names: dict[str, str] = {}

    async def load_names(self) -> None:
        async with self.app.uow_factory() as uow:
            team = await directory.team_by_slug(uow.session, self.team_slug)
            if team is not None:
                self.names = {m.user_id: m.name for m in await directory.active_members(uow.session, team)}

    def name_of(self, user_id: str) -> str:
        return self.names.get(user_id, user_id)

    async def line(self, text: str) -> None:
        text = text.strip()
        if not text or text.startswith("#"):
            return
        if text.startswith("/as ") or text.startswith("/as\u3000"):
            await self.switch(text[4:].strip())
            return
        dm = not text.startswith(("/", "／", "@"))
        picked = self.adapter.chosen(self.adapter.speaker, text)
        if picked is not None:  # "/2": a click on the second button shown, where it was shown
            text, dm = picked
        elif text.startswith("/dm "):
            text, dm = text[4:].strip(), True
        if text.startswith(("@", "＠")):
            text = text.split(maxsplit=1)[1] if " " in text else ""
        if self.echo:
            self.adapter.print(f"{self.name_of(self.adapter.speaker)}{' (DM)' if dm else ''}> {text}")
        reply = await self.app.dispatcher.handle(self.adapter.incoming(text, dm=dm))
        if reply is not None:
            self.adapter.remember_choices(self.adapter.speaker, reply, dm=dm)
            shown = render_console(self.adapter.save_pictures(reply))
            self.adapter.print("\n".join("  " + line for line in shown.splitlines()))
        await self.app.jobs.drain()
        await self.worker.drain()
        await self.load_names()

    async def switch(self, who: str) -> None:
        await self.load_names()
        match = [uid for uid, name in self.names.items() if who.lower() in (uid.lower(), name.lower())]
        if len(match) == 1:
            self.adapter.speaker = match[0]
            self.adapter.print(f"— now speaking as {self.name_of(match[0])} —")
        else:
            self.adapter.print(
                f"— no member named {who!r}; members: {', '.join(sorted(self.names.values()))} —"
            )
