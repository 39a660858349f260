using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SocketCam.Client;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using SocketCam.Transport;
using Xunit;

namespace SocketCam.Tests.Chat;

/// <summary>
/// Chat that loses nothing, as a user runs it: a real `socketcam serve --data DIR`, killed with SIGKILL mid-call and
/// started again on the same port and directory, and real `socketcam call --no-window --json` participants typing on
/// their standard input. Every client comes back by itself; the history is whole, nothing is missing or twice.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class ChatDurabilityCliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-chat-cli-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Kill_9_of_the_hub_mid_call_loses_no_acknowledged_message_and_every_client_resumes_without_duplicates()
    {
        int port = FreePorts.Tcp();
        string data = Path.Combine(_directory, "data");
        CliProcess hub = StartHub(port, data);
        await using CliProcess alice = StartCall(port, "Alice");
        await WaitForJsonAsync(alice, j => j.Type == "joined" && j.Name == "you");
        await using CliProcess bob = StartCall(port, "Bob");
        try
        {
            await hub.WaitForStdoutLineAsync(l => l.Contains("chat is kept in", StringComparison.Ordinal), Wait);
            await WaitForJsonAsync(alice, j => j.Type == "joined" && j.Name == "Bob");

            // Before the kill: five lines each, typed one after another.
            for (int i = 1; i <= 5; i++)
            {
                await alice.WriteLineAsync($"a{i}");
                await bob.WriteLineAsync($"b{i}");
            }

            await WaitForChatAsync(alice, 10);
            await WaitForChatAsync(bob, 10);

            // An in-process client's acknowledged message, then at once kill -9: it must be there after the restart.
            ulong acknowledged;
            await using (RoomClient probe = await RoomClient.ConnectAsync(
                new StreamEndpoint("tcp", "127.0.0.1", port), new ClientOptions { Room = "durable", Agent = "tests" }, "Probe", hidden: false, CancellationToken.None, new ChatChannel()))
            {
                using var stopProbe = new CancellationTokenSource();
                Task receive = probe.ReceiveAsync(0, stopProbe.Token);
                ResultMessage ack = await probe.SendChatAsync("acknowledged just before the kill", CancellationToken.None).WaitAsync(Wait);
                Assert.Equal(ErrorCode.Normal, ack.Code);
                acknowledged = ack.ChatSeq;

                // Alice types on while the hub dies: some of these are stored, some not yet; none may be lost or doubled.
                for (int i = 6; i <= 10; i++)
                {
                    await alice.WriteLineAsync($"a{i}");
                }

                await hub.KillAsync(); // SIGKILL: no goodbye, no checkpoint, no flush beyond what was committed
                await stopProbe.CancelAsync();
                await receive.ContinueWith(_ => { }, TaskScheduler.Default);
            }

            await hub.DisposeAsync();
            // Typed while there is no hub at all: kept, and sent once the call is back.
            await WaitForJsonAsync(bob, j => j.Type == "disconnected");
            await bob.WriteLineAsync("b while the hub is down");
            await WaitForJsonAsync(bob, j => j.Type == "notice");
            hub = StartHub(port, data);

            // Both come back by themselves (a second "joined you" line), and the conversation goes on.
            await WaitForJsonAsync(alice, j => j.Type == "joined" && j.Name == "you", count: 2);
            await WaitForJsonAsync(bob, j => j.Type == "joined" && j.Name == "you", count: 2);
            await bob.WriteLineAsync("b6 after the restart");

            string[] expected = [.. Enumerable.Range(1, 10).Select(i => $"a{i}"), .. Enumerable.Range(1, 5).Select(i => $"b{i}"), "acknowledged just before the kill", "b while the hub is down", "b6 after the restart"];
            await WaitForChatAsync(alice, expected.Length, bob);
            await WaitForChatAsync(bob, expected.Length, alice);
            List<Json> aliceChat = Chat(alice);
            List<Json> bobChat = Chat(bob);

            // Each saw every message exactly once, in the same order, sequence numbers 1..N without a gap.
            Assert.Equal(expected.Order(), aliceChat.Select(m => m.Text!).Order());
            Assert.Equal(aliceChat.Select(m => (m.Seq, m.Text)), bobChat.Select(m => (m.Seq, m.Text)));
            Assert.Equal(Enumerable.Range(1, expected.Length).Select(i => (ulong)i), aliceChat.Select(m => m.Seq));
            Assert.Contains(aliceChat, m => m.Seq == acknowledged && m.Text == "acknowledged just before the kill");
            // One sender's lines keep their order.
            Assert.Equal(Enumerable.Range(1, 10).Select(i => $"a{i}"), aliceChat.Where(m => m.Name == "Alice").Select(m => m.Text));

            await alice.InterruptAsync();
            await bob.InterruptAsync();
            Assert.Equal(0, await alice.WaitForExitAsync(Wait));
            JsonElement summary = alice.LastJsonLine();
            Assert.Equal("summary", summary.GetProperty("type").GetString());
            Assert.Equal(0, summary.GetProperty("chat_unacknowledged").GetInt32());
            Assert.True(summary.GetProperty("reconnects").GetInt32() >= 1, alice.Transcript());
            // Per participant id: Bob came back after the restart with a new id (a new room epoch).
            long fromBob = summary.GetProperty("participants").EnumerateArray().Where(p => p.GetProperty("name").GetString() == "Bob").Sum(p => p.GetProperty("frames").GetInt64());
            Assert.True(fromBob > 0, alice.Transcript());

            await hub.InterruptAsync();
            Assert.Equal(0, await hub.WaitForExitAsync(Wait));

            // The file itself: every message once.
            using var db = new SqliteConnection($"Data Source={Path.Combine(data, "chat.db")};Mode=ReadOnly;Pooling=False");
            db.Open();
            using SqliteCommand count = db.CreateCommand();
            count.CommandText = "SELECT COUNT(*), COUNT(DISTINCT text), MAX(seq) FROM messages WHERE room = 'durable'";
            using SqliteDataReader row = count.ExecuteReader();
            Assert.True(row.Read());
            Assert.Equal((long)expected.Length, row.GetInt64(0));
            Assert.Equal((long)expected.Length, row.GetInt64(1));
            Assert.Equal((long)expected.Length, row.GetInt64(2));
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }

    [Fact]
    public async Task Typed_escapes_are_cleaned_an_oversize_line_is_refused_and_a_burst_above_the_rate_all_arrives_in_order()
    {
        int port = FreePorts.Tcp();
        await using CliProcess hub = StartHub(port, Path.Combine(_directory, "data2"));
        await using CliProcess alice = StartCall(port, "Alice");
        await WaitForJsonAsync(alice, j => j.Type == "joined" && j.Name == "you");
        await alice.WriteLineAsync("\u001b[2Jcleared?");
        await alice.WriteLineAsync(new string('x', 5000));
        // 16 lines at once: more than the hub's bucket of 10 (then 2/s); the terminal's sender waits them out, in order.
        for (int i = 1; i <= 16; i++)
        {
            await alice.WriteLineAsync($"burst {i}");
        }

        await WaitForChatAsync(alice, 17);
        List<Json> chat = Chat(alice);
        Assert.Equal("[2Jcleared?", chat[0].Text);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => $"burst {i}"), chat.Skip(1).Select(m => m.Text));
        Assert.Contains(Lines(alice), l => l.Type == "notice" && l.Text!.Contains("at most 4096 bytes", StringComparison.Ordinal));
        Assert.DoesNotContain(Lines(alice), l => l.Type == "disconnected");
    }

    [Fact]
    public async Task A_chat_store_directory_that_cannot_be_used_is_one_line_naming_the_flag()
    {
        string file = Path.Combine(_directory, "not-a-directory");
        await File.WriteAllTextAsync(file, "x");
        (int code, CliProcess serve) = await CliProcess.RunAsync(_directory, Wait, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--udp", "off", "--source", "none", "--data", file);
        await using (serve)
        {
            Assert.NotEqual(0, code);
            string error = Assert.Single(serve.Stderr, l => l.Contains("chat store", StringComparison.Ordinal));
            Assert.Contains("--data", error, StringComparison.Ordinal);
            Assert.DoesNotContain(serve.Stderr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        }
    }

    private CliProcess StartHub(int port, string data) =>
        CliProcess.Start(_directory, "serve", "--listen", $"127.0.0.1:{port}", "--http", "off", "--udp", "off", "--source", "none", "--data", data, "--quiet");

    private CliProcess StartCall(int port, string name) =>
        CliProcess.Start(_directory, "call", $"tcp://127.0.0.1:{port}/durable", "--name", name, "--no-window", "--json", "--source", "pattern", "--size", "160x120", "--fps", "5", "--quiet");

    private sealed record Json(string Type, string? Name, ulong Seq, string? Text);

    private static List<Json> Lines(CliProcess process)
    {
        var lines = new List<Json>();
        foreach (string line in process.Stdout.Where(l => l.StartsWith('{')))
        {
            using var doc = JsonDocument.Parse(line);
            JsonElement j = doc.RootElement;
            lines.Add(new Json(
                j.GetProperty("type").GetString()!,
                j.TryGetProperty("name", out JsonElement n) ? n.GetString() : null,
                j.TryGetProperty("seq", out JsonElement s) ? s.GetUInt64() : 0,
                j.TryGetProperty("text", out JsonElement t) ? t.GetString() : null));
        }

        return lines;
    }

    private static List<Json> Chat(CliProcess process) => [.. Lines(process).Where(l => l.Type == "chat")];

    private static Task WaitForChatAsync(CliProcess process, int count, CliProcess? other = null) =>
        Eventually.UntilAsync(() => Chat(process).Count >= count, $"{count} chat messages shown{Environment.NewLine}{process.Transcript()}{Environment.NewLine}{other?.Transcript()}", Wait);

    private static Task WaitForJsonAsync(CliProcess process, Func<Json, bool> match, int count = 1) =>
        Eventually.UntilAsync(() => Lines(process).Count(match) >= count, $"a JSON line{Environment.NewLine}{process.Transcript()}", Wait);
}
