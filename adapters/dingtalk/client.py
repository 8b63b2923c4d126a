"""The five DingTalk HTTP calls teambeat makes, on httpx, each failure classified (see errors.py).

- `POST {api}/v1.0/oauth2/accessToken` — the app token (cached by TokenCache)
- `POST {api}/v1.0/robot/groupMessages/send` — the app robot posts in a group (openConversationId)
- `POST {api}/v1.0/robot/oToMessages/batchSend` — the app robot DMs up to 20 users at once
- `POST {oapi}/robot/send?access_token=…&timestamp=…&sign=…` — a custom group robot (a team's webhook)
- `POST {sessionWebhook}` — the reply to one message, valid until `sessionWebhookExpiredTime`
plus `POST {oapi}/topapi/v2/user/get` for a member's profile, and a DM with buttons as a robot
interactive card: `POST {api}/v1.0/im/v1.0/robot/interactiveCards/send`, updated after a click with
`PUT {api}/v1.0/im/robots/interactiveCards` (cards.py) — the same card call to a group carries a board
that is then updated in place; in HTTP mode the card callback URL is
registered with `POST {api}/v1.0/card/callbacks/register`. The calls made as the app (all but the
robot webhooks) share the app's calls per second, `[dingtalk] api_qps` (quota.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.dingtalk.cards import TEMPLATE
from adapters.dingtalk.errors import Failure, classify_openapi, classify_robot
from adapters.dingtalk.quota import AppQuota
from adapters.dingtalk.render import Markdown
from adapters.dingtalk.sign import signed_url
from adapters.dingtalk.token import TokenCache
from bot.ports import DeliveryError

DEFAULT_OAPI = "https://oapi.dingtalk.com"
MAX_BATCH_USERS = 20
DEFAULT_API_QPS = 20  # an enterprise-internal app on the standard edition
TOKEN_HEADER = "x-acs-dingtalk-access-token"
CARD_SEND_PATH = "/v1.0/im/v1.0/robot/interactiveCards/send"  # sic: DingTalk's path has v1.0 twice
CARD_UPDATE_PATH = "/v1.0/im/robots/interactiveCards"
CARD_REGISTER_PATH = "/v1.0/card/callbacks/register"


def rebase(url: str, oapi_base_url: str) -> str:
    """A URL on DingTalk's default oapi host, moved to the configured one (proxies, tests)."""
    base = oapi_base_url.rstrip("/")
    if base != DEFAULT_OAPI and (url == DEFAULT_OAPI or url.startswith(DEFAULT_OAPI + "/")):
        return base + url[len(DEFAULT_OAPI) :]
    return url


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What batchSend said: the query key of the send, and the users it did not (or not yet) reach."""

    process_query_key: str
    invalid: frozenset[str]
    flow_controlled: frozenset[str]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


MEDIA_TOKEN_ERRORS = (40014, 42001, 88)  # the old API's answers to an unknown or expired access_token


class DingTalkClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_key: str,
        app_secret: str,
        robot_code: str,
        api_base_url: str,
        oapi_base_url: str,
        now_ms: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
        api_qps: int = DEFAULT_API_QPS,
    ) -> None:
        self._http = http
        self._app_key = app_key
        self._app_secret = app_secret
        self.robot_code = robot_code or app_key  # an internal app's robotCode is its AppKey by default
        self._api = api_base_url.rstrip("/")
        self.oapi = oapi_base_url.rstrip("/")
        self._now_ms = now_ms
        self.tokens = TokenCache(self._fetch_token, monotonic=monotonic)
        self.quota = AppQuota(api_qps)

    @property
    def has_app(self) -> bool:
        return bool(self._app_key and self._app_secret)

    # -- transport ---------------------------------------------------------------------------------

    async def _post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ):
        try:
            return await self._http.request(method, url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {type(exc).__name__}", transient=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"connection failed: {type(exc).__name__}: {exc}", transient=True) from exc

    async def _app_post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ):
        """A server-API call as the app: within the app's calls per second (robot webhooks are not)."""
        async with self.quota.call():
            return await self._post(url, body, headers, method)

    async def _fetch_token(self) -> tuple[str, float]:
        if not self.has_app:
            raise DeliveryError("[dingtalk] app_key and app_secret are not set", transient=False)
        response = await self._app_post(
            f"{self._api}/v1.0/oauth2/accessToken", {"appKey": self._app_key, "appSecret": self._app_secret}
        )
        data = _json(response)
        if response.status_code != 200 or not isinstance(data, dict) or not data.get("accessToken"):
            failure = classify_openapi(response.status_code, data, response.headers.get("Retry-After"))
            if failure.token_expired or response.status_code in (400, 403):
                failure = Failure(f"the app_key/app_secret were refused: {failure.reason}", transient=False)
            raise failure.error()
        return str(data["accessToken"]), float(data.get("expireIn") or 7200)

    async def openapi(self, path: str, body: Mapping[str, Any], method: str = "POST") -> Any:
        """Call api.dingtalk.com with the app token; a refused token is refreshed once and retried."""
        for attempt in (1, 2):
            token = await self.tokens.get()
            response = await self._app_post(f"{self._api}{path}", body, {TOKEN_HEADER: token}, method)
            data = _json(response)
            if response.status_code == 200:
                return data
            failure = classify_openapi(response.status_code, data, response.headers.get("Retry-After"))
            if failure.token_expired and attempt == 1:
                self.tokens.invalidate(token)
                continue
            if failure.token_expired:
                failure = Failure(f"token refused after a refresh: {failure.reason}", transient=False)
            raise failure.error()
        raise AssertionError("unreachable")

    # -- sending -------------------------------------------------------------------------------------

    async def group_send(self, open_conversation_id: str, post: Markdown) -> str:
        data = await self.openapi(
            "/v1.0/robot/groupMessages/send",
            {
                "robotCode": self.robot_code,
                "openConversationId": open_conversation_id,
                "msgKey": "sampleMarkdown",
                "msgParam": post.msg_param(),
            },
        )
        return str((data or {}).get("processQueryKey") or "")

    async def upload_image(self, name: str, data: bytes) -> str:
        """An image into the app's media (old API, the app token as access_token): its media id."""
        token = await self.tokens.get()
        try:
            async with self.quota.call():
                response = await self._http.post(
                    f"{self.oapi}/media/upload",
                    params={"access_token": token, "type": "image"},
                    files={"media": (name, data, "image/png")},
                )
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"media upload timeout: {type(exc).__name__}", transient=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"media upload failed: {type(exc).__name__}: {exc}", transient=True) from exc
        answer = _json(response)
        if isinstance(answer, dict) and answer.get("errcode") in MEDIA_TOKEN_ERRORS:
            self.tokens.invalidate(token)  # the next attempt (the outbox's retry) fetches a new one
            raise DeliveryError(f"media upload: token refused ({answer.get('errcode')})", transient=True)
        failure = classify_robot(response.status_code, answer, response.headers.get("Retry-After"))
        if failure is not None:
            raise failure.error()
        media_id = answer.get("media_id") if isinstance(answer, dict) else None
        if not media_id:
            raise DeliveryError("media upload: no media_id in the answer", transient=True)
        return str(media_id)

    async def group_image(self, open_conversation_id: str, media_id: str) -> str:
        """A picture in a group as the app robot: `sampleImageMsg` whose photoURL is the media id."""
        data = await self.openapi(
            "/v1.0/robot/groupMessages/send",
            {
                "robotCode": self.robot_code,
                "openConversationId": open_conversation_id,
                "msgKey": "sampleImageMsg",
                "msgParam": json.dumps({"photoURL": media_id}),
            },
        )
        return str((data or {}).get("processQueryKey") or "")

    async def batch_send(self, user_ids: Sequence[str], msg_param: str) -> BatchOutcome:
        if not 1 <= len(user_ids) <= MAX_BATCH_USERS:
            raise ValueError(f"batchSend takes 1 to {MAX_BATCH_USERS} users, not {len(user_ids)}")
        data = await self.openapi(
            "/v1.0/robot/oToMessages/batchSend",
            {
                "robotCode": self.robot_code,
                "userIds": list(user_ids),
                "msgKey": "sampleMarkdown",
                "msgParam": msg_param,
            },
        )
        data = data if isinstance(data, dict) else {}
        return BatchOutcome(
            str(data.get("processQueryKey") or ""),
            frozenset(data.get("invalidStaffIdList") or ()),
            frozenset(data.get("flowControlledStaffIdList") or ()),
        )

    async def card_send(
        self, card_id: str, user_id: str, card: Mapping[str, Any], callback_route_key: str = ""
    ) -> str:
        """A robot interactive card (`StandardCard`) in `user_id`'s single chat with the robot."""
        body: dict[str, Any] = {
            "cardTemplateId": TEMPLATE,
            "robotCode": self.robot_code,
            "cardBizId": card_id,
            "cardData": json.dumps(card, ensure_ascii=False),
            "singleChatReceiver": json.dumps({"userId": user_id}),
            "sendOptions": {},
        }
        if callback_route_key:  # HTTP mode: clicks go to the URL registered under this key
            body["callbackRouteKey"] = callback_route_key
        data = await self.openapi(CARD_SEND_PATH, body)
        return str((data or {}).get("processQueryKey") or "")

    async def group_card_send(self, card_id: str, open_conversation_id: str, card: Mapping[str, Any]) -> str:
        """A robot interactive card (`StandardCard`) in a group the app robot is in: the same call as
        `card_send` with `openConversationId` in place of `singleChatReceiver` (one of the two is
        required); a board's card, updated in place with `card_update`."""
        body: dict[str, Any] = {
            "cardTemplateId": TEMPLATE,
            "robotCode": self.robot_code,
            "cardBizId": card_id,
            "cardData": json.dumps(card, ensure_ascii=False),
            "openConversationId": open_conversation_id,
            "sendOptions": {},
        }
        data = await self.openapi(CARD_SEND_PATH, body)
        return str((data or {}).get("processQueryKey") or "")

    async def card_update(self, card_id: str, card: Mapping[str, Any]) -> None:
        """Replace a sent card's content (`PUT /v1.0/im/robots/interactiveCards`)."""
        body = {
            "cardBizId": card_id,
            "cardData": json.dumps(card, ensure_ascii=False),
            "updateOptions": {"updateCardDataByKey": False},
        }
        await self.openapi(CARD_UPDATE_PATH, body, method="PUT")

    async def register_card_callback(self, route_key: str, url: str, api_secret: str) -> None:
        """Where DingTalk sends clicks on cards sent with `callbackRouteKey` `route_key` (HTTP mode)."""
        body = {
            "callbackRouteKey": route_key,
            "callbackUrl": url,
            "apiSecret": api_secret,
            "forceUpdate": True,
        }
        await self.openapi(CARD_REGISTER_PATH, body)

    async def robot_send(self, webhook: str, secret: str, post: Markdown) -> None:
        """A custom group robot: the webhook URL signed with the robot's secret."""
        url = signed_url(rebase(webhook, self.oapi), secret, self._now_ms())
        await self._robot_call(url, post)

    async def session_send(self, session_webhook: str, post: Markdown) -> None:
        """A reply through the message's sessionWebhook (no signature: the URL is the credential)."""
        await self._robot_call(rebase(session_webhook, self.oapi), post)

    async def _robot_call(self, url: str, post: Markdown) -> None:
        response = await self._post(url, post.robot_body())
        failure = classify_robot(response.status_code, _json(response), response.headers.get("Retry-After"))
        if failure is not None:
            raise failure.error()

    async def user_get(self, user_id: str) -> dict[str, Any]:
        token = await self.tokens.get()
        response = await self._app_post(
            f"{self.oapi}/topapi/v2/user/get?access_token={token}", {"userid": user_id}
        )
        data = _json(response)
        failure = classify_robot(response.status_code, data)
        if failure is not None:
            raise failure.error()
        result = data.get("result") if isinstance(data, dict) else None
        return result if isinstance(result, dict) else {}
