"""A fake Discord around the real bot: dpytest for the gateway and REST, plus what dpytest lacks.

dpytest 0.7 fakes messages, members and channels. It does not know threads, replies or
interactions, so this harness adds, with the smallest possible reach:

* threads, the member cache, the command tree: see :mod:`bot.testing`, which this harness uses;
* replies: a user message carrying ``message_reference`` / ``referenced_message``;
* interactions: real :class:`discord.Interaction` objects built from gateway payloads and fed to
  ``ConnectionState.parse_interaction_create`` — the same entry point Discord's gateway uses, so
  slash commands go through the command tree and buttons through the view store. Interaction
  responses (defer, send_message, follow-ups) are HTTP calls to Discord's webhook endpoints; the
  webhook adapter is replaced by a recorder that answers like Discord would;
* a record of the ``allowed_mentions`` of every message the bot sends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend, factories
from discord.webhook.async_ import AsyncWebhookAdapter

from bot.client import QABot
from bot.testing import configure_dpytest


def pings_nobody(payload: dict) -> bool:
    """Whether a message payload's ``allowed_mentions`` lets Discord ping no one at all."""
    allowed = payload.get("allowed_mentions")
    return (allowed is not None and allowed.get("parse") == [] and not allowed.get("users")
            and not allowed.get("roles") and not allowed.get("replied_user"))


@dataclass
class WebhookCall:
    """One interaction HTTP call: a callback (defer/send_message) or a follow-up/edit."""

    method: str
    path: str
    payload: dict
    token: str

    @property
    def kind(self) -> str:
        if self.path.endswith("/callback"):
            return {4: "message", 5: "defer", 6: "defer-update", 7: "update"}.get(self.payload.get("type"), "callback")
        if self.method == "POST":
            return "followup"
        return "edit" if self.method == "PATCH" else self.method.lower()

    @property
    def message(self) -> dict:
        """The message part of the payload (callbacks wrap it in ``data``)."""
        return self.payload.get("data") or {} if self.path.endswith("/callback") else self.payload

    @property
    def ephemeral(self) -> bool:
        return bool((self.message.get("flags") or 0) & 64)

    @property
    def content(self) -> str:
        return self.message.get("content") or ""

    @property
    def embeds(self) -> list[discord.Embed]:
        return [discord.Embed.from_dict(e) for e in self.message.get("embeds") or []]

    @property
    def text(self) -> str:
        """Everything a user reads in this message."""
        return message_text(self.content, self.embeds)


def message_text(content: str | None, embeds: list[discord.Embed]) -> str:
    parts = [content or ""]
    for e in embeds:
        parts += [e.title or "", e.description or ""]
        parts += [f"{f.name}\n{f.value}" for f in e.fields]
        parts.append(e.footer.text or "")
    return "\n".join(p for p in parts if p)


