"""The WeCom HTTP API, as far as teambeat uses it: gettoken, message/send, appchat/send, user/get, and
the group robot's webhook/send. Every failure becomes a DeliveryError that says whether to retry.

The access token (7,200 s) is cached, refreshed five minutes early, fetched by one caller at a time,
and refetched once when WeCom calls it invalid or expired (40014, 42001, 40001).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from bot.ports import DeliveryError

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
FREQUENCY_LIMIT = 45009
BUSY = -1
TRANSIENT_CODES = frozenset({BUSY, FREQUENCY_LIMIT, 45033})
IP_NOT_TRUSTED = 60020
ALL_RECEIVERS_INVALID = 81013
FREQUENCY_BACKOFF = 60.0
TOKEN_EARLY = 300.0
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class WeComApiError(DeliveryError):
    """A WeCom answer with errcode != 0 (or an HTTP failure); `code` is WeCom's errcode when known."""

    def __init__(
        self, reason: str, *, transient: bool, code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, transient=transient, retry_after=retry_after)
        self.code = code


class WeComClient:
    def __init__(
        self,
        base_url: str,
        corp_id: str,
        secret: str,
        *,
        http: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=TIMEOUT)
        self._own_http = http is None
        self._corp_id = corp_id
        self._secret = secret
        self._now = monotonic
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    @property
    def has_token(self) -> bool:
        return self._token is not None and self._now() < self._token_expires

    # ----- access token -------------------------------------------------------------------------------

    async def token(self) -> str:
        if self.has_token:
            return self._token  # type: ignore[return-value]
        async with self._token_lock:
            if self.has_token:
                return self._token  # type: ignore[return-value]
            if not self._corp_id or not self._secret:
                raise WeComApiError(
                    "wecom: corp_id and secret are needed to send as the app", transient=False
                )
            data = await self._request(
                "GET", "/cgi-bin/gettoken", params={"corpid": self._corp_id, "corpsecret": self._secret}
            )
            _raise_for_code(data, "gettoken")
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeComApiError("wecom gettoken: no access_token in the answer", transient=True)
            lifetime = float(data.get("expires_in") or 7200)
            self._token = token
            self._token_expires = self._now() + max(lifetime - TOKEN_EARLY, lifetime / 2)
            return token

    def _invalidate(self, token: str) -> None:
        """Forget a token WeCom refused, unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    # ----- calls --------------------------------------------------------------------------------------

    async def app_call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """A call with the access token; one refetch and retry when the token is refused."""
        for attempt in (1, 2):
            token = await self.token()
            data = await self._request(
                method, path, params={**(params or {}), "access_token": token}, json=json, files=files
            )
            code = _code(data)
            if code in TOKEN_ERRORS and attempt == 1:
                log.info("wecom %s: access token refused (%s), fetching a new one", path, code)
                self._invalidate(token)
                continue
            _raise_for_code(data, path)
            return data
        raise AssertionError("unreachable")

    async def robot_send(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        data = await self._request("POST", "/cgi-bin/webhook/send", params={"key": key}, json=payload)
        _raise_for_code(data, "webhook/send")
        return data

    async def upload_image(self, name: str, data: bytes) -> str:
        """Temporary media for an app image message (valid three days): its media id."""
        found = await self.app_call(
            "POST",
            "/cgi-bin/media/upload",
            params={"type": "image"},
            files={"media": (name, data, "image/png")},
        )
        return str(found.get("media_id", ""))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, params=params, json=json, files=files)
        except httpx.TimeoutException as exc:
            raise WeComApiError(f"wecom {path}: timeout ({type(exc).__name__})", transient=True) from None
        except httpx.HTTPError as exc:
            raise WeComApiError(f"wecom {path}: {type(exc).__name__}: {exc}", transient=True) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise WeComApiError(
                f"wecom {path}: HTTP {response.status_code}",
                transient=True,
                retry_after=_retry_after(response),
            )
        if response.status_code >= 400:
            raise WeComApiError(f"wecom {path}: HTTP {response.status_code}", transient=False)
        try:
            data = response.json()
        except ValueError:
            raise WeComApiError(f"wecom {path}: the answer is not JSON", transient=True) from None
        if not isinstance(data, dict):
            raise WeComApiError(f"wecom {path}: unexpected answer", transient=True)
        return data


def _code(data: dict[str, Any]) -> int:
    try:
        return int(data.get("errcode", 0))
    except (TypeError, ValueError):
        return BUSY


def _raise_for_code(data: dict[str, Any], what: str) -> None:
    code = _code(data)
    if code == 0:
        return
    message = str(data.get("errmsg", ""))[:200]
    reason = f"wecom {what}: errcode {code} {message}".strip()
    if code == FREQUENCY_LIMIT:
        raise WeComApiError(reason, transient=True, code=code, retry_after=FREQUENCY_BACKOFF)
    if code in TRANSIENT_CODES:
        raise WeComApiError(reason, transient=True, code=code)
    if code == IP_NOT_TRUSTED:
        log.error(
            "wecom: this server's IP is not among the app's trusted IPs (企业可信IP): add it in the admin "
            "console"
        )
    raise WeComApiError(reason, transient=False, code=code)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
