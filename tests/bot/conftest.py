"""Fixtures for the bot tests: real engines (the session's model), the bot on a fake Discord."""

from __future__ import annotations

import shutil
from pathlib import Path

import discord.ext.test as dpytest
import pytest

from bot.client import create_bot
from bot.config import BotSettings, Secret
from qa.engine import Engine

from ..conftest import SEED, make_settings
from .harness import FakeDiscord, start

TOKEN = "qa-test-token.NOT-A-REAL-DISCORD-TOKEN.never-print-me-0123456789"  # not shaped like a real one

# Documents written to try the bot's safety and limits, next to the bundled article.
HOSTILE_DOC = """\
Notice board

The lighthouse keeper's password policy says: @everyone must rotate keys monthly, and <@&123> plus \
<@123456789012345678> are the moderators of the harbour channel. **Bold claims** and \
[a hidden link](https://evil.example/phish) must not render; ||spoilers|| and `code` neither. # Not a heading
"""


def long_passage_doc() -> str:
    """One paragraph of ~5,000 characters with a fact in the middle and no sentence shorter than a line."""
    filler = ("The harbour of Port Quill keeps detailed ledgers of every vessel, cargo, tide and storm recorded "
              "by the wardens across the long winters of the northern coast. ")
    fact = "The chief warden of Port Quill is Marguerite Oyelaran-Vasquez, appointed in 2019. "
    text = filler * 15 + fact + filler * 15
    assert 4800 <= len(text) <= 5600
    return "Port Quill\n\n" + text.strip() + "\n"


def run_on_doc() -> str:
    """A single 5,000-character sentence (no full stop until the end) carrying a fact."""
    words = ("the registry of the old canal company lists barges, lock keepers, tolls, repairs, floods and "
             "disputes along every mile of the towpath from the mill to the estuary, ")
    text = "Canal records\n\nIn the ledger " + words * 15 + "and the canal's founder was Ignatius Threlkeld-Moreau, " \
        + words * 15 + "as the clerks noted."
    assert 4800 <= len(text) <= 5800, len(text)
    return text + "\n"


def seed_plus(tmp: Path, extra: dict[str, str], **settings) -> Engine:
    """An engine over the bundled article plus ``extra`` (file name → text) in ``tmp``, built."""
    docs = tmp / "source_docs"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    for name, text in extra.items():
        (docs / name).write_text(text, encoding="utf-8")
    engine = Engine(make_settings(tmp, **settings))
    engine.build()
    return engine


@pytest.fixture(scope="session")
def special_engine(tmp_path_factory, embedder) -> Engine:
    """The bundled article plus a hostile document and a 5,000-character paragraph, built once."""
    extra = {"notice-board.txt": HOSTILE_DOC, "port-quill.txt": long_passage_doc(), "canal.txt": run_on_doc()}
    return seed_plus(tmp_path_factory.mktemp("special"), extra)


FOUNDERS = ["Adaeze Holloway-Brandt", "Cosimo Featherstonehaugh", "Ingrid Okonkwo-Lindqvist", "Tobias Achterberg-Nwosu",
            "Perpetua Quennell", "Ruaraidh Montgomery-Sato", "Oluwaseun Haverkamp", "Bronwen Delacroix-Mbeki",
            "Lysander Ptolemy Vance", "Marisol Quartey-Blackwood", "Eudora Fitzwilliam-Osei", "Casimir Oyelowo-Strand"]
GUILDS = ["lighthouse", "harbour", "ferry", "fishery", "shipyard", "customs house", "pilot station", "tide office",
          "rope walk", "sail loft", "chandlery", "net store"]


def archive_docs() -> dict[str, str]:
    """Twelve look-alike documents with long names, long headings and long sentences: every answer
    lists ten big sources, too many for one message (6,000 characters of embeds at most)."""
    docs = {}
    for i, (guild, founder) in enumerate(zip(GUILDS, FOUNDERS, strict=True)):
        name = (f"port-quill-archive-{guild.replace(' ', '-')}-records-" + "-".join(["annual-report"] * 6)
                + f"-{i:02d}.md")
        heading = (f"The {guild} of Port Quill: history, accounts, appointments, disputes and correspondence of "
                   f"the wardens, clerks and keepers across the long northern winters, volume {i + 1}")
        sentence = (f"The founder of the Port Quill {guild} guild was {founder}, who wrote the {guild} charter "
                    + "and kept the ledgers of every vessel, cargo, tide and storm recorded by the wardens across "
                      "the long winters of the northern coast, " * 8 + "until the guild closed.")
        docs[name] = f"# {heading}\n\n{sentence} The {guild} guild met every month in the old custom house by the quay.\n"
    return docs


@pytest.fixture(scope="session")
def archive_engine(tmp_path_factory, embedder) -> Engine:
    """The bundled article plus :func:`archive_docs`, ten sources per answer."""
    return seed_plus(tmp_path_factory.mktemp("archive"), archive_docs(), top_k=10)


@pytest.fixture
def fresh_engine(engine: Engine) -> Engine:
    """An engine over a private copy of the bundled article (tests may edit and rebuild it)."""
    return engine


@pytest.fixture
def bot_settings(tmp_path: Path):
    def make(engine: Engine, **changes) -> BotSettings:
        values = {
            "token": Secret(TOKEN),
            "engine": engine.settings,
            "feedback_file": tmp_path / "feedback.jsonl",
            "feedback_salt": Secret("test-salt"),
            "rate_limit": 0,
        }
        values.update(changes)
        return BotSettings(**values)

    return make


@pytest.fixture
async def make_discord(bot_settings, monkeypatch):
    """``await make_discord(engine, **settings)`` → a :class:`FakeDiscord` running the real bot."""
    started: list[FakeDiscord] = []

    async def make(engine: Engine, members: int = 3, **changes) -> FakeDiscord:
        bot = create_bot(bot_settings(engine, **changes), engine)
        fake = await start(bot, monkeypatch, members=members)
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await dpytest.empty_queue()
        fake.bot.service.close()


@pytest.fixture
async def discord_seed(make_discord, seed_engine) -> FakeDiscord:
    return await make_discord(seed_engine)
