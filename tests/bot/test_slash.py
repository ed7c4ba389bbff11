"""Slash commands and buttons, as real interactions through the command tree and the view store."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading

import discord
from discord.ext.test import backend

from bot.feedback import FeedbackEntry, FeedbackLog
from bot.memory import AnswerCache
from bot.service import BUSY
from bot.views import ALREADY_VOTED, FEEDBACK_DOWN_ID, FEEDBACK_UP_ID, SOURCES_ID, AnswerView
from bot.worker import Busy
from qa.engine import Engine

from .harness import pings_nobody, raw_message
from .limits import check_message, markers_travel_with_sources, no_live_mentions

MANAGE = discord.Permissions(manage_guild=True)
NEW_FACT = "The harbour master of Port Quill is Ottoline Brackenridge, who keeps the lighthouse ledgers."


def check_calls(calls) -> None:
    for call in calls:
        if call.kind in ("message", "followup", "edit"):
            check_message(call.content, call.embeds)
            markers_travel_with_sources(call.embeds)
            assert pings_nobody(call.message), call.message


async def test_ask_defers_at_once_then_answers_with_citations(discord_seed):
    fake = discord_seed
    calls = await fake.slash("ask", question="Who is the US ambassador to Russia?")
    assert [c.kind for c in calls] == ["defer", "followup"]
    assert not calls[0].ephemeral  # the answer is for the channel to see
    embed = calls[1].embeds[0]
    assert "Lynne M. Tracy [1]" in embed.description
    assert embed.fields[0].name.startswith("[1] source\\_docs/russia-united-states-relations.txt · lines ")
    ids = [c["custom_id"] for row in calls[1].message["components"] for c in row["components"]]
    assert ids == [SOURCES_ID, FEEDBACK_UP_ID, FEEDBACK_DOWN_ID]
    check_calls(calls)


async def test_ask_refusals_are_immediate_and_private(make_discord, seed_engine):
    fake = await make_discord(seed_engine, max_question_chars=50, rate_limit=1)
    [call] = await fake.slash("ask", question="x" * 80)
    assert call.kind == "message" and call.ephemeral
    assert "80 characters long; the limit is 50" in call.content
    calls = await fake.slash("ask", question="Who is the US ambassador to Russia?")
    assert [c.kind for c in calls] == ["defer", "followup"]
    [call] = await fake.slash("ask", question="When did Putin become President of Russia?")
    assert call.kind == "message" and call.ephemeral and "please wait" in call.content


async def test_ask_in_thread_mode_continues_in_a_thread(make_discord, seed_engine):
    fake = await make_discord(seed_engine, thread_mode=True)
    calls = await fake.slash("ask", question="Who was the Russian president in the 1990s?")
    assert "Yeltsin" in calls[-1].embeds[0].description
    [thread] = fake.guild.threads
    assert thread.name == "Who was the Russian president in the 1990s?"
    await fake.say("What did he oppose in 1999?", channel=thread)
    [reply] = fake.sent()
    assert reply.channel.id == thread.id
    assert "Kosovo" in reply.embeds[0].description and "Yeltsin" in reply.embeds[0].footer.text


async def test_reset_forgets_the_conversation(discord_seed):
    fake = discord_seed
    await fake.slash("ask", question="Who was the Russian president in the 1990s?")
    calls = await fake.slash("ask", question="What did he oppose in 1999?")
    assert "Yeltsin" in calls[-1].embeds[0].footer.text
    [call] = await fake.slash("reset")
    assert call.ephemeral and call.content.startswith("Done — I forgot our last 2 turns here.")
    calls = await fake.slash("ask", question="What did he oppose in 1999?")
    assert not calls[-1].embeds[0].footer.text


async def test_a_reset_during_an_answer_in_progress_is_not_undone(discord_seed, monkeypatch):
    fake = discord_seed
    engine = fake.bot.service.engine
    gate = threading.Event()
    ask = engine.ask

    def held(question, conversation=None, **kwargs):  # the engine, held until the test lets it go
        gate.wait(60)
        return ask(question, conversation, **kwargs)

    monkeypatch.setattr(engine, "ask", held)
    gate.set()
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    assert fake.sent()[0].embeds
    gate.clear()
    fake.post(f"{fake.mention()} Who was the Russian president in the 1990s?")  # being answered …
    for _ in range(100_000):
        if fake.bot.service.worker.pending:
            break
        await asyncio.sleep(0)
    calls_before = len(fake.calls)
    reset = await fake.start_slash("reset")  # … when the user resets the conversation
    for _ in range(100_000):
        if len(fake.calls) > calls_before:  # the command has answered or deferred
            break
        await asyncio.sleep(0)
    gate.set()
    calls = await reset
    assert calls[-1].ephemeral and calls[-1].content == "Done — I forgot our last 2 turns here."
    [answer] = fake.sent()
    assert "Yeltsin" in answer.embeds[0].description
    # nothing of the conversation survived the reset: "he" means nobody now
    await fake.say(f"{fake.mention()} What did he oppose in 1999?")
    assert not fake.sent()[0].embeds[0].footer.text


async def test_reindex_needs_manage_server_or_the_admin_role(make_discord, fresh_engine, monkeypatch):
    builds = []
    build = fresh_engine.build
    monkeypatch.setattr(fresh_engine, "build", lambda *a, **k: (builds.append(1), build(*a, **k))[1])
    fake = await make_discord(fresh_engine, admin_role="qa-admins")
    [call] = await fake.slash("reindex")
    assert call.ephemeral and "Manage Server permission or the “qa-admins” role" in call.content
    assert builds == []
    role = backend.make_role("qa-admins", fake.guild)
    backend.update_member(fake.member(1), roles=[role])
    calls = await fake.slash("reindex", member=1)
    assert [c.kind for c in calls] == ["defer", "followup"] and calls[1].ephemeral
    assert calls[1].content.startswith("The index is already up to date")
    assert builds == [1]
    # the role may also be given by id
    fake = await make_discord(fresh_engine, admin_role="424242424242424242")
    backend.update_member(fake.member(2), roles=[backend.make_role("ops", fake.guild, id_num=424242424242424242)])
    assert (await fake.slash("reindex", member=2))[0].kind == "defer"
    assert (await fake.slash("reindex", member=0))[0].kind == "message"


async def test_reindex_swaps_in_a_new_index_without_a_restart(make_discord, fresh_engine):
    fake = await make_discord(fresh_engine)
    (fresh_engine.settings.docs_dir / "harbour.txt").write_text(NEW_FACT + "\n", encoding="utf-8")
    calls = await fake.slash("reindex", permissions=MANAGE)
    assert calls[0].kind == "defer" and calls[0].ephemeral
    assert calls[1].content.startswith("Index updated: 1 added, 0 changed, 0 removed, 1 unchanged")
    calls = await fake.slash("ask", question="Who is the harbour master of Port Quill?")
    embed = calls[-1].embeds[0]
    assert "Ottoline Brackenridge, who keeps the lighthouse ledgers. [1]" in embed.description
    assert embed.fields[0].name.startswith("[1] source\\_docs/harbour.txt")


async def test_the_bot_notices_a_rebuild_done_by_another_process(make_discord, fresh_engine):
    fake = await make_discord(fresh_engine)
    await fake.slash("ask", question="Who is the US ambassador to Russia?")  # the index is loaded now
    (fresh_engine.settings.docs_dir / "harbour.txt").write_text(NEW_FACT + "\n", encoding="utf-8")
    Engine(fresh_engine.settings).build()  # `python -m qa build`, elsewhere
    await fake.say(f"{fake.mention()} Who is the harbour master of Port Quill?")
    embed = fake.sent()[0].embeds[0]
    assert "Ottoline Brackenridge, who keeps the lighthouse ledgers. [1]" in embed.description
    assert embed.fields[0].name.startswith("[1] source\\_docs/harbour.txt")


async def test_stats_shows_documents_chunks_and_age(discord_seed, seed_engine):
    fake = discord_seed
    calls = await fake.slash("stats")
    assert [c.kind for c in calls] == ["defer", "followup"] and calls[1].ephemeral
    fields = {f.name: f.value for f in calls[1].embeds[0].fields}
    stats = seed_engine.stats()
    assert fields["Documents"] == str(stats.documents) == "1"
    assert fields["Chunks"].startswith(f"{stats.chunks} (")
    assert fields["Model"] == "all-MiniLM-L6-v2"
    assert "ago" in fields["Built"] and fields["Status"] == "up to date"


async def test_a_command_that_fails_apologises_and_logs(discord_seed, monkeypatch, caplog):
    fake = discord_seed

    async def broken():
        raise RuntimeError("stats exploded")

    monkeypatch.setattr(fake.bot.service.worker, "stats", broken)
    with caplog.at_level(logging.ERROR):
        calls = await fake.slash("stats")
    assert calls[-1].content == "Sorry, something went wrong while answering that. The error has been logged."
    assert calls[-1].ephemeral
    assert any(r.exc_info and "stats exploded" in str(r.exc_info[1]) for r in caplog.records)


async def test_persistent_views_are_registered_and_answers_add_none(discord_seed):
    fake = discord_seed
    views = fake.bot.persistent_views
    assert len(views) == 1 and isinstance(views[0], AnswerView)
    view = views[0]
    assert view.timeout is None and view.is_persistent()
    assert [item.custom_id for item in view.children] == [SOURCES_ID, FEEDBACK_UP_ID, FEEDBACK_DOWN_ID]
    for _ in range(3):
        await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
        await fake.slash("ask", question="Who is the US ambassador to Russia?")
    store = fake.bot._connection._view_store
    assert list(store._views) == [None]  # only the persistent view: memory does not grow per answer
    assert store._synced_message_views == {}


async def test_sources_button_shows_the_full_passages_privately(make_discord, special_engine):
    fake = await make_discord(special_engine)
    await fake.say(f"{fake.mention()} who are the moderators of the harbour channel?")
    [answer] = fake.sent()
    calls = await fake.click(answer, SOURCES_ID, member=1)
    assert calls[0].kind == "defer" and calls[0].ephemeral
    shown = calls[1:]
    assert shown and all(c.ephemeral for c in shown)
    check_calls(shown)
    text = "\n".join(c.text for c in shown)
    assert "notice-board.txt" in text.replace("\\", "")
    assert "Bold claims" in text  # the whole passage, not only the excerpt
    no_live_mentions(text)


async def test_sources_of_a_5000_character_passage_fit(make_discord, special_engine):
    fake = await make_discord(special_engine)
    await fake.say(f"{fake.mention()} Who was the founder of the canal?")
    [answer] = fake.sent()
    calls = await fake.click(answer, SOURCES_ID)
    check_calls(calls[1:])
    assert "Ignatius Threlkeld-Moreau" in "".join(c.text for c in calls)


async def test_feedback_is_written_with_a_hashed_user_id(discord_seed, bot_settings, seed_engine):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [answer] = fake.sent()
    up = await fake.click(answer, FEEDBACK_UP_ID, member=1)
    down = await fake.click(answer, FEEDBACK_DOWN_ID, member=2)
    assert up[-1].ephemeral and up[-1].content.startswith("Thanks")
    assert down[-1].ephemeral
    path = bot_settings(seed_engine).feedback_file
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [entry["vote"] for entry in lines] == ["up", "down"]
    user = fake.member(1).id
    assert lines[0]["user"] == hmac.new(b"test-salt", str(user).encode(), hashlib.sha256).hexdigest()
    assert str(user) not in path.read_text()
    assert lines[0]["question"] == "Who is the US ambassador to Russia?"
    assert "Lynne M. Tracy [1]" in lines[0]["answer"] and lines[0]["answered"] is True
    assert lines[0]["citations"][0]["source"] == "source_docs/russia-united-states-relations.txt"
    assert lines[0]["message_id"] == answer.id and lines[0]["time"]


async def test_buttons_still_work_after_a_restart(discord_seed, bot_settings, seed_engine):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [answer] = fake.sent()
    fake.bot.service.answers = AnswerCache()  # a restart forgets every answer; only the persistent view remains
    calls = await fake.click(answer, SOURCES_ID)
    assert "Lynne M. Tracy" in "\n".join(c.text for c in calls[1:])
    await fake.click(answer, FEEDBACK_DOWN_ID)
    entry = json.loads(bot_settings(seed_engine).feedback_file.read_text().splitlines()[-1])
    assert entry["vote"] == "down" and entry["question"] == "Who is the US ambassador to Russia?"
    assert entry["citations"][0]["label"].startswith("[1] source_docs/russia-united-states-relations.txt · line")


def _titles(calls) -> list[str]:
    return [e.title for c in calls[1:] for e in c.embeds]


async def test_buttons_on_a_multi_message_answer_work_after_a_real_restart(make_discord, archive_engine, bot_settings):
    question = "Who was the founder of the Port Quill lighthouse guild?"
    old = await make_discord(archive_engine)
    await old.say(f"{old.mention()} {question}")
    sent = old.sent()
    assert len(sent) > 1  # one answer in several messages …
    assert old.sent_payloads[-1]["components"] and not old.sent_payloads[0].get("components")  # … buttons on the last
    assert sent[-1].embeds[0].title == f"{question} (continued)"
    before = await old.click(sent[-1], SOURCES_ID)
    assert "Adaeze Holloway-Brandt" in "\n".join(c.text for c in before)
    raw = raw_message(sent[-1])

    # A new process: a new bot (setup_hook run), nothing in memory; someone clicks the old buttons.
    new = await make_discord(archive_engine)
    assert new.bot is not old.bot and len(new.bot.persistent_views) == 1 and len(new.bot.service.answers) == 0
    message = new.adopt(raw)
    after = await new.click(message, SOURCES_ID)
    assert after[0].kind == "defer" and all(c.ephemeral for c in after)
    check_calls(after)
    assert _titles(after) == _titles(before)  # the same passages as before the restart
    await new.click(message, FEEDBACK_UP_ID, member=1)
    entry = json.loads(bot_settings(archive_engine).feedback_file.read_text().splitlines()[-1])
    assert entry["vote"] == "up" and entry["question"] == question and entry["answered"] is True
    shown = [f.name.replace("\\", "") for e in sent[-1].embeds for f in e.fields]
    assert [c["label"] for c in entry["citations"]] == shown


async def test_after_a_restart_sources_re_ask_a_follow_up_as_understood_under_the_rate_limit(
        make_discord, seed_engine, monkeypatch, caplog):
    old = await make_discord(seed_engine)
    await old.say(f"{old.mention()} Who was the Russian president in the 1990s?")
    [first] = old.sent()
    await old.reply("And who did he work with on the war in Afghanistan?", to=first)
    [follow] = old.sent()
    assert "Understood as: And who did Yeltsin work with" in follow.embeds[0].footer.text
    before = await old.click(follow, SOURCES_ID)
    raw = raw_message(follow)

    new = await make_discord(seed_engine, rate_limit=1, rate_window_s=3600)
    asked = []
    ask = new.bot.service.worker.ask

    async def spy(question, conversation=None):
        asked.append(question)
        return await ask(question, conversation)

    monkeypatch.setattr(new.bot.service.worker, "ask", spy)
    message = new.adopt(raw)
    after = await new.click(message, SOURCES_ID)
    assert _titles(after) == _titles(before)  # the cited passages, numbered as in the answer
    assert [q.startswith("And who did Yeltsin work with on the war in Afghanistan?") for q in asked] == [True]
    # each re-ask counts against the clicker's rate limit
    [call] = (await new.click(message, SOURCES_ID))[1:]
    assert call.ephemeral and call.content.startswith("You're asking faster than I can keep up — please wait")
    assert len(asked) == 1
    # a busy bot says so, privately, without logging an error
    async def busy(question, conversation=None):
        raise Busy()

    monkeypatch.setattr(new.bot.service.worker, "ask", busy)
    with caplog.at_level(logging.DEBUG, logger="bot"):
        calls = await new.click(message, SOURCES_ID, member=1)
    assert calls[-1].ephemeral and calls[-1].content == BUSY
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_one_vote_per_person_per_answer(discord_seed, bot_settings, seed_engine):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [answer] = fake.sent()
    first = await fake.click(answer, FEEDBACK_UP_ID, member=1)
    assert first[-1].content == "Thanks — glad it helped."
    for custom_id in (FEEDBACK_UP_ID, FEEDBACK_DOWN_ID):  # again, or changing their mind
        [call] = await fake.click(answer, custom_id, member=1)
        assert call.kind == "message" and call.ephemeral and call.content == ALREADY_VOTED
    other = await fake.click(answer, FEEDBACK_DOWN_ID, member=2)
    assert other[-1].content.startswith("Thanks — noted")
    lines = [json.loads(line) for line in bot_settings(seed_engine).feedback_file.read_text().splitlines()]
    assert [entry["vote"] for entry in lines] == ["up", "down"]


async def test_one_vote_per_person_per_answer_survives_a_restart(make_discord, seed_engine, bot_settings):
    old = await make_discord(seed_engine)
    await old.say(f"{old.mention()} Who is the US ambassador to Russia?")
    [answer] = old.sent()
    assert (await old.click(answer, FEEDBACK_UP_ID, member=1))[-1].content == "Thanks — glad it helped."
    raw, person = raw_message(answer), old.member(1)  # dpytest's member list belongs to the newest fake

    new = await make_discord(seed_engine)  # a new process: nothing in memory, the same feedback file
    message = new.adopt(raw)
    again = await new.click(message, FEEDBACK_DOWN_ID, member=person)  # the same person
    assert again[-1].ephemeral and again[-1].content == ALREADY_VOTED
    other = await new.click(message, FEEDBACK_DOWN_ID, member=2)
    assert other[-1].content.startswith("Thanks — noted")
    lines = [json.loads(line) for line in bot_settings(seed_engine).feedback_file.read_text().splitlines()]
    assert [entry["vote"] for entry in lines] == ["up", "down"]
    assert len({entry["user"] for entry in lines}) == 2


def test_the_feedback_log_reads_earlier_votes_and_skips_torn_lines(tmp_path):
    path = tmp_path / "feedback.jsonl"
    log = FeedbackLog(path, key="k")
    entry = FeedbackEntry("up", "", "q", "a", True, [], message_id=7)
    assert log.write(entry, user_id=1)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"vote": "up", "message_id": 8')  # a line torn by a crash, no newline
    reopened = FeedbackLog(path, key="k")
    assert not reopened.write(FeedbackEntry("down", "", "q", "a", True, [], message_id=7), user_id=1)
    assert reopened.write(FeedbackEntry("down", "", "q", "a", True, [], message_id=7), user_id=2)
    assert reopened.write(FeedbackEntry("down", "", "q", "a", True, [], message_id=8), user_id=1)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["message_id"] for line in (lines[0], *lines[2:]))
    # The torn line did not swallow the vote after it: a restart still knows that one.
    assert not FeedbackLog(path, key="k").write(FeedbackEntry("up", "", "q", "a", True, [], message_id=7), user_id=2)


async def test_the_feedback_key_file_is_read_off_the_event_loop(make_discord, seed_engine, bot_settings, monkeypatch):
    fake = await make_discord(seed_engine, feedback_salt=None)  # the key lives in a file next to the feedback
    loop_thread = threading.current_thread()
    readers = []
    hash_key = FeedbackLog._hash_key

    def spy(self):
        readers.append(threading.current_thread())
        return hash_key(self)

    monkeypatch.setattr(FeedbackLog, "_hash_key", spy)
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [answer] = fake.sent()
    calls = await fake.click(answer, FEEDBACK_UP_ID)
    assert calls[-1].content == "Thanks — glad it helped."
    assert readers and loop_thread not in readers
    path = bot_settings(seed_engine).feedback_file
    key = path.with_name(path.name + ".key").read_bytes().strip()
    entry = json.loads(path.read_text().splitlines()[-1])
    assert entry["user"] == hmac.new(key, str(fake.member(0).id).encode(), hashlib.sha256).hexdigest()


async def test_ask_is_refused_where_the_bot_does_not_answer(make_discord, seed_engine):
    fake = await make_discord(seed_engine, channels=frozenset({1}))
    [call] = await fake.slash("ask", question="Who is the US ambassador to Russia?")
    assert call.ephemeral and call.content == "I don't answer questions here."


async def test_commands_are_synced_only_when_configured(bot_settings, seed_engine, monkeypatch):
    from bot.client import create_bot

    synced = []

    async def sync(self, *, guild=None):
        synced.append(guild.id if guild else "global")
        return []

    monkeypatch.setattr(discord.app_commands.CommandTree, "sync", sync)
    for target, expected in (("", []), ("global", ["global"]), ("123456789012345678", [123456789012345678])):
        synced.clear()
        bot = create_bot(bot_settings(seed_engine, sync=target), seed_engine)
        await bot.setup_hook()
        if bot.sync_task is not None:  # the sync runs in the background
            await bot.sync_task
        assert synced == expected
        assert {c.name for c in bot.tree.get_commands()} == {"ask", "reset", "reindex", "stats"}
        if target.isdigit():  # a test guild gets the global commands copied, for instant updates
            guild = discord.Object(id=int(target))
            assert {c.name for c in bot.tree.get_commands(guild=guild)} == {"ask", "reset", "reindex", "stats"}
        ask = bot.tree.get_command("ask")
        assert ask.parameters[0].name == "question" and ask.parameters[0].description.startswith("Your question")
        bot.service.close()
