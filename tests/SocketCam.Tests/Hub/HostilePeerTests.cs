using System.Buffers;
using System.Net;
using System.Net.Sockets;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Hub;

/// <summary>
/// Issue 13's attacks on the TCP hub, reproduced for real on loopback: the attacker connects from 127.0.0.2 (all of
/// 127.0.0.0/8 is loopback on Linux), the legitimate peers from 127.0.0.1, and the limits are made small through options
/// so each attack is over in seconds. Every attacker must get the ERROR that names its limit; the legitimate peers must
/// keep their streams (compared as ratios within the run, never against the wall clock).
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class HostilePeerTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress OtherAttacker = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task Publishers_that_announce_big_frames_and_trickle_get_over_budget_or_too_slow_and_a_legitimate_publisher_keeps_streaming()
    {
        const int FrameBytes = 2 << 20;
        const int Attackers = 8;
        var limits = new LimitOptions
        {
            FramesInFlightBytes = 16 << 20,
            FramesInFlightBytesPerAddress = 4 << 20,
            MinFrameDataRate = 64 * 1024,
            MinDataRateGrace = TimeSpan.FromSeconds(1),
        };
        await using TestHub hub = TestHub.Start(new HubOptions { Limits = limits, Sessions = new() { MaxFrameBytes = FrameBytes, IdleTimeout = TimeSpan.FromSeconds(60) } });
        ByteBudget budget = hub.Server.Guards.FramesInFlight;
        AddressKey attacker = AddressKey.From(Attacker);
        await using TestViewer healthy = TestViewer.Start(hub.Endpoint, room: "main");
        await healthy.WaitForFramesAsync(3);
        await using TestViewer legitViewer = TestViewer.Start(hub.Endpoint, room: "legit");
        await using RawPeer legit = await RawPeer.ConnectAsync(hub.EndPoint);
        await legit.HandshakeAsync(PeerRole.Publisher, "legit");
        List<byte[]> jpegs = TestMedia.EncodePattern(320, 240, 4);

        // Sample what the attacker's address holds of the budget, all through the attack.
        using var stopSampling = new CancellationTokenSource();
        long maxHeldByAttacker = 0;
        Task sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                maxHeldByAttacker = Math.Max(maxHeldByAttacker, budget.InUseBy(attacker));
                await Task.Delay(2);
            }
        });

        // The first attacker alone first, until its frame (all but 100 bytes) is in: it holds half the address's share and
        // can only be ended by the data rate. The others then find the rest of the share too small for their frames.
        Task<CloseMessage> first = SlowFrameAttackAsync(hub.EndPoint, Attacker, "slow0", FrameBytes);
        await Eventually.UntilAsync(() => budget.InUseBy(attacker) >= FrameBytes, "the first attacker's frame is in");
        Task<CloseMessage>[] attacks = [first, .. Enumerable.Range(1, Attackers - 1).Select(i => SlowFrameAttackAsync(hub.EndPoint, Attacker, $"slow{i}", FrameBytes))];

        // The legitimate publisher keeps publishing (paced by the hub's own capture, not by sleeping) until every attacker is out.
        long legitSent = 0;
        long legitReceivedBefore = legitViewer.Decoded;
        long healthyBefore = healthy.Decoded;
        Room main = hub.Server.Rooms.Single(r => r.Name == "main");
        long mainPublishedBefore = main.FramesPublished;
        Task allAttacks = Task.WhenAll(attacks);
        while (!allAttacks.IsCompleted)
        {
            Assert.True(legitSent < 3000, "the attack never ended");
            await legit.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 320, 240, legitSent, jpegs[(int)(legitSent % jpegs.Count)]));
            legitSent++;
            await healthy.WaitForMoreFramesAsync(1);
        }

        CloseMessage[] errors = await Task.WhenAll(attacks);
        await legitViewer.WaitForFramesAsync(legitReceivedBefore + 1);
        long legitReceived = legitViewer.Decoded - legitReceivedBefore;
        long healthyReceived = healthy.Decoded - healthyBefore;
        long mainPublished = main.FramesPublished - mainPublishedBefore;
        await stopSampling.CancelAsync();
        await sampler;

        foreach (CloseMessage error in errors)
        {
            Assert.True(error.Code is ErrorCode.TooSlow or ErrorCode.OverBudget, $"an attacker got {error.Code.ToWireName()}: {error.Text}");
        }

        Assert.Contains(errors, e => e.Code == ErrorCode.TooSlow && e.Text.StartsWith("sending too slowly: ", StringComparison.Ordinal) && e.Text.Contains("at least 65536 B/s", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Code == ErrorCode.OverBudget && e.Text.Contains("from 127.0.0.2", StringComparison.Ordinal) && e.Text.Contains("4 MiB, the limit per address", StringComparison.Ordinal));
        Assert.True(hub.Server.Guards.Refusals[Refusal.DataRateTooLow] >= 1);
        Assert.True(hub.Server.Guards.Refusals[Refusal.FrameBudget] >= 1);

        // The attacker's address held budget (the reservation is real) but never more than its share, and everything is back.
        Assert.True(maxHeldByAttacker > FrameBytes / 2, $"the attacker's address held only {maxHeldByAttacker} bytes: nothing was reserved for its frames");
        Assert.True(maxHeldByAttacker <= limits.FramesInFlightBytesPerAddress, $"the attacker's address held {maxHeldByAttacker} bytes, above its share");
        await Eventually.UntilAsync(() => budget.InUse == 0, $"the frames-in-flight budget is back to 0 (now {budget.InUse})");

        // The legitimate streams went on: most of what was sent during the attack arrived.
        Assert.True(legitSent >= 5, $"only {legitSent} legitimate frames were sent during the attack");
        Assert.True(legitReceived >= legitSent / 2, $"the legitimate viewer got {legitReceived} of the {legitSent} frames its publisher sent during the attack");
        Assert.True(healthyReceived >= mainPublished / 2, $"the viewer of main got {healthyReceived} of the {mainPublished} frames captured during the attack");
        Assert.False(legitViewer.Run.IsCompleted, "the legitimate viewer was disconnected");

        // The burst drained: the hub collected once to give the memory back.
        await Eventually.UntilAsync(() => hub.Server.Guards.Memory.Collections >= 1, "the hub collects after the burst drains");
    }

    [Fact]
    public async Task A_large_frame_that_arrives_slowly_but_above_the_minimum_rate_is_accepted()
    {
        // 640x640 raw = 1.2 MB, sent at ~640 KiB/s in 32 KiB steps: about two seconds, across windows of 1 s that each
        // need 64 KiB (two steps): ten times the minimum, so the rate check must not cut it.
        var limits = new LimitOptions { MinFrameDataRate = 64 * 1024, MinDataRateGrace = TimeSpan.FromSeconds(1) };
        await using TestHub hub = TestHub.Start(new HubOptions { Limits = limits }, captureRoom: null);
        var received = new TaskCompletionSource<VideoFrameHeader>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "big", onReceived: (h, _) => received.TrySetResult(h));
        await Eventually.UntilAsync(() => hub.Server.Rooms.Any(r => r.Name == "big" && r.ViewerCount == 1), "the viewer is in the room");
        await using RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint);
        await publisher.HandshakeAsync(PeerRole.Publisher, "big");

        byte[] message = RawPeer.FrameMessage(CodecId.RawBgr24, 640, 640, 7, new byte[640 * 640 * 3]);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int offset = 0; offset < message.Length; offset += 32 * 1024)
        {
            if (!await SendIgnoringCloseAsync(publisher, message.AsMemory(offset, Math.Min(32 * 1024, message.Length - offset))))
            {
                Assert.Fail($"The hub closed the connection of a publisher sending at ten times the minimum rate:{Environment.NewLine}{hub.Logs.Dump()}");
            }

            await Task.Delay(50);
        }

        int windows = (int)(System.Diagnostics.Stopwatch.GetElapsedTime(started) / limits.MinDataRateGrace);
        VideoFrameHeader header = await received.Task.WaitAsync(TestHub.Timeout);
        Assert.Equal(7, header.Sequence);
        Assert.True(windows >= 1, "the frame arrived within one window: the rate was never measured");
        Assert.Equal(0, hub.Server.Guards.Refusals[Refusal.DataRateTooLow]);
        Assert.Equal(0, hub.Server.Guards.FramesInFlight.InUse);
    }

    [Fact]
    public async Task When_the_hub_wide_budget_is_spent_a_publisher_waits_and_gets_its_turn_when_the_hog_is_refused()
    {
        // The whole hub holds 1 MiB in flight, an address 4 MiB: a hog from 127.0.0.3 fills the hub's budget with a frame
        // it never finishes; a publisher from 127.0.0.2 that comes next has to wait, and gets the budget once the hog is out.
        var limits = new LimitOptions
        {
            FramesInFlightBytes = 1 << 20,
            FramesInFlightBytesPerAddress = 4 << 20,
            MinFrameDataRate = 64 * 1024,
            MinDataRateGrace = TimeSpan.FromSeconds(1),
        };
        await using TestHub hub = TestHub.Start(new HubOptions { Limits = limits }, captureRoom: null);
        var received = new TaskCompletionSource<VideoFrameHeader>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "late", onReceived: (h, _) => received.TrySetResult(h));
        await Eventually.UntilAsync(() => hub.Server.Rooms.Any(r => r.Name == "late" && r.ViewerCount == 1), "the viewer is in the room");

        await using RawPeer hog = await RawPeer.ConnectAsync(hub.EndPoint, from: OtherAttacker);
        await hog.HandshakeAsync(PeerRole.Publisher, "hog");
        byte[] hogFrame = RawPeer.FrameMessage(CodecId.RawBgr24, 1024, 1024, 1, new byte[1024 * 1024 * 3]);
        Task hogSend = SendIgnoringCloseAsync(hog, hogFrame.AsMemory(0, 1 << 20));
        await Eventually.UntilAsync(() => hub.Server.Guards.FramesInFlight.InUse >= (1 << 20) - IncomingFrameGuard.ReadSize, "the hog fills the hub's budget");

        await using RawPeer late = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
        await late.HandshakeAsync(PeerRole.Publisher, "late");
        byte[] lateFrame = RawPeer.FrameMessage(CodecId.RawBgr24, 256, 256, 42, new byte[256 * 256 * 3]);
        Task lateSend = late.SendAsync(lateFrame);

        CloseMessage hogError = await hog.ReadErrorAsync();
        Assert.Equal(ErrorCode.OverBudget, hogError.Code);
        Assert.Contains("of frames in flight, its limit", hogError.Text, StringComparison.Ordinal);
        await hogSend;
        VideoFrameHeader header = await received.Task.WaitAsync(TestHub.Timeout);
        Assert.Equal(42, header.Sequence);
        await lateSend;
        Assert.Equal(1, hub.Server.Guards.Refusals[Refusal.FrameBudget]);
        await Eventually.UntilAsync(() => hub.Server.Guards.FramesInFlight.InUse == 0, "the budget is back to 0");
    }

    [Fact]
    public async Task More_connections_than_the_cap_from_one_address_are_refused_with_the_reason_while_another_address_gets_in()
    {
        await using TestHub hub = TestHub.Start();
        int cap = hub.Server.Guards.Options.MaxConnectionsPerAddress;
        Assert.Equal(64, cap);
        var peers = new List<RawPeer>();
        try
        {
            for (int i = 0; i < cap; i++)
            {
                RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
                peers.Add(peer);
                await peer.HandshakeAsync(PeerRole.Viewer, "quiet");
            }

            await using RawPeer refused = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
            await refused.SendAsync((byte[])[.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Viewer, "quiet")]);
            CloseMessage error = await refused.ReadErrorAsync();
            Assert.Equal(ErrorCode.TooManyClients, error.Code);
            Assert.Equal("64 connections from 127.0.0.2 is the limit per address", error.Text);
            await refused.AssertClosedAsync();
            Assert.Equal(1, hub.Server.Guards.Refusals[Refusal.AddressLimit]);

            // Another address is not locked out...
            await using TestViewer other = TestViewer.Start(hub.Endpoint, room: "main");
            await other.WaitForFramesAsync(3);

            // ...and a slot given back is a slot free again.
            await peers[0].DisposeAsync();
            peers.RemoveAt(0);
            await Eventually.UntilAsync(() => hub.Server.Connections.Count(c => c.Remote.StartsWith("127.0.0.2:", StringComparison.Ordinal)) < cap, "the hub notices the closed connection");
            await using RawPeer again = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
            await again.HandshakeAsync(PeerRole.Viewer, "quiet");
            LogEntry line = await hub.Logs.WaitForAsync(e => e.EventId.Id == 14, TestHub.Timeout, "the refusal's log line (event 14)");
            Assert.Contains("64 connections from 127.0.0.2 is the limit per address", line.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (RawPeer peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_token_guesser_is_throttled_with_the_reason_without_its_token_being_checked_while_another_address_gets_in()
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { Token = "s3cret" } });
        int unauthorizedBeforeThrottled = 0;
        CloseMessage? throttled = null;
        for (int attempt = 0; attempt < 30 && throttled is null; attempt++)
        {
            CloseMessage error = await AttemptAsync(hub, Attacker, "guess" + attempt);
            if (error.Code == ErrorCode.Throttled)
            {
                throttled = error;
            }
            else
            {
                Assert.Equal(ErrorCode.Unauthorized, error.Code);
                unauthorizedBeforeThrottled++;
            }
        }

        Assert.True(throttled is not null, "30 wrong tokens in a row were never throttled");
        Assert.True(unauthorizedBeforeThrottled > hub.Server.Guards.Options.FreeFailedAttempts, $"throttled after only {unauthorizedBeforeThrottled} failures");
        Assert.Matches(@"^too many failed attempts from 127\.0\.0\.2; retry in \d+ s$", throttled.Value.Text);
        Assert.True(hub.Server.Guards.Refusals[Refusal.Throttled] >= 1);
        Assert.Equal(unauthorizedBeforeThrottled, hub.Server.Guards.Refusals[Refusal.Unauthorized]);

        // Another address with the right token is not affected.
        await using TestViewer other = TestViewer.Start(hub.Endpoint, room: "main", token: "s3cret");
        await other.WaitForFramesAsync(3);

        // While blocked, even the right token is not looked at; once the block is over it gets in, which clears the count.
        bool welcomed = false;
        int throttledWithRightToken = 0;
        for (int attempt = 0; attempt < 400 && !welcomed; attempt++)
        {
            await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
            await peer.SendAsync((byte[])[.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Viewer, "main", "s3cret")]);
            RawMessage? answer = await peer.ReadMessageAsync();
            Assert.True(answer is not null, "the hub closed without an answer");
            if (answer.Value.Type == MessageType.Welcome)
            {
                welcomed = true;
                break;
            }

            CloseMessage error = MessageParser.ParseClose(new ReadOnlySequence<byte>(answer.Value.Payload));
            Assert.Equal(ErrorCode.Throttled, error.Code);
            throttledWithRightToken++;
            await Task.Delay(50);
        }

        Assert.True(welcomed, "the right token was never let in after the block");
        CloseMessage afterSuccess = await AttemptAsync(hub, Attacker, "wrong again");
        Assert.Equal(ErrorCode.Unauthorized, afterSuccess.Code);
    }

    [Fact]
    public async Task Handshake_timeouts_and_garbage_count_as_failed_attempts_too()
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { HandshakeTimeout = TimeSpan.FromMilliseconds(200) } }, captureRoom: null);
        int failures = hub.Server.Guards.Options.FreeFailedAttempts + 1;
        for (int i = 0; i < failures; i++)
        {
            await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
            if (i % 2 == 0)
            {
                Assert.Equal(ErrorCode.HandshakeTimeout, (await peer.ReadErrorAsync()).Code); // says nothing
            }
            else
            {
                await peer.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
                Assert.Equal(ErrorCode.BadMagic, (await peer.ReadErrorAsync()).Code);
            }
        }

        // Blocked now (for 1 s): a valid HELLO is refused without being looked at.
        await using RawPeer next = await RawPeer.ConnectAsync(hub.EndPoint, from: Attacker);
        await next.SendAsync((byte[])[.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Viewer, "quiet")]);
        CloseMessage error = await next.ReadErrorAsync();
        Assert.True(error.Code == ErrorCode.Throttled, $"expected throttled, got {error.Code.ToWireName()}: {error.Text}");
        Assert.True(hub.Server.Guards.Refusals[Refusal.HandshakeTimeout] >= 1);

        // Another address is not blocked.
        await using RawPeer other = await RawPeer.ConnectAsync(hub.EndPoint);
        await other.HandshakeAsync(PeerRole.Viewer, "quiet");
    }

    [Fact]
    public async Task Connections_beyond_the_hubs_total_limit_get_too_many_clients_with_the_reason()
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { MaxConnections = 3 } }, captureRoom: null);
        var held = new List<RawPeer>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
                held.Add(peer);
                await peer.HandshakeAsync(PeerRole.Viewer, "quiet");
            }

            await using RawPeer refused = await RawPeer.ConnectAsync(hub.EndPoint);
            CloseMessage error = await refused.ReadErrorAsync();
            Assert.Equal(ErrorCode.TooManyClients, error.Code);
            Assert.Equal("The hub has 3 connections, its limit; try again later.", error.Text);
            await refused.AssertClosedAsync();
            Assert.Equal(1, hub.Server.Guards.Refusals[Refusal.ConnectionLimit]);
        }
        finally
        {
            foreach (RawPeer peer in held)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_ping_sent_in_the_same_write_as_hello_gets_its_pong()
    {
        // A long idle timeout: with the bug the PING waits for more bytes that never come, and the read below times out.
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { IdleTimeout = TimeSpan.FromMinutes(2) } }, captureRoom: null);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] ping = new byte[MessageWriter.MaxControlMessageSize];
        int pingLength = MessageWriter.WritePing(ping, new PingMessage(77, 1234));
        await peer.SendAsync((byte[])[.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Viewer, "quiet"), .. ping.AsSpan(0, pingLength)]);

        RawMessage? welcome = await peer.ReadMessageAsync();
        Assert.Equal(MessageType.Welcome, welcome?.Type);
        RawMessage? pong = await peer.ReadMessageAsync();
        Assert.Equal(MessageType.Pong, pong?.Type);
        PongMessage parsed = MessageParser.ParsePong(new ReadOnlySequence<byte>(pong!.Value.Payload));
        Assert.Equal(77u, parsed.Id);
        Assert.Equal(1234, parsed.EchoSentMicros);
    }

    [Fact]
    public async Task Frames_above_max_publish_fps_are_dropped_and_counted_and_the_publisher_stays()
    {
        var limits = new LimitOptions { MaxPublishFps = 5 };
        await using TestHub hub = TestHub.Start(new HubOptions { Limits = limits }, captureRoom: null);
        await using RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint);
        await publisher.HandshakeAsync(PeerRole.Publisher, "capped");
        List<byte[]> jpegs = TestMedia.EncodePattern(320, 240, 4);
        const int Sent = 60;
        byte[] burst = [.. Enumerable.Range(0, Sent).SelectMany(i => RawPeer.FrameMessage(CodecId.Jpeg, 320, 240, i, jpegs[i % jpegs.Count]))];
        await publisher.SendAsync(burst);

        // A PING after the burst: its PONG means every frame before it was handled.
        byte[] ping = new byte[MessageWriter.MaxControlMessageSize];
        await publisher.SendAsync(ping.AsMemory(0, MessageWriter.WritePing(ping, new PingMessage(1, 0))));
        RawMessage? pong = await publisher.ReadMessageAsync();
        Assert.Equal(MessageType.Pong, pong?.Type);

        Room room = hub.Server.Rooms.Single(r => r.Name == "capped");
        long dropped = hub.Server.Guards.Refusals[Refusal.PublishRateLimit];
        Assert.True(dropped >= 1, "no frame was dropped");
        Assert.True(room.FramesPublished >= 1, "no frame was published");
        Assert.Equal(Sent, room.FramesPublished + dropped);
        Assert.Single(hub.Logs.Entries, e => e.EventId.Id == 15);
        Assert.Contains(hub.Server.Connections, c => c.RoomName == "capped" && c.Role == PeerRole.Publisher);
    }

    /// <summary>
    /// Finding 2's attacker: a publisher in its own room announces a big frame, sends all of it but the last 100 bytes,
    /// then a byte every 100 ms; returns the ERROR the hub ends it with.
    /// </summary>
    private static async Task<CloseMessage> SlowFrameAttackAsync(IPEndPoint hub, IPAddress from, string room, int frameBytes)
    {
        await using RawPeer peer = await RawPeer.ConnectAsync(hub, from: from);
        await peer.HandshakeAsync(PeerRole.Publisher, room);
        byte[] message = RawPeer.FrameMessage(CodecId.Jpeg, 4096, 2048, 0, new byte[frameBytes]);
        if (await SendIgnoringCloseAsync(peer, message.AsMemory(0, message.Length - 100)))
        {
            for (int i = 0; i < 99; i++)
            {
                await Task.Delay(100);
                if (!await SendIgnoringCloseAsync(peer, message.AsMemory(message.Length - 100 + i, 1)))
                {
                    break;
                }
            }
        }

        return await peer.ReadErrorAsync();
    }

    /// <summary>Sends; false when the hub has closed the connection (its ERROR is then waiting to be read).</summary>
    private static async Task<bool> SendIgnoringCloseAsync(RawPeer peer, ReadOnlyMemory<byte> bytes)
    {
        try
        {
            await peer.SendAsync(bytes);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<CloseMessage> AttemptAsync(TestHub hub, IPAddress from, string token)
    {
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint, from: from);
        await peer.SendAsync((byte[])[.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Viewer, "main", token)]);
        CloseMessage error = await peer.ReadErrorAsync();
        await peer.AssertClosedAsync();
        return error;
    }
}
