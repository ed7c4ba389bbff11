"""Settings, the token's secrecy, and ``python -m bot`` start-up failures (one line, right exit code)."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import discord
import pytest

from bot.config import BotSettings, ConfigError, Secret
from bot.logs import REDACTED, RedactingFormatter

from ..conftest import ROOT
from .conftest import TOKEN


def test_settings_from_the_environment_and_a_dotenv_file(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\nQA_BOT_RATE_LIMIT=3\nQA_BOT_THREAD_MODE=yes\nQA_TOP_K=3\n")
    settings = BotSettings.from_env(
        {"QA_BOT_RATE_LIMIT": "7", "QA_BOT_CHANNELS": "123, 456", "QA_BOT_DMS": "on", "QA_BOT_ADMIN_ROLE": "qa-admins",
         "QA_BOT_SYNC": "987654321", "QA_BOT_FEEDBACK_FILE": str(tmp_path / "fb.jsonl"),
         "QA_BOT_MAX_QUESTION_CHARS": "300", "QA_DOCS_DIR": str(tmp_path / "docs")},
        env_file=env_file,
    )
    assert settings.token.reveal() == TOKEN
    assert settings.rate_limit == 7  # the environment wins over the file
    assert settings.thread_mode is True and settings.answer_dms is True
    assert settings.channels == frozenset({123, 456})
    assert settings.admin_role == "qa-admins" and settings.sync == "987654321"
    assert settings.feedback_file == tmp_path / "fb.jsonl" and settings.max_question_chars == 300
    assert settings.engine.top_k == 3 and settings.engine.docs_dir == tmp_path / "docs"


def test_defaults_without_anything_set(tmp_path: Path):
    settings = BotSettings.from_env({}, env_file=tmp_path / "missing.env")
    assert settings.token is None and settings.channels == frozenset() and not settings.thread_mode
    assert settings.rate_limit == 5 and settings.sync == "" and not settings.answer_dms
    assert settings.members_intent is True


def test_the_intents_the_bot_asks_for_follow_the_settings(tmp_path: Path, seed_engine):
    from bot.client import create_bot

    for raw, members in (("", True), ("off", False), ("on", True)):
        env = {"QA_BOT_MEMBERS_INTENT": raw} if raw else {}
        settings = BotSettings.from_env(env, env_file=None).replace(engine=seed_engine.settings)
        bot = create_bot(settings, seed_engine)
        assert bot.intents.message_content is True and bot.intents.members is members
        assert bot.intents.presences is False
        bot.service.close()


@pytest.mark.parametrize(("name", "value"), [
    ("QA_BOT_RATE_LIMIT", "many"), ("QA_BOT_DMS", "perhaps"), ("QA_BOT_MEMBERS_INTENT", "maybe"), ("QA_BOT_CHANNELS", "general"),
    ("QA_BOT_SYNC", "everywhere"), ("QA_BOT_MAX_QUESTION_CHARS", "999999"), ("QA_BOT_WORKERS", "0"),
])
def test_bad_values_are_one_clear_error(name, value):
    with pytest.raises(ConfigError, match=name):
        BotSettings.from_env({name: value}, env_file=None)


def test_the_token_never_shows_in_reprs():
    settings = BotSettings(token=Secret(TOKEN), feedback_salt=Secret("salty"))
    for text in (repr(settings), str(settings), f"{settings}", repr(settings.token), f"{settings.token}",
                 "%s" % settings.token, str([settings.token])):  # noqa: UP031
        assert TOKEN not in text and "salty" not in text
    assert "Secret('**********')" in repr(settings)
    with pytest.raises(TypeError):
        pickle.dumps(settings.token)


def test_the_formatter_redacts_secrets_even_in_tracebacks():
    formatter = RedactingFormatter("%(message)s", [TOKEN])
    try:
        raise RuntimeError(f"bad header Authorization: Bot {TOKEN}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token was %s", (TOKEN,), sys.exc_info())
    text = formatter.format(record)
    assert TOKEN not in text and text.count(REDACTED) == 2


async def test_the_token_is_absent_from_the_logs_of_a_whole_session(make_discord, seed_engine, caplog):
    with caplog.at_level(logging.DEBUG):
        fake = await make_discord(seed_engine)
        await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
        await fake.slash("stats")
        fake.bot.service.close()
    assert caplog.records  # something was logged …
    assert TOKEN not in caplog.text  # … and never the token
    assert TOKEN not in repr(fake.bot.settings)


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "QA_"))}
    clean.update(env)
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=clean, capture_output=True, text=True,
                          timeout=120, check=False)


def test_python_m_bot_without_a_token_fails_in_one_line(tmp_path: Path):
    result = _run_bot(tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "qa-bot: error: DISCORD_TOKEN is not set; put it in the environment or in a .env file (see the Discord bot section of README.md)"
    ]


def test_a_missing_env_file_or_a_bad_flag_is_one_line_and_exit_2(tmp_path: Path, capsys):
    import bot.__main__ as entry

    assert entry.main(["--env-file", str(tmp_path / "nowhere.env")]) == 2
    assert capsys.readouterr().err == f"qa-bot: error: env file not found: {tmp_path / 'nowhere.env'}\n"
    with pytest.raises(SystemExit) as exc:
        entry.main(["--frob"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("qa-bot: error: unrecognized arguments: --frob") and err.count("\n") == 1


def test_python_m_bot_with_a_bad_setting_fails_in_one_line(tmp_path: Path):
    result = _run_bot(tmp_path, DISCORD_TOKEN=TOKEN, QA_BOT_RATE_LIMIT="lots")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["qa-bot: error: QA_BOT_RATE_LIMIT='lots' is not a whole number"]


@pytest.mark.parametrize(("token", "says"), [
    ("Bot " + TOKEN, "DISCORD_TOKEN starts with 'Bot ': set the token alone, without the prefix"),
    (f"'{TOKEN}'", "DISCORD_TOKEN is in quotes inside its value: remove them"),
    ("0123456789abcdefABCDEF0123456789", "DISCORD_TOKEN does not look like a bot token"),  # a client secret
    (TOKEN.replace(".", ". ", 1), "DISCORD_TOKEN does not look like a bot token"),
])
def test_python_m_bot_with_a_token_of_the_wrong_shape_fails_before_any_network_call(tmp_path: Path, token, says):
    result = _run_bot(tmp_path, DISCORD_TOKEN=token)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"qa-bot: error: {says}")
    assert TOKEN.split(".")[0] not in line and "0123456789abcdef" not in line


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_python_m_bot_with_a_fake_token_fails_quickly_in_one_line_without_the_token(tmp_path: Path, level):
    """No network here: login cannot reach Discord (with a network, Discord rejects the token)."""
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\n")  # from the .env file this time
    start = time.monotonic()
    result = _run_bot(tmp_path, QA_BOT_CONNECT_TIMEOUT="15", QA_BOT_LOG_LEVEL=level)
    assert time.monotonic() - start < 60
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert TOKEN not in output and TOKEN.split(".")[0] not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("qa-bot: error: ")]
    assert len(errors) == 1
    assert errors[0].startswith(("qa-bot: error: could not reach Discord", "qa-bot: error: Discord rejected the token"))
    if level == "INFO":
        assert result.stderr.splitlines() == errors  # nothing else on a failed start


def test_a_rejected_token_is_one_line_and_exit_1(tmp_path: Path, monkeypatch, capsys):
    """What Discord answers to a wrong token (401), without a network: login raises LoginFailure."""
    import bot.__main__ as entry
    import bot.logs

    async def refuse(self, token):
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setattr(discord.Client, "login", refuse)
    monkeypatch.setattr(bot.logs, "configure_logging", lambda *a, **k: None)  # keep pytest's log capture
    assert entry.main([]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "qa-bot: error: Discord rejected the token (login failed); check DISCORD_TOKEN"
    ]


def _start_offline(corpus: Path, monkeypatch, login=None) -> list:
    """``python -m bot`` in ``corpus`` without a network: login succeeds (or runs ``login``)."""
    import bot.logs

    from ..conftest import ENCODERS

    calls: list = []

    async def fake_login(self, token):
        calls.append(("login", token == TOKEN))

    monkeypatch.chdir(corpus)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("QA_ENCODER_DIR", str(ENCODERS[0]))
    monkeypatch.setattr(discord.Client, "login", login or fake_login)
    monkeypatch.setattr(bot.logs, "configure_logging", lambda *a, **k: None)  # keep pytest's log capture
    return calls


def test_a_successful_start_builds_the_index_then_connects(corpus: Path, embedder, monkeypatch, capsys, caplog):
    """login → index check (built here, as it is missing) → connect. Without the Server Members
    intent in the portal the bot warns once and connects without it; without Message Content it
    stops with one line."""
    import bot.__main__ as entry

    calls = _start_offline(corpus, monkeypatch)

    async def connect_refused(self, *, reconnect=True):  # what discord.py raises on close code 4014
        calls.append(("connect", (corpus / "index" / "CURRENT").is_file(), self.intents.members))
        raise discord.PrivilegedIntentsRequired(None)

    async def connect_without_members(self, *, reconnect=True):
        calls.append(("connect", True, self.intents.members))
        if self.intents.members:
            raise discord.PrivilegedIntentsRequired(None)
        assert self._connection.member_cache_flags.joined is False and not self._connection._chunk_guilds

    # Only Message Content is on in the portal: one warning, then connected without members.
    monkeypatch.setattr(discord.Client, "connect", connect_without_members)
    with caplog.at_level(logging.WARNING):
        assert entry.main([]) == 0
    assert calls == [("login", True), ("connect", True, True), ("connect", True, False)]
    assert capsys.readouterr().err == ""
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["Server Members intent not enabled in the Developer Portal; continuing without it"]

    # Message Content is off too: refused twice, one line, exit 1.
    calls.clear()
    caplog.clear()
    monkeypatch.setattr(discord.Client, "connect", connect_refused)
    assert entry.main([]) == 1
    assert calls == [("login", True), ("connect", True, True), ("connect", True, False)]
    assert capsys.readouterr().err.splitlines() == [
        ("qa-bot: error: Discord refused the privileged gateway intents; turn on the Message Content intent in the "
         "Developer Portal (Bot → Privileged Gateway Intents)")
    ]

    # With QA_BOT_MEMBERS_INTENT=0 there is nothing to fall back from: one attempt, the same line.
    calls.clear()
    monkeypatch.setenv("QA_BOT_MEMBERS_INTENT", "0")
    assert entry.main([]) == 1
    assert calls == [("login", True), ("connect", True, False)]
    assert "turn on the Message Content intent" in capsys.readouterr().err


def test_a_slow_command_sync_is_not_reported_as_discord_being_unreachable(corpus: Path, embedder, monkeypatch,
                                                                           capsys):
    """The real login (HTTP faked): setup_hook starts the sync, which outlasts the connect timeout."""
    import bot.__main__ as entry

    user = {"id": "424242", "username": "qa", "discriminator": "0", "avatar": None, "bot": True}
    app = type("App", (), {"id": 424242, "interactions_endpoint_url": None, "flags": discord.ApplicationFlags()})
    never = asyncio.Event()
    synced = []

    async def static_login(self, token):
        return user

    async def application_info(self):
        return app

    async def slow_sync(self, *, guild=None):
        synced.append(guild.id)
        await never.wait()  # Discord is slow today: longer than QA_BOT_CONNECT_TIMEOUT

    async def connect(self, *, reconnect=True):
        await asyncio.sleep(0)
        assert synced == [123456789012345678]  # the sync started (in setup_hook)

    calls = _start_offline(corpus, monkeypatch, login=discord.Client.login)
    monkeypatch.setattr(discord.http.HTTPClient, "static_login", static_login)
    monkeypatch.setattr(discord.Client, "application_info", application_info)
    monkeypatch.setattr(discord.app_commands.CommandTree, "sync", slow_sync)
    monkeypatch.setattr(discord.Client, "connect", connect)
    monkeypatch.setenv("QA_BOT_SYNC", "123456789012345678")
    monkeypatch.setenv("QA_BOT_CONNECT_TIMEOUT", "1")
    assert entry.main([]) == 0
    assert calls == [] and capsys.readouterr().err == ""


@pytest.mark.parametrize("where", ["Engine", "ensure_index"])
def test_an_unexpected_start_error_is_one_line_without_a_traceback(corpus: Path, embedder, monkeypatch, capsys,
                                                                   caplog, where):
    import bot.__main__ as entry
    import qa.engine

    _start_offline(corpus, monkeypatch)

    def broken(*args, **kwargs):
        raise RuntimeError(f"disk on fire near {TOKEN}")

    if where == "Engine":
        monkeypatch.setattr(qa.engine, "Engine", broken)
    else:
        monkeypatch.setattr(qa.engine.Engine, "ensure_index", broken)
    with caplog.at_level(logging.DEBUG, logger="bot"):
        assert entry.main([]) == 1
    err = capsys.readouterr().err
    what = "could not start" if where == "Engine" else "could not prepare the index"
    assert err.splitlines() == [f"qa-bot: error: {what}: RuntimeError: disk on fire near [redacted]"]
    # the traceback is there for whoever runs with QA_BOT_LOG_LEVEL=DEBUG
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.levelno == logging.DEBUG and "disk on fire" in str(record.exc_info[1])
