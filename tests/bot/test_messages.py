"""Questions in messages, through dpytest and the real engine: what a user sees in the channel."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import discord
import discord.ext.test as dpytest

from bot.formatting import NOT_FOUND_TEXT
from bot.service import APOLOGY

from .harness import message_text, pings_nobody, raw_message
from .limits import check_message, markers_travel_with_sources, no_live_mentions

SEED_SOURCE = "source\\_docs/russia-united-states-relations.txt"


def answer_of(messages: list[discord.Message]) -> str:
    return "\n".join(message_text(m.content, m.embeds) for m in messages)


def check_all(fake, messages: list[discord.Message]) -> None:
    for m in messages:
        check_message(m.content, m.embeds)
        markers_travel_with_sources(m.embeds)
    assert fake.sent_payloads and all(pings_nobody(p) for p in fake.sent_payloads)


async def test_a_mention_gets_a_cited_answer(discord_seed):
    fake = discord_seed
    question = await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    sent = fake.sent()
    assert len(sent) == 1
    embed = sent[0].embeds[0]
    assert embed.title == "Who is the US ambassador to Russia?"
    assert "Lynne M. Tracy [1]" in embed.description
    assert embed.fields[0].name.startswith(f"[1] {SEED_SOURCE} · lines ")
    assert "Lynne M. Tracy" in embed.fields[0].value
    # a reply to the question (sent even if the question is deleted meanwhile) that pings nobody
    payload = fake.sent_payloads[-1]
    assert payload["message_reference"]["message_id"] == question.id
    assert payload["message_reference"]["fail_if_not_exists"] is False
    assert payload["allowed_mentions"]["replied_user"] is False
    check_all(fake, sent)
    # the answer carries the Sources / 👍 / 👎 buttons (components are in the sent payload)
    buttons = [c["custom_id"] for row in fake.sent_payloads[-1]["components"] for c in row["components"]]
    assert buttons == ["qa:answer:sources", "qa:answer:feedback:up", "qa:answer:feedback:down"]


async def test_plain_chatter_bots_and_itself_are_ignored(discord_seed):
    fake = discord_seed
    await fake.say("Who is the US ambassador to Russia?")  # no mention: not for the bot
    assert fake.sent() == []
    other_bot = await dpytest.member_join(name="OtherBot")
    other_bot._user.bot = True
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?", member=other_bot)
    assert fake.sent() == []
    # the bot's own messages never trigger it (no loops)
    await fake.channel.send(f"{fake.mention()} Who is the US ambassador to Russia?")
    await dpytest.run_all_events()
    assert len(fake.sent()) == 1  # only the message it sent itself


async def test_an_empty_mention_gets_help_and_a_long_question_a_clear_limit(make_discord, seed_engine):
    fake = await make_discord(seed_engine, max_question_chars=200)
    await fake.say(fake.mention())
    assert "Ask me a question about the documents" in fake.sent()[0].content
    await fake.say(f"{fake.mention()} " + "why " * 100)
    text = fake.sent()[0].content
    assert "399 characters long; the limit is 200. Please shorten it." in text


async def test_a_reply_to_an_answer_is_a_follow_up(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Who was the Russian president in the 1990s?")
    first = fake.sent()[0]
    assert "Yeltsin" in first.embeds[0].description
    await fake.reply("What did he oppose in 1999?", to=first)
    follow_up = fake.sent()
    assert len(follow_up) == 1
    embed = follow_up[0].embeds[0]
    assert "Kosovo" in embed.description
    assert "Understood as:" in embed.footer.text and "Yeltsin" in embed.footer.text


async def test_an_answer_about_a_name_the_documents_never_mention_says_so(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Did Obama reset relations with Russia?")
    [answer] = fake.sent()
    assert "Note: the documents never mention “Obama”" in answer.embeds[0].footer.text
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [plain] = fake.sent()
    assert "Note:" not in (plain.embeds[0].footer.text or "")


async def test_a_reply_to_someone_elses_answer_continues_in_the_replier_s_own_conversation(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Who was the Russian president in the 1990s?", member=0)
    [answer] = fake.sent()
    await fake.reply("What did he oppose in 1999?", to=answer, member=1)  # member 1 replies to member 0's answer
    [follow] = fake.sent()
    assert "Kosovo" in follow.embeds[0].description and "Yeltsin" in follow.embeds[0].footer.text
    # member 1's own conversation goes on from there …
    await fake.say(f"{fake.mention()} When did he resign?", member=1)
    [again] = fake.sent()
    assert "Yeltsin" in again.embeds[0].footer.text
    # … and member 0's conversation holds member 0's question alone
    [call] = await fake.slash("reset", member=0)
    assert call.content == "Done — I forgot our last 1 turn here."


async def test_a_reply_to_an_answer_sent_before_a_restart_is_a_follow_up(make_discord, seed_engine):
    old = await make_discord(seed_engine)
    await old.say(f"{old.mention()} Who was the Russian president in the 1990s?")
    raw = raw_message(old.sent()[0])
    new = await make_discord(seed_engine)  # a new process: the answer is not in memory
    answer = new.adopt(raw)
    await new.reply("What did he oppose in 1999?", to=answer, member=1)
    [follow] = new.sent()
    assert "Kosovo" in follow.embeds[0].description and "Yeltsin" in follow.embeds[0].footer.text


async def test_a_question_deleted_before_the_answer_still_gets_it(discord_seed):
    fake = discord_seed
    question = fake.post(f"{fake.mention()} Who is the US ambassador to Russia?")
    fake.deleted.add(question.id)  # deleted by its author while the bot was thinking
    await dpytest.run_all_events()
    [answer] = fake.sent()
    assert "Lynne M. Tracy [1]" in answer.embeds[0].description


async def test_a_formatting_error_gets_an_apology_and_a_logged_traceback(discord_seed, monkeypatch, caplog):
    import bot.delivery

    fake = discord_seed

    def broken(answer):
        raise ValueError("embed exploded")

    monkeypatch.setattr(bot.delivery, "format_answer", broken)
    with caplog.at_level(logging.ERROR, logger="bot"):
        await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [reply] = fake.sent()
    assert reply.content == APOLOGY
    record = next(r for r in caplog.records if r.name == "bot.listeners")
    assert record.exc_info and "embed exploded" in str(record.exc_info[1])


async def test_thread_mode_opens_a_thread_and_follow_ups_there_use_the_earlier_turn(make_discord, seed_engine):
    fake = await make_discord(seed_engine, thread_mode=True)
    await fake.say(f"{fake.mention()} Who was the Russian president in the 1990s?")
    [first] = fake.sent()
    thread = first.channel
    assert isinstance(thread, discord.Thread) and thread.owner_id == fake.bot.user.id
    assert thread.name == "Who was the Russian president in the 1990s?"
    assert "Yeltsin" in first.embeds[0].description
    # inside the bot's thread a plain message (no mention) is a question, and a follow-up
    await fake.say("What did he oppose in 1999?", channel=thread)
    [second] = fake.sent()
    assert second.channel.id == thread.id
    assert "Kosovo" in second.embeds[0].description
    assert "Yeltsin" in second.embeds[0].footer.text  # understood with the earlier turn
    # another member in the same thread continues the same conversation
    await fake.say("And who did he work with on the war in Afghanistan?", channel=thread, member=1)
    assert fake.sent()[0].embeds  # answered in the thread


async def test_conversations_are_per_user_in_a_shared_channel(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} Who was the Russian president in the 1990s?", member=0)
    fake.sent()
    await fake.say(f"{fake.mention()} What did he oppose in 1999?", member=1)  # member 1 has no history
    [answer] = fake.sent()
    assert "Understood as" not in (answer.embeds[0].footer.text or "")
    await fake.say(f"{fake.mention()} What did he oppose in 1999?", member=0)
    [answer] = fake.sent()
    assert "Yeltsin" in answer.embeds[0].footer.text


async def test_a_misspelt_question_is_answered_and_shows_how_it_was_read(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} who was rusia's presidnet in the 1990s")
    [answer] = fake.sent()
    assert "Boris Yeltsin" in answer.embeds[0].description
    assert "Understood as: who was russia's president in the 1990s" in answer.embeds[0].footer.text


async def test_an_everyone_passage_and_question_ping_nobody(make_discord, special_engine):
    fake = await make_discord(special_engine)
    await fake.say(f"{fake.mention()} @everyone <@&123> who are the moderators of the harbour channel?")
    sent = fake.sent()
    text = answer_of(sent)
    assert "notice-board.txt" in text.replace("\\", "")
    no_live_mentions(text)
    assert "@\u200beveryone" in text and "<\u200b@&123>" in text
    assert "\\[a hidden link](https://evil.example/phish)" in text  # shown, as text: not a masked link
    assert not re.search(r"(?<!\\)\[a hidden link\]\(", text)
    check_all(fake, sent)
    for m in sent:
        assert not m.mention_everyone and m.role_mentions == [] and m.mentions == []


async def test_a_5000_character_passage_stays_within_limits(make_discord, special_engine):
    fake = await make_discord(special_engine)
    for question, fact, source in [
        ("Who is the chief warden of Port Quill?", "Marguerite Oyelaran-Vasquez", "port-quill.txt"),
        ("Who was the founder of the canal?", "Ignatius Threlkeld-Moreau", "canal.txt"),
    ]:
        await fake.say(f"{fake.mention()} {question}")
        sent = fake.sent()
        check_all(fake, sent)
        text = answer_of(sent).replace("\\", "")
        assert fact in text and source in sent[0].embeds[0].fields[0].name.replace("\\", "")


async def test_without_embed_links_the_answer_is_plain_text_within_2000(make_discord, special_engine):
    fake = await make_discord(special_engine)
    await dpytest.set_permission_overrides(fake.guild.default_role, fake.channel, embed_links=False)
    await fake.say(f"{fake.mention()} Who was the founder of the canal?")
    sent = fake.sent()
    assert sent and all(not m.embeds and 0 < len(m.content) <= 2000 for m in sent)
    assert "Ignatius Threlkeld-Moreau" in "".join(m.content for m in sent).replace("\\", "")
    assert "[1]" in sent[0].content


async def test_the_rate_limit_replies_once_and_kindly(make_discord, seed_engine):
    fake = await make_discord(seed_engine, rate_limit=2, rate_window_s=60)
    for _ in range(2):
        await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
        assert fake.sent()[0].embeds
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [notice] = fake.sent()
    assert notice.content.startswith("You're asking faster than I can keep up — please wait")
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    assert fake.sent() == []  # said once per window, not every time
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?", member=1)  # others are not affected
    assert fake.sent()[0].embeds


async def test_an_engine_error_gets_an_apology_and_a_logged_traceback(discord_seed, monkeypatch, caplog):
    fake = discord_seed

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fake.bot.service.engine, "ask", broken)
    with caplog.at_level(logging.ERROR, logger="bot"):
        await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")
    [reply] = fake.sent()
    assert reply.content == "Sorry, something went wrong while answering that. The error has been logged."
    record = next(r for r in caplog.records if r.name == "bot.service")
    assert record.exc_info and "disk on fire" in str(record.exc_info[1])


async def test_twenty_concurrent_questions_are_all_answered_without_blocking_the_loop(make_discord, seed_engine):
    fake = await make_discord(seed_engine, members=5)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat():  # stands in for the gateway heartbeat: it must keep ticking
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(heartbeat())
    questions = ["Who is the US ambassador to Russia?", "When did Putin become President of Russia?",
                 "Who was the Russian president in the 1990s?", "What interests do both nations share?"]
    posted = [fake.post(f"{fake.mention()} {questions[i % 4]}", member=i % 5) for i in range(20)]
    await dpytest.run_all_events()
    stop.set()
    await ticker
    sent = fake.sent()
    assert len(sent) == 20
    # each question answered exactly once, by a reply carrying its own question
    answered = sorted(p["message_reference"]["message_id"] for p in fake.sent_payloads)
    assert answered == sorted(m.id for m in posted)
    asked = {m.id: m.content.removeprefix(f"{fake.mention()} ") for m in posted}
    for payload in fake.sent_payloads:
        assert payload["embeds"][0]["title"] == asked[payload["message_reference"]["message_id"]]
    assert all(m.embeds and "[1]" in m.embeds[0].description for m in sent)
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


async def test_out_of_scope_questions_are_declined_with_the_closest_passages(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} How do I bake sourdough bread at home?")
    embed = fake.sent()[0].embeds[0]
    assert embed.description.startswith(NOT_FOUND_TEXT)
    assert embed.fields and embed.fields[0].name.startswith("[1] ")


async def test_thanks_gets_a_hint_what_to_ask_not_a_decline(discord_seed):
    from qa.answer import SMALL_TALK_REPLY

    fake = discord_seed
    await fake.say(f"{fake.mention()} Thanks a lot!")
    [reply] = fake.sent()
    # A notice: no "closest passages" to a thank-you, and no Sources or vote buttons under it.
    assert reply.content == SMALL_TALK_REPLY
    assert not reply.embeds and not fake.sent_payloads[-1].get("components")


async def test_what_the_documents_are_about_is_answered_from_their_opening(discord_seed):
    fake = discord_seed
    await fake.say(f"{fake.mention()} What is this document about?")
    embed = fake.sent()[0].embeds[0]
    assert embed.description.startswith("The United States and the Russia have had diplomatic relations")
    assert embed.fields and embed.fields[0].name.startswith("[1] ")


async def test_dms_and_channels_follow_the_settings(make_discord, seed_engine):
    fake = await make_discord(seed_engine, answer_dms=False)
    member = fake.member(0)
    dm = await member.create_dm()
    await dpytest.message("Who is the US ambassador to Russia?", channel=dm, member=member)
    assert fake.sent() == []

    fake = await make_discord(seed_engine, answer_dms=True, channels=frozenset({1}))
    member = fake.member(0)
    dm = await member.create_dm()
    await dpytest.message("Who is the US ambassador to Russia?", channel=dm, member=member)
    assert "Lynne M. Tracy" in fake.sent()[0].embeds[0].description
    await fake.say(f"{fake.mention()} Who is the US ambassador to Russia?")  # not an allowed channel
    assert fake.sent() == []


async def test_the_factory_with_plain_dpytest(bot_settings, special_engine):
    """What an outside test does: create_bot + bot.testing.configure_dpytest + dpytest's own API."""
    from bot.client import create_bot
    from bot.testing import configure_dpytest

    bot = create_bot(bot_settings(special_engine), special_engine)
    await configure_dpytest(bot)
    try:
        await dpytest.message(f"<@{bot.user.id}> Who is the US ambassador to Russia?")
        embed = dpytest.get_embed()
        assert "Lynne M. Tracy [1]" in embed.description
        assert "russia-united-states-relations.txt" in embed.fields[0].name.replace("\\", "")
        await dpytest.message(f"{bot.user.mention} @everyone who are the moderators of the harbour channel?")
        message = dpytest.get_message()
        no_live_mentions(message_text(message.content, message.embeds))
        await dpytest.message(f"{bot.user.mention} Who was the founder of the canal?")
        message = dpytest.get_message()
        check_message(message.content, message.embeds)
        assert "Threlkeld-Moreau" in message.embeds[0].description
        assert len(bot.persistent_views) == 1
    finally:
        await dpytest.empty_queue()
        bot.service.close()


