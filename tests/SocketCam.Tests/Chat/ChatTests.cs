using SocketCam.Chat;
using SocketCam.Client;
using SocketCam.Hub;
using SocketCam.Protocol;
using SocketCam.Tests.Rooms;
using SocketCam.Tests.Support;
using Xunit;

namespace SocketCam.Tests.Chat;

/// <summary>Text chat end to end (docs/PROTOCOL.md §4.15): real sockets, a real SQLite file in a temporary directory.</summary>
[Collection(NetworkCollection.Name)]
public sealed class ChatTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-chat-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private TestHub StartHub(ChatOptions? chat = null) =>
        TestHub.Start(new HubOptions { Chat = chat ?? new ChatOptions { Directory = _directory } }, captureRoom: null);

    [Fact]
    public async Task Every_participant_sees_every_message_once_in_the_same_order_with_the_hubs_sequence_and_time()
    {
        await using TestHub hub = StartHub();
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
        await using RoomSession bob = await RoomSession.JoinAsync(hub, "Bob", chat: new ChatChannel());
        await using RoomSession carol = await RoomSession.JoinAsync(hub, "Carol", chat: new ChatChannel());
        Assert.True(alice.Client.HasChat);
        Assert.NotEqual(0u, alice.Client.Welcome.Permissions & ProtocolV2.PermissionChat);

        long before = SocketCam.Diagnostics.Clock.NowMicros();
        var sends = new List<Task<ResultMessage>>();
        foreach (RoomSession s in new[] { alice, bob, carol })
        {
            sends.Add(s.Client.SendChatAsync($"hello from {s.Client.Room.Participants.First(p => p.ParticipantId == s.Id).Name}", CancellationToken.None));
        }

        ResultMessage[] results = await Task.WhenAll(sends).WaitAsync(TestHub.Timeout);
        Assert.All(results, r => Assert.Equal(ErrorCode.Normal, r.Code));
        Assert.Equal([1UL, 2UL, 3UL], results.Select(r => r.ChatSeq).Order());

        foreach (RoomSession s in new[] { alice, bob, carol })
        {
            await s.WaitForChatAsync(3);
        }

        IReadOnlyList<ChatMessage> seen = alice.ChatShown;
        Assert.Equal([1UL, 2UL, 3UL], seen.Select(m => m.Seq));
        Assert.Equal(seen, bob.ChatShown);
        Assert.Equal(seen, carol.ChatShown);
        Assert.All(seen, m => Assert.InRange(m.SentAtMicros, before, SocketCam.Diagnostics.Clock.NowMicros()));
        Assert.Equal("hello from Bob", seen.Single(m => m.Name == "Bob").Text);
        Assert.Equal(bob.Id, seen.Single(m => m.Name == "Bob").ParticipantId);

        // Stored: the store has them in the same order.
        Assert.Equal(seen.Select(m => m.Text), hub.Server.Chat!.ReadAfter("call", 0, 100).Select(m => m.Text));
    }

    [Fact]
    public async Task A_newcomer_gets_the_last_messages_and_a_reconnecting_client_exactly_what_it_missed()
    {
        await using TestHub hub = StartHub(new ChatOptions { Directory = _directory, HistoryOnJoin = 3, Burst = 100, RatePerSecond = 100 });
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
        var bobChannel = new ChatChannel();
        RoomSession bob = await RoomSession.JoinAsync(hub, "Bob", chat: bobChannel);
        for (int i = 1; i <= 5; i++)
        {
            Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync($"m{i}", CancellationToken.None)).Code);
        }

        await bob.WaitForChatAsync(5);
        Assert.Equal(5UL, bobChannel.Last);
        var shownToBob = bob.ChatShown.ToList();
        await bob.DisposeAsync();

        for (int i = 6; i <= 12; i++)
        {
            await alice.Client.SendChatAsync($"m{i}", CancellationToken.None);
        }

        // A newcomer: the last 3 (HistoryOnJoin), then live.
        await using RoomSession carol = await RoomSession.JoinAsync(hub, "Carol", chat: new ChatChannel());
        await carol.WaitForChatAsync(3);
        Assert.Equal(["m10", "m11", "m12"], carol.ChatShown.Select(m => m.Text));

        // Bob comes back with the same channel: everything after m5 (more than the 3 a newcomer gets), nothing twice.
        await using RoomSession bobAgain = await RoomSession.JoinAsync(hub, "Bob", chat: bobChannel);
        await bobAgain.WaitForChatAsync(7);
        await alice.Client.SendChatAsync("m13", CancellationToken.None);
        await bobAgain.WaitForChatAsync(8);
        await carol.WaitForChatAsync(4);
        shownToBob.AddRange(bobAgain.ChatShown);
        Assert.Equal(Enumerable.Range(1, 13).Select(i => $"m{i}"), shownToBob.Select(m => m.Text));
        Assert.Equal(Enumerable.Range(1, 13).Select(i => (ulong)i), shownToBob.Select(m => m.Seq));
        Assert.Equal(["m10", "m11", "m12", "m13"], carol.ChatShown.Select(m => m.Text));
    }

    [Fact]
    public async Task A_resend_of_an_unanswered_message_is_stored_once_and_a_reused_id_with_another_text_is_refused()
    {
        await using TestHub hub = StartHub();
        var channel = new ChatChannel();
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: channel);
        await using RoomSession bob = await RoomSession.JoinAsync(hub, "Bob", chat: new ChatChannel());

        // As if the first RESULT had been lost with the connection: the same id is sent twice.
        byte[] send = MessageWriterV2.ChatSend(new ChatSendMessage(900, 0x1234_5678_9ABC_DEF0, "only once"));
        await alice.Client.SendAsync(send, CancellationToken.None);
        await alice.Client.SendAsync(send, CancellationToken.None);
        await alice.Client.SendAsync(MessageWriterV2.ChatSend(new ChatSendMessage(901, 0x1234_5678_9ABC_DEF0, "something else")), CancellationToken.None);
        ResultMessage after = await alice.Client.SendChatAsync("next", CancellationToken.None).WaitAsync(TestHub.Timeout);
        Assert.Equal(2UL, after.ChatSeq);
        await bob.WaitForChatAsync(2);
        Assert.Equal(["only once", "next"], bob.ChatShown.Select(m => m.Text));
        Assert.Equal(2, hub.Server.Chat!.ReadAfter("call", 0, 100).Count);
        Assert.Equal(2, hub.Server.Chat.MessagesStored);
    }

    [Fact]
    public async Task Oversize_over_rate_and_hidden_messages_are_refused_with_a_reason_and_the_call_goes_on()
    {
        // A bucket of 4: the refused oversize message costs a token too (refusals are not free), then three go through.
        await using TestHub hub = StartHub(new ChatOptions { Directory = _directory, Burst = 4, RatePerSecond = 0.5 });
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
        await using RoomSession bob = await RoomSession.JoinAsync(hub, "Bob", chat: new ChatChannel());
        await using RoomSession watcher = await RoomSession.JoinAsync(hub, "watcher", hidden: true, chat: new ChatChannel());

        ResultMessage big = await alice.Client.SendChatAsync(new string('x', ProtocolV2.MaxChatText + 1), CancellationToken.None).WaitAsync(TestHub.Timeout);
        Assert.Equal(ErrorCode.TooLarge, big.Code);
        Assert.Equal((uint)ProtocolV2.MaxChatText, big.Value);
        Assert.Contains("4096 bytes", big.Text, StringComparison.Ordinal);
        // 4096 bytes of multi-byte text is fine: the cap is in bytes.
        Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync(new string('é', ProtocolV2.MaxChatText / 2), CancellationToken.None)).Code);

        Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync("two", CancellationToken.None)).Code);
        Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync("three", CancellationToken.None)).Code);
        ResultMessage flood = await alice.Client.SendChatAsync("four", CancellationToken.None);
        Assert.Equal(ErrorCode.RateLimited, flood.Code);
        Assert.InRange(flood.Value, 1u, 2000u);
        Assert.Contains("per second", flood.Text, StringComparison.Ordinal);

        ResultMessage hidden = await watcher.Client.SendChatAsync("psst", CancellationToken.None);
        Assert.Equal(ErrorCode.NotAllowed, hidden.Code);
        Assert.Equal(0u, watcher.Client.Welcome.Permissions & ProtocolV2.PermissionChat);

        // The call goes on: bob still chats, everyone (the hidden reader too) sees exactly the three stored messages and his.
        Assert.Equal(ErrorCode.Normal, (await bob.Client.SendChatAsync("still here", CancellationToken.None)).Code);
        await watcher.WaitForChatAsync(4);
        Assert.Equal(["two", "three", "still here"], watcher.ChatShown.Skip(1).Select(m => m.Text));
        Assert.False(alice.Receive.IsCompleted);
        Assert.False(watcher.Receive.IsCompleted);
        Assert.Equal(3, hub.Server.Guards.Refusals[SocketCam.Limits.Refusal.ChatRefused]);
    }

    [Fact]
    public async Task Refused_chat_is_not_free_a_hidden_watcher_that_floods_it_is_cut_off_and_the_others_go_on()
    {
        await using TestHub hub = StartHub();
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
        await using RoomSession watcher = await RoomSession.JoinAsync(hub, "watcher", hidden: true, chat: new ChatChannel());
        for (uint i = 1; i <= 200 && !watcher.Receive.IsCompleted; i++)
        {
            await watcher.Client.SendAsync(MessageWriterV2.ChatSend(new ChatSendMessage(i, i, "psst")), CancellationToken.None);
        }

        RemoteErrorException error = await Assert.ThrowsAsync<RemoteErrorException>(() => watcher.Receive.WaitAsync(TestHub.Timeout));
        Assert.Equal(ErrorCode.RateLimited, error.Code);
        Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync("still fine", CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
    }

    [Fact]
    public async Task A_client_refuses_a_text_above_the_hubs_cap_itself_and_cleans_control_characters_so_its_session_lives()
    {
        await using TestHub hub = StartHub();
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
        ResultMessage huge = await alice.Client.SendChatAsync(new string('x', 70_000), CancellationToken.None);
        Assert.Equal(ErrorCode.TooLarge, huge.Code);
        Assert.Contains("not sent", huge.Text, StringComparison.Ordinal);
        Assert.Empty(alice.Chat!.Unacknowledged);

        Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync("\u001b[31mred\u001b[0m\ttab", CancellationToken.None)).Code);
        await alice.WaitForChatAsync(1);
        Assert.Equal("[31mred[0m\ttab", alice.ChatShown[0].Text);
        Assert.False(alice.Receive.IsCompleted);
    }

    [Theory]
    [InlineData("bell\u0007")]
    [InlineData("escape \u001b[2J")]
    public async Task A_chat_message_with_control_characters_ends_only_its_senders_session(string text)
    {
        await using TestHub hub = StartHub();
        await using RoomSession mallory = await RoomSession.JoinAsync(hub, "Mallory", chat: new ChatChannel());
        await using RoomSession bob = await RoomSession.JoinAsync(hub, "Bob", chat: new ChatChannel());
        await mallory.Client.SendAsync(MessageWriterV2.ChatSend(new ChatSendMessage(1, 42, text)), CancellationToken.None);
        RemoteErrorException error = await Assert.ThrowsAsync<RemoteErrorException>(() => mallory.Receive.WaitAsync(TestHub.Timeout));
        Assert.Equal(ErrorCode.Malformed, error.Code);
        Assert.Contains("control character", error.Message, StringComparison.Ordinal);

        Assert.Equal(ErrorCode.Normal, (await bob.Client.SendChatAsync("fine", CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        Assert.Equal(["fine"], hub.Server.Chat!.ReadAfter("call", 0, 10).Select(m => m.Text));
    }

    [Fact]
    public async Task A_client_without_chat_skips_the_chat_events_and_keeps_its_event_sequence()
    {
        await using TestHub hub = StartHub();
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
        await using RoomSession old = await RoomSession.JoinAsync(hub, "Old");
        Assert.False(old.Client.HasChat);
        await alice.Client.SendChatAsync("hi", CancellationToken.None);
        await alice.PublishJpegAsync(1);
        await Eventually.UntilAsync(() => old.Client.Room.Tracks.Length == 1, "the track after the chat event");
        Assert.Equal(alice.Client.LastEventSequence, old.Client.LastEventSequence);
        Assert.False(old.Receive.IsCompleted);
    }

    [Fact]
    public async Task Messages_survive_the_store_being_closed_and_reopened_and_the_store_keeps_its_id()
    {
        ulong id;
        await using (TestHub hub = StartHub())
        {
            await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: new ChatChannel());
            await alice.Client.SendChatAsync("kept", CancellationToken.None);
            id = hub.Server.Chat!.StoreId;
        }

        await using TestHub again = StartHub();
        Assert.Equal(id, again.Server.Chat!.StoreId);
        var channel = new ChatChannel();
        await using RoomSession bob = await RoomSession.JoinAsync(again, "Bob", chat: channel);
        await bob.WaitForChatAsync(1);
        Assert.Equal("kept", bob.ChatShown[0].Text);
        Assert.Equal(id, channel.Store);
        Assert.Equal(2UL, (await bob.Client.SendChatAsync("next", CancellationToken.None)).ChatSeq);
    }

    [Fact]
    public async Task A_store_restored_from_an_older_backup_does_not_hide_new_messages_from_a_client_that_saw_more()
    {
        var channel = new ChatChannel();
        await using (TestHub hub = StartHub(new ChatOptions { Directory = _directory, Burst = 100, RatePerSecond = 100 }))
        {
            await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice", chat: channel);
            for (int i = 1; i <= 10; i++)
            {
                await alice.Client.SendChatAsync($"m{i}", CancellationToken.None);
            }

            await alice.WaitForChatAsync(10);
        }

        // The "backup": the file as it was after message 5 (same store id, fewer messages).
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "chat.db")};Pooling=False"))
        {
            db.Open();
            using Microsoft.Data.Sqlite.SqliteCommand cut = db.CreateCommand();
            cut.CommandText = "DELETE FROM messages WHERE seq > 5";
            Assert.Equal(5, cut.ExecuteNonQuery());
        }

        await using TestHub restored = StartHub();
        await using RoomSession back = await RoomSession.JoinAsync(restored, "Alice", chat: channel);
        await using RoomSession bob = await RoomSession.JoinAsync(restored, "Bob", chat: new ChatChannel());
        Assert.Equal(6UL, (await bob.Client.SendChatAsync("after the restore", CancellationToken.None)).ChatSeq);
        await Eventually.UntilAsync(() => back.ChatShown.Any(m => m.Text == "after the restore"), "the new message shown to the client that had seen 10", TestHub.Timeout);
        Assert.Equal(6UL, channel.Last);
    }

    [Fact]
    public async Task A_store_that_cannot_be_opened_is_one_line_naming_the_file_and_the_flag()
    {
        string notADirectory = Path.Combine(_directory, "file");
        await File.WriteAllTextAsync(notADirectory, "x");
        var hub = new HubServer(new HubOptions { Tcp = new() { EndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0) }, Chat = new ChatOptions { Directory = notADirectory } });
        ChatStoreException error = Assert.Throws<ChatStoreException>(hub.Start);
        Assert.Contains("--data", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(hub.HasTcpListener);
        await hub.DisposeAsync();
    }
}