@dataclass
class FakeDiscord:
    """The configured bot, its fake guild and what it sent."""

    bot: QABot
    sent_payloads: list[dict] = field(default_factory=list)  # every channel message payload
    calls: list[WebhookCall] = field(default_factory=list)  # every interaction HTTP call
    deleted: set[int] = field(default_factory=set)  # user messages deleted (replies to them fail like Discord's)
    _channels_by_token: dict[str, discord.abc.Messageable] = field(default_factory=dict)
    _followups: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def config(self) -> dpytest.RunnerConfig:
        return dpytest.get_config()

    @property
    def guild(self) -> discord.Guild:
        return self.config.guilds[0]

    @property
    def channel(self) -> discord.TextChannel:
        return self.config.channels[0]

    def member(self, i: int = 0) -> discord.Member:
        return self.config.members[i]

    # -- messages -----------------------------------------------------------------------------

    def mention(self) -> str:
        return f"<@{self.bot.user.id}>"

    async def say(self, content: str, *, channel=None, member: int | discord.Member = 0) -> discord.Message:
        """A user message; returns after the bot has handled it."""
        return await dpytest.message(content, channel=channel or self.channel, member=member)

    def post(self, content: str, *, channel=None, member: int | discord.Member = 0) -> discord.Message:
        """A user message without waiting (for concurrent questions)."""
        member = self.member(member) if isinstance(member, int) else member
        return backend.make_message(content, member, channel or self.channel)

    async def reply(self, content: str, to: discord.Message, *, member: int = 0) -> discord.Message:
        """A user reply to ``to`` (Discord fills ``referenced_message`` for replies)."""
        author = self.member(member)
        channel = to.channel
        data = factories.make_message_dict(
            channel, author, content=content, guild_id=self.guild.id, type=19,
            mentions=[to.author] if to.author else [],
        )
        data["message_reference"] = {"message_id": to.id, "channel_id": channel.id, "guild_id": self.guild.id}
        data["referenced_message"] = raw_message(to)
        state = backend.get_state()
        state.parse_message_create(data)
        backend._cur_config.messages.setdefault(channel.id, []).append(data)
        await dpytest.run_all_events()
        return state._get_message(data["id"])

    def sent(self) -> list[discord.Message]:
        """Messages the bot sent since the last call (oldest first)."""
        out = []
        while not dpytest.sent_queue.empty():
            out.append(dpytest.sent_queue.get_nowait())
        return out

    # -- interactions -------------------------------------------------------------------------

    def _member_payload(self, member: discord.Member, permissions: discord.Permissions) -> dict:
        return {
            "user": factories.dict_from_user(member._user),
            "roles": [str(r.id) for r in member.roles if r != self.guild.default_role],
            "joined_at": dt.datetime.now(dt.UTC).isoformat(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(permissions.value),
        }

    def _base(self, kind: int, channel, member: discord.Member, permissions: discord.Permissions) -> dict:
        token = f"interaction-token-{factories.make_id()}"
        self._channels_by_token[token] = channel
        channel_data = {"id": str(channel.id), "type": channel.type.value, "guild_id": str(self.guild.id),
                        "name": channel.name}
        if isinstance(channel, discord.Thread):
            channel_data["parent_id"] = str(channel.parent_id)
        return {
            "id": str(factories.make_id()),
            "application_id": str(self.bot.user.id),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild.id),
            "channel_id": str(channel.id),
            "channel": channel_data,
            "member": self._member_payload(member, permissions),
            "app_permissions": str(discord.Permissions.all().value),
            "locale": "en-US",
            "guild_locale": "en-US",
            "attachment_size_limit": 8 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0,
        }

    async def slash(
        self,
        name: str,
        *,
        channel=None,
        member: int = 0,
        permissions: discord.Permissions | None = None,
        **options: Any,
    ) -> list[WebhookCall]:
        """Run ``/name option=value …`` as Discord would; returns the HTTP calls it made."""
        channel = channel or self.channel
        payload = self._base(2, channel, self.member(member), permissions or discord.Permissions.none())
        command = self.bot.tree.get_command(name)
        assert command is not None, f"no /{name}"
        payload["data"] = {
            "id": str(factories.make_id()),
            "name": name,
            "type": 1,
            "options": [
                {"type": discord.AppCommandOptionType.string.value, "name": k, "value": v} for k, v in options.items()
            ],
        }
        return await self._dispatch(payload)

    async def click(self, message: discord.Message, custom_id: str, *,
                    member: int | discord.Member = 0) -> list[WebhookCall]:
        """Click a button with ``custom_id`` on ``message`` (as member ``member``, or as a given
        member, e.g. one of an earlier fake Discord: the same person after a restart); returns the
        HTTP calls it made."""
        data = raw_message(message)
        clicker = self.member(member) if isinstance(member, int) else member
        payload = self._base(3, message.channel, clicker, discord.Permissions.none())
        payload["data"] = {"custom_id": custom_id, "component_type": discord.ComponentType.button.value}
        payload["message"] = data
        return await self._dispatch(payload)

    def adopt(self, data: dict) -> discord.Message:
        """A message the bot sent before a restart (its payload from the earlier fake Discord), moved
        to this one's channel and authored by this bot — Discord keeps the bot's id across restarts."""
        data = dict(data, channel_id=str(self.channel.id), guild_id=str(self.guild.id),
                    author=factories.dict_from_user(self.bot.user))
        backend._cur_config.messages.setdefault(self.channel.id, []).append(data)
        return self.bot._connection.create_message(channel=self.channel, data=data)

    async def start_slash(self, name: str, **kwargs: Any) -> asyncio.Task:
        """Like :meth:`slash`, but returns at once (the command runs alongside other work)."""
        task = asyncio.create_task(self.slash(name, **kwargs))
        await asyncio.sleep(0)
        return task

    async def _dispatch(self, payload: dict) -> list[WebhookCall]:
        before = len(self.calls)
        self.bot._connection.parse_interaction_create(payload)
        await settle()
        return [c for c in self.calls[before:] if c.token == payload["token"]]

    # -- the fake webhook endpoint ------------------------------------------------------------

    async def webhook_request(self, route, session=None, *, payload=None, multipart=None, files=None, **_: Any):
        if payload is None and multipart:
            part = next(p for p in multipart if p.get("name") == "payload_json")
            payload = json.loads(part["value"])
        payload = payload or {}
        token = route.webhook_token
        self.calls.append(WebhookCall(route.method, route.path, payload, token))
        if route.path.endswith("/callback"):
            flags = (payload.get("data") or {}).get("flags") or 0
            return {"interaction": {"id": str(route.webhook_id), "type": 2,
                                    "response_message_loading": payload.get("type") == 5,
                                    "response_message_ephemeral": bool(flags & 64)}}
        channel = self._channels_by_token.get(token, self.channel)
        if route.method == "GET":
            return (self._followups.get(token) or [self._message(channel, {})])[0]
        data = self._message(channel, payload)
        self._followups.setdefault(token, []).append(data)
        return data

    def _message(self, channel, payload: dict) -> dict:
        embeds = [discord.Embed.from_dict(e) for e in payload.get("embeds") or []]
        data = factories.make_message_dict(channel, self.bot.user, content=payload.get("content") or "",
                                           embeds=embeds, guild_id=self.guild.id)
        data["webhook_id"] = str(self.bot.user.id)  # interaction messages come from the app's webhook
        data["flags"] = payload.get("flags", 0)
        data["application_id"] = str(self.bot.user.id)
        backend._cur_config.messages.setdefault(channel.id, []).append(data)
        return data


