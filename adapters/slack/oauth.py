"""Multi-workspace installs (`[slack] oauth = true`): slack_sdk's SQLAlchemy stores on our own database.

slack_sdk ships asyncio variants of both stores (`AsyncSQLAlchemyInstallationStore`,
`AsyncSQLAlchemyOAuthStateStore`) that take an `AsyncEngine`, so they share teambeat's engine (SQLite
through aiosqlite, or PostgreSQL via asyncpg; same schema) — no second, synchronous
engine. Their tables (`slack_installations`, `slack_bots`, `slack_oauth_states`) belong to slack_sdk and
are created by it (CREATE TABLE IF NOT EXISTS) when the adapter starts, not by our migrations.
"""

from __future__ import annotations

import logging

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.cache import TtlCache
from bot.config import SlackConfig

log = logging.getLogger(__name__)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600
TOKEN_TTL = 300.0
# The bot scopes teambeat asks for — the same list as manifest.yaml (a test keeps them equal).
SCOPES = (
    "app_mentions:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "im:history",
    "im:write",
    "users:read",
    "users:read.email",
)


class InstallationTokens:
    """The bot token of each workspace that installed the app, looked up in the installation store."""

    def __init__(self, store: AsyncInstallationStore) -> None:
        self._store = store
        self._cache: TtlCache[str] = TtlCache(TOKEN_TTL, 10_000)

    async def bot_token(self, workspace: str) -> str | None:
        cached = self._cache.get(workspace)
        if cached is not None:
            return cached
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=workspace)
        if bot is None or not bot.bot_token:
            return None
        self._cache.put(workspace, bot.bot_token)
        return bot.bot_token

    def remember(self, workspace: str, token: str | None) -> None:
        """The token bolt just authorized a request from this workspace with."""
        if token:
            self._cache.put(workspace, token)


class OAuthSetup:
    """The OAuth settings bolt needs, and the stores behind them (built without I/O; `prepare` creates
    the tables)."""

    def __init__(self, config: SlackConfig, engine: AsyncEngine) -> None:
        self.installations = AsyncSQLAlchemyInstallationStore(client_id=config.client_id, engine=engine)
        self.states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine)
        self.tokens = InstallationTokens(self.installations)
        self.settings = AsyncOAuthSettings(
            client_id=config.client_id,
            client_secret=config.client_secret,
            scopes=list(SCOPES),
            installation_store=self.installations,
            state_store=self.states,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
        )

    async def prepare(self) -> None:
        for store in (self.installations, self.states):
            try:
                await store.create_tables()
            except Exception:  # another replica created them at the same moment: check again
                log.info("slack oauth tables: retrying creation")
                await store.create_tables()
