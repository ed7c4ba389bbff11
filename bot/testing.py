"""Run the real bot against dpytest (test helper; never imported by the bot itself).

dpytest's own recipe (``await bot._async_setup_hook()`` then ``dpytest.configure(bot)``) is enough
for messages and for calling ``bot.tree`` directly. dpytest 0.7 replaces the bot's connection with
a fake one, though, and :func:`configure_dpytest` puts right what that loses:

* The command tree registered itself with the connection dpytest threw away: interactions parsed
  by the fake connection would not reach it.
* ``setup_hook`` (the persistent answer buttons) never runs.
* dpytest knows no threads and gives ``@everyone`` pre-thread permissions (no "send messages in
  threads", so Discord rules would forbid embeds there); thread creation is added and the
  permissions a freshly invited bot has are granted.
* Mentions resolve through the member cache, which needs the members intent; it is granted to the
  fake connection in case the bot was built with ``members_intent=False``.

Usage::

    bot = create_bot(settings, engine)
    await configure_dpytest(bot)          # instead of _async_setup_hook() + dpytest.configure(bot)
    await dpytest.message(f"<@{bot.user.id}> Who is the US ambassador to Russia?")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import discord


async def configure_dpytest(bot: discord.Client, **configure: Any) -> None:
    """Configure dpytest around ``bot`` and run its ``setup_hook`` as ``login`` would.

    Args:
        bot: A bot from :func:`bot.client.create_bot`.
        configure: Passed to ``dpytest.configure`` (``guilds``, ``text_channels``, ``members``…).
    """
    import discord.ext.test as dpytest
    from discord.ext.test import backend, factories

    await bot._async_setup_hook()
    connection = bot._connection
    connection._intents.members = True  # the fake connection only: see the module docstring
    connection.member_cache_flags = discord.MemberCacheFlags.from_intents(connection._intents)
    dpytest.configure(bot, **configure)
    bot._connection._command_tree = bot.tree

    for guild in dpytest.get_config().guilds:
        everyone = guild.default_role
        granted = discord.Permissions(everyone.permissions.value)
        granted.update(send_messages_in_threads=True, create_public_threads=True)
        backend.update_role(everyone, permissions=granted.value)

    async def start_thread_with_message(channel_id, message_id, *, name, auto_archive_duration=1440,
                                        rate_limit_per_user=None, reason=None):
        channel = bot.get_channel(channel_id)
        data = {
            "id": str(factories.make_id()),
            "guild_id": str(channel.guild.id),
            "parent_id": str(channel_id),
            "owner_id": str(bot.user.id),
            "name": name,
            "type": discord.ChannelType.public_thread.value,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": rate_limit_per_user or 0,
            "last_message_id": None,
            "flags": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                                "archive_timestamp": dt.datetime.now(dt.UTC).isoformat(), "locked": False},
            "newly_created": True,
        }
        backend.get_state().parse_thread_create(data)
        return data

    bot.http.start_thread_with_message = start_thread_with_message
    await bot.setup_hook()