@dataclass
class _Response:
    status: int
    reason: str


def raw_message(message: discord.Message) -> dict:
    """The gateway payload dpytest stored for ``message``."""
    for data in backend._cur_config.messages.get(message.channel.id, []):
        if int(data["id"]) == message.id:
            return dict(data)
    raise LookupError(f"message {message.id} is unknown to dpytest")


async def settle(timeout: float = 60.0) -> None:
    """Wait until every event handler, command and button callback the bot started has finished."""

    def busy() -> list[asyncio.Task]:
        current = asyncio.current_task()
        out = []
        for task in asyncio.all_tasks():
            if task is current or task.done():
                continue
            name = task.get_name()
            coro = getattr(task.get_coro(), "__name__", "")
            if name == "CommandTree-invoker" or name.startswith(("discord-ui-view-dispatch", "discord.py: ")) \
                    or coro == "_run_event":
                out.append(task)
        return out

    async def loop() -> None:
        while tasks := busy():
            await asyncio.gather(*tasks, return_exceptions=True)

    await asyncio.wait_for(loop(), timeout)


async def start(bot: QABot, monkeypatch, *, members: int = 3) -> FakeDiscord:
    """The bot on dpytest (via :func:`bot.testing.configure_dpytest`), with its sends recorded."""
    fake = FakeDiscord(bot)

    # Record every channel message payload. dpytest's fake send_message finds the channel in its
    # caller's local variables, so this wrapper keeps a local named ``channel``.
    async def send_message(channel_id, *, params):
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841 - read by dpytest from this frame
        payload = params.payload or {}
        reference = payload.get("message_reference") or {}
        if int(reference.get("message_id") or 0) in fake.deleted and reference.get("fail_if_not_exists") is not False:
            # What Discord answers to a reply to a deleted message (unless told not to fail).
            raise discord.HTTPException(_Response(400, "Bad Request"),
                                        {"code": 50035, "message": "Invalid Form Body: Unknown message"})
        fake.sent_payloads.append(payload)
        return await original_send(channel_id, params=params)

    # Interaction responses are webhook calls: answer them like Discord and record them.
    monkeypatch.setattr(AsyncWebhookAdapter, "request",
                        lambda self, route, session=None, **kw: fake.webhook_request(route, session, **kw))
    await configure_dpytest(bot, members=members)
    original_send = bot.http.send_message
    monkeypatch.setattr(bot.http, "send_message", send_message)
    return fake
