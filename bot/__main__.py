"""``python -m bot`` / ``qa-bot``: run the Discord bot.

Exit codes: 0 after a clean stop, 2 for a missing token or a bad setting, 1 when Discord cannot be
reached or rejects the token (or the index cannot be built). Each failure is one line on stderr
(with ``QA_BOT_LOG_LEVEL=DEBUG``, an unexpected one also logs its traceback); the token is never
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from bot.config import BotSettings
from qa.errors import QAError

logger = logging.getLogger("bot")

PROG = "qa-bot"
_SECRETS: list[str] = []  # redacted from every error line, however it was produced


def _fail(message: str, code: int) -> int:
    for secret in _SECRETS:
        message = message.replace(secret, "[redacted]")
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line, as the bot's other start-up errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see: {PROG} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Start the bot and run until stopped.

    Returns:
        The exit code.
    """
    parser = _Parser(prog=PROG, description="Answer questions about the documents in Discord.")
    parser.add_argument("--env-file", type=Path, metavar="PATH",
                        help="dotenv file with DISCORD_TOKEN and settings (default: ./.env if there is one; "
                             "the environment wins)")
    args = parser.parse_args(argv)
    if args.env_file is not None and not args.env_file.is_file():  # named, so it must be there
        return _fail(f"env file not found: {args.env_file}", 2)
    try:
        settings = BotSettings.from_env(env_file=args.env_file or Path(".env"))
    except QAError as exc:
        return _fail(str(exc), 2)
    if settings.token is None:
        return _fail("DISCORD_TOKEN is not set; put it in the environment or in a .env file (see the Discord bot section of README.md)", 2)

    from bot.logs import configure_logging

    secrets = [settings.token.reveal()] + ([settings.feedback_salt.reveal()] if settings.feedback_salt else [])
    _SECRETS[:] = secrets
    configure_logging(settings.log_level, secrets)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:
        print(f"{PROG}: stopped", file=sys.stderr)
        return 0


async def run(settings: BotSettings) -> int:
    """Log in, make sure the index is ready, then serve until the connection closes.

    Returns:
        The exit code.
    """
    import aiohttp
    import discord

    from bot.client import create_bot
    from qa.engine import Engine

    assert settings.token is not None
    try:
        bot = create_bot(settings, Engine(settings.engine))
    except QAError as exc:
        return _fail(str(exc), exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - one line for the user; _unexpected logs the traceback (debug)
        return _unexpected("could not start", exc)
    async with bot:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Not available on Windows or outside the main thread: Ctrl-C still stops the bot there.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
        try:
            # Login first: a bad token should fail in seconds, before any index work. The timeout
            # covers the HTTP login only: setup_hook (run by login) starts the slash-command sync
            # in the background, so a slow sync is never reported as Discord being unreachable.
            await asyncio.wait_for(bot.login(settings.token.reveal()), timeout=settings.connect_timeout_s)
        except discord.LoginFailure:
            return _fail("Discord rejected the token (login failed); check DISCORD_TOKEN", 1)
        except TimeoutError:
            return _fail(f"could not reach Discord within {settings.connect_timeout_s:g} s", 1)
        except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
            return _fail(f"could not reach Discord: {_one_line(exc)}", 1)

        try:
            status, report = await bot.service.worker.ensure_index()
        except QAError as exc:
            return _fail(str(exc), exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - as above
            return _unexpected("could not prepare the index", exc)
        if report is not None:
            logger.info("index %s: built %d chunks in %.1f s", status, report.chunks, report.seconds)

        try:
            try:
                await bot.connect(reconnect=True)
            except discord.PrivilegedIntentsRequired:
                if not bot.intents.members:
                    raise
                # Discord refuses the whole connection (close code 4014) when any privileged intent
                # asked for is off, and discord.py raises without closing the client: connect again
                # without the optional one. Message Content alone is what the bot needs.
                logger.warning("Server Members intent not enabled in the Developer Portal; continuing without it")
                bot.drop_members_intent()
                await bot.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            return _fail("Discord refused the privileged gateway intents; turn on the Message Content intent in the "
                         "Developer Portal (Bot → Privileged Gateway Intents)", 1)
        except (aiohttp.ClientError, OSError, discord.GatewayNotFound, discord.ConnectionClosed) as exc:
            return _fail(f"lost the connection to Discord: {_one_line(exc)}", 1)
    return 0


def _unexpected(what: str, exc: BaseException) -> int:
    """An error nobody planned for: one line for the user, the traceback at debug level."""
    logger.debug("%s", what, exc_info=exc)
    detail = " ".join(str(exc).split())[:300]
    return _fail(f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else ""), 1)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


if __name__ == "__main__":
    sys.exit(main())