async def test_the_issue_recipe_plain_dpytest_without_setup_hook(bot_settings, special_engine):
    """Exactly dpytest's documented set-up for discord.py 2.7, nothing of ours: a mention, a follow-up
    in the same channel, an @everyone passage and a 5,000-character passage all get cited answers."""
    from bot.client import create_bot

    bot = create_bot(bot_settings(special_engine), special_engine)
    await bot._async_setup_hook()
    dpytest.configure(bot)
    try:
        await dpytest.message(f"<@{bot.user.id}> Who was the Russian president in the 1990s?")
        first = dpytest.get_message()
        assert "Boris Yeltsin (1991–99)" in first.embeds[0].description
        assert "russia-united-states-relations.txt" in first.embeds[0].fields[0].name.replace("\\", "")
        # the follow-up only makes sense with the first turn: "he" is Yeltsin
        await dpytest.message(f"{bot.user.mention} What did he oppose in 1999?")
        follow = dpytest.get_message()
        assert "Kosovo" in follow.embeds[0].description
        assert "Understood as:" in follow.embeds[0].footer.text and "Yeltsin" in follow.embeds[0].footer.text
        await dpytest.message(f"{bot.user.mention} @everyone who are the moderators of the harbour channel?")
        hostile = dpytest.get_message()
        no_live_mentions(message_text(hostile.content, hostile.embeds))
        assert "moderators" in hostile.embeds[0].description
        await dpytest.message(f"<@{bot.user.id}> Who is the chief warden of Port Quill?")
        long = dpytest.get_message()
        check_message(long.content, long.embeds)
        markers_travel_with_sources(long.embeds)
        assert "Oyelaran-Vasquez" in long.embeds[0].description
        assert dpytest.sent_queue.empty()  # one message per answer
        assert {c.name for c in bot.tree.get_commands()} == {"ask", "reset", "reindex", "stats"}
    finally:
        await dpytest.empty_queue()
        bot.service.close()
