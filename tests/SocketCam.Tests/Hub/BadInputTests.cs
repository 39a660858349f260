using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Hub;

/// <summary>
/// Every kind of bad peer gets the ERROR the protocol names, is disconnected, costs exactly one warning line in the
/// hub's log, and never disturbs a healthy viewer in the same hub.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class BadInputTests
{
    private const int RejectedEventId = 4;

    [Fact]
    public async Task Garbage_bytes_get_bad_magic_and_a_close()
    {
        var random = new Random(1234);
        byte[] garbage = new byte[200];
        random.NextBytes(garbage);
        garbage[0] = 0x00; // certainly not 'S'

        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        await peer.SendAsync(garbage);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.BadMagic);
    }

    [Fact]
    public async Task An_http_request_gets_bad_magic_and_a_close()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        await peer.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.BadMagic);
    }

    [Fact]
    public async Task A_wrong_magic_is_refused_after_four_bytes_without_waiting_for_the_rest()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        await peer.SendAsync("SCAX"u8.ToArray()); // 4 bytes only; a hub waiting for 8 would hang here

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.BadMagic);
    }

    // Version 2 is a session of its own (docs/PROTOCOL.md Part II, tests in Rooms/); 3 and 0 are not versions this hub speaks.
    [Theory]
    [InlineData(3)]
    [InlineData(0)]
    public async Task A_wrong_version_gets_unsupported_version(int version)
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] hello = [.. RawPeer.Preface((ushort)version), .. RawPeer.Hello(PeerRole.Viewer, "main")];
        await peer.SendAsync(hello);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.UnsupportedVersion);
    }

    [Fact]
    public async Task A_hello_longer_than_1_KiB_is_too_large_from_its_header_alone()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        // Preface and a HELLO header announcing 1025 bytes, and no payload: the hub must not wait for it.
        byte[] bytes = [.. RawPeer.Preface(), .. Header(MessageType.Hello, 1025)];
        await peer.SendAsync(bytes);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.TooLarge);
    }

    [Fact]
    public async Task A_frame_header_before_hello_is_too_large_at_once_without_buffering_its_payload()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        // An unauthenticated peer announces a 16 MiB frame and sends none of it: the hub must refuse it from the header.
        byte[] bytes = [.. RawPeer.Preface(), .. Header(MessageType.VideoFrame, 24 + (16 * 1024 * 1024))];
        await peer.SendAsync(bytes);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.TooLarge);
    }

    [Fact]
    public async Task A_viewer_that_pings_without_reading_is_disconnected_when_its_answers_pile_up()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint, receiveBufferSize: 4096);
        await peer.HandshakeAsync(PeerRole.Viewer, "main");
        byte[] ping = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WritePing(ping, new PingMessage(1, 0));
        Task<LogEntry> left = hub.Logs.WaitForAsync(e => e.EventId.Id == 3 && e.Message.Contains(peer.LocalEndPoint.ToString(), StringComparison.Ordinal), TestHub.Timeout, "'left' (event 3)");

        // Never read: the hub's sends stall on frames, so its PONGs queue up until the queue overflows and it hangs up.
        // Pings are paced by the healthy viewer's frames (no sleeping); sending fails once the hub closed the socket.
        for (int i = 0; !left.IsCompleted; i++)
        {
            Assert.True(i < 2000, "The hub never disconnected a peer whose PONGs piled up.");
            try
            {
                await peer.SendAsync(ping.AsMemory(0, length));
            }
            catch (System.Net.Sockets.SocketException)
            {
                break;
            }

            if (i % 10 == 9)
            {
                await healthy.WaitForMoreFramesAsync(1);
            }
        }

        LogEntry entry = await left;
        Assert.Contains("connection lost", entry.Message, StringComparison.Ordinal);
        await healthy.WaitForMoreFramesAsync(3);
        Assert.False(healthy.Run.IsCompleted, "the healthy viewer's session ended");
    }

    [Fact]
    public async Task A_publisher_frame_over_max_frame_bytes_is_too_large_from_its_header_alone()
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { MaxFrameBytes = 64 * 1024 } });
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        WelcomeMessage welcome = await peer.HandshakeAsync(PeerRole.Publisher, "big");
        Assert.Equal(64u * 1024, welcome.MaxFrameBytes);

        await peer.SendAsync(Header(MessageType.VideoFrame, 24 + (64 * 1024) + 1));

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.TooLarge);
    }

    [Fact]
    public async Task A_publisher_that_vanishes_in_the_middle_of_a_frame_is_logged_once_and_harms_nobody()
    {
        byte[] jpeg = TestMedia.EncodePattern(320, 240, 1)[0];
        byte[] message = RawPeer.FrameMessage(CodecId.Jpeg, 320, 240, 0, jpeg);

        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using TestViewer cutViewer = TestViewer.Start(hub.Endpoint, room: "cut");
        IPEndPoint offender;
        await using (RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint))
        {
            offender = peer.LocalEndPoint;
            await peer.HandshakeAsync(PeerRole.Publisher, "cut");
            await peer.SendAsync(message.AsMemory(0, message.Length / 2));
        }

        // No ERROR can reach a peer that is gone: the hub's log line is the evidence.
        LogEntry rejected = await AssertOneWarningAndHealthyAsync(hub, healthy, offender, ErrorCode.Malformed);
        Assert.Contains("middle of a message", rejected.Message, StringComparison.Ordinal);
        Assert.Equal(0, cutViewer.Stats.Frames);
        Assert.False(cutViewer.Run.IsCompleted, "the viewer of the publisher's room was disconnected");
    }

    [Theory]
    [InlineData("eoi-overwritten")]
    [InlineData("truncated")]
    [InlineData("second-soi-in-scan-data")]
    [InlineData("garbage-after-soi")]
    [InlineData("size-differs-from-header")]
    public async Task A_corrupt_jpeg_from_a_publisher_gets_bad_frame_and_never_reaches_its_viewers(string damage)
    {
        List<byte[]> valid = TestMedia.EncodePattern(320, 240, 4);
        byte[] corrupt = Damage(valid[1], damage);
        const long corruptSequence = 1_000_000;

        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        var otherSequences = new List<long>();
        await using TestViewer other = TestViewer.Start(hub.Endpoint, room: "other", onReceived: (h, _) =>
        {
            lock (otherSequences)
            {
                otherSequences.Add(h.Sequence);
            }
        });
        await using RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint);
        await publisher.HandshakeAsync(PeerRole.Publisher, "other");

        // Publish good frames (paced by the healthy viewer's frames, not by sleeping) until the viewer of "other" sees them.
        for (int sequence = 0; other.Decoded < 3; sequence++)
        {
            Assert.True(sequence < 300, "The viewer of 'other' never received the publisher's valid frames.");
            await publisher.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 320, 240, sequence, valid[sequence % valid.Count]));
            await healthy.WaitForMoreFramesAsync(1);
        }

        await publisher.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 320, 240, corruptSequence, corrupt));

        await AssertRejectedAsync(hub, healthy, publisher, ErrorCode.BadFrame);
        Assert.Equal(0, other.Stats.Corrupt);
        lock (otherSequences)
        {
            Assert.DoesNotContain(corruptSequence, otherSequences);
        }

        Assert.False(other.Run.IsCompleted, "the viewer of 'other' was disconnected");

        // The rejected publisher gave its seat back: a new one may publish into "other".
        await using RawPeer next = await RawPeer.ConnectAsync(hub.EndPoint);
        await next.HandshakeAsync(PeerRole.Publisher, "other");
    }

    [Fact]
    public async Task A_peer_that_says_nothing_gets_handshake_timeout()
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { HandshakeTimeout = TimeSpan.FromMilliseconds(300) } });
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.HandshakeTimeout);
    }

    [Fact]
    public async Task A_peer_that_stops_in_the_middle_of_its_hello_gets_handshake_timeout()
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { HandshakeTimeout = TimeSpan.FromMilliseconds(300) } });
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] hello = RawPeer.Hello(PeerRole.Viewer, "main");
        byte[] partial = [.. RawPeer.Preface(), .. hello[..^3]];
        await peer.SendAsync(partial);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.HandshakeTimeout);
    }

    [Theory]
    [InlineData("wrong")]
    [InlineData("")]
    [InlineData("s3cret ")]
    public async Task A_wrong_or_missing_token_is_unauthorized(string token)
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { Token = "s3cret" } });
        await using TestViewer healthy = await StartHealthyViewerAsync(hub, token: "s3cret");
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] hello = [.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Viewer, "main", token)];
        await peer.SendAsync(hello);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.Unauthorized);
    }

    [Fact]
    public async Task A_second_publisher_for_the_hubs_own_room_gets_room_busy()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] hello = [.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Publisher, "main")];
        await peer.SendAsync(hello);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.RoomBusy);
    }

    [Fact]
    public async Task A_second_remote_publisher_for_a_room_gets_room_busy()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer first = await RawPeer.ConnectAsync(hub.EndPoint);
        await first.HandshakeAsync(PeerRole.Publisher, "cam");
        await using RawPeer second = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] hello = [.. RawPeer.Preface(), .. RawPeer.Hello(PeerRole.Publisher, "cam")];
        await second.SendAsync(hello);

        await AssertRejectedAsync(hub, healthy, second, ErrorCode.RoomBusy);
    }

    [Fact]
    public async Task A_viewer_that_sends_a_frame_is_too_large_from_its_header_alone()
    {
        byte[] jpeg = TestMedia.EncodePattern(320, 240, 1)[0];

        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        await peer.HandshakeAsync(PeerRole.Viewer, "main");
        await peer.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 320, 240, 0, jpeg));

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.TooLarge);
    }

    [Fact]
    public async Task A_viewer_that_sends_signal_is_malformed_and_only_it_is_closed()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        await peer.HandshakeAsync(PeerRole.Viewer, "main");
        await peer.SendAsync(RawPeer.Signal(false, "a viewer has no source to report on"));

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.Malformed);
        Assert.True(hub.Server.Rooms.Single(r => r.Name == "main").SignalLive);
        Assert.True(healthy.Stats.SignalLive);
    }

    [Fact]
    public async Task A_message_other_than_hello_first_is_malformed()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer healthy = await StartHealthyViewerAsync(hub);
        await using RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint);
        byte[] ping = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WritePing(ping, new PingMessage(1, 0));
        byte[] bytes = [.. RawPeer.Preface(), .. ping.AsSpan(0, length)];
        await peer.SendAsync(bytes);

        await AssertRejectedAsync(hub, healthy, peer, ErrorCode.Malformed);
    }

    [Fact]
    public async Task A_viewer_that_never_reads_neither_stalls_a_fast_viewer_nor_grows_a_queue()
    {
        // Raw frames (230 KB each) fill the stalled peer's socket buffers within a few frames.
        await using TestHub hub = TestHub.Start(codec: CodecId.RawBgr24);
        await using TestViewer fast = await StartHealthyViewerAsync(hub);
        await using RawPeer slow = await RawPeer.ConnectAsync(hub.EndPoint, receiveBufferSize: 8 * 1024);
        await slow.HandshakeAsync(PeerRole.Viewer, "main");
        string slowRemote = slow.LocalEndPoint.ToString();
        HubConnection connection = hub.Server.Connections.Single(c => c.Remote == slowRemote);

        // Wait (frame by frame of the fast viewer) until the hub has started skipping frames for the stalled one.
        for (int frames = 0; connection.Slot.Dropped < 3; frames++)
        {
            Assert.True(frames < 300, $"The hub never skipped a frame for the stalled viewer (sent {connection.FramesSent}, offered {connection.Slot.Offered}).");
            await fast.WaitForMoreFramesAsync(1);
        }

        Room room = hub.Server.Rooms.Single(r => r.Name == "main");
        Assert.Contains((IRoomViewer)connection, room.Viewers);
        long sentBefore = connection.FramesSent;
        long droppedBefore = connection.Slot.Dropped;
        long fastBefore = fast.Decoded;

        await fast.WaitForMoreFramesAsync(30);

        // The fast viewer got its 30 frames while the slow one took at most the one that was already on its way...
        Assert.True(fast.Decoded - fastBefore >= 30);
        Assert.True(connection.FramesSent - sentBefore <= 1, $"the stalled viewer was sent {connection.FramesSent - sentBefore} frames");
        Assert.True(connection.Slot.Dropped - droppedBefore >= 20, $"only {connection.Slot.Dropped - droppedBefore} frames were skipped for the stalled viewer");

        // ...and the hub holds at most one frame for it in the slot plus one in its blocked send: nothing queues up.
        long offered = connection.Slot.Offered;
        long dropped = connection.Slot.Dropped;
        long sent = connection.FramesSent;
        Assert.True(offered - dropped - sent <= 2, $"offered {offered}, skipped {dropped}, sent {sent}: {offered - dropped - sent} frames held");
        Assert.Empty(hub.Warnings);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    /// <summary>A viewer of "main" that has already decoded a few frames (so the hub is known to be streaming).</summary>
    private static async Task<TestViewer> StartHealthyViewerAsync(TestHub hub, string? token = null)
    {
        TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "main", token: token);
        await viewer.WaitForFramesAsync(3);
        return viewer;
    }

    /// <summary>The offender reads the expected ERROR, then the close; then the log and the healthy viewer are checked.</summary>
    private static async Task AssertRejectedAsync(TestHub hub, TestViewer healthy, RawPeer peer, ErrorCode expected)
    {
        CloseMessage error = await peer.ReadErrorAsync();
        Assert.True(expected == error.Code, $"Expected ERROR {expected.ToWireName()}, got {error.Code.ToWireName()}: {error.Text}");
        Assert.False(string.IsNullOrWhiteSpace(error.Text));
        await peer.AssertClosedAsync();
        await AssertOneWarningAndHealthyAsync(hub, healthy, peer.LocalEndPoint, expected);
    }

    private static async Task<LogEntry> AssertOneWarningAndHealthyAsync(TestHub hub, TestViewer healthy, IPEndPoint offender, ErrorCode code)
    {
        LogEntry rejected = await hub.Logs.WaitForAsync(e => e.EventId.Id == RejectedEventId, TestHub.Timeout, "'rejected' (event 4)");
        await healthy.WaitForMoreFramesAsync(5);

        IReadOnlyList<LogEntry> warnings = hub.Warnings;
        Assert.True(warnings.Count == 1, $"Expected exactly one warning, got {warnings.Count}:{Environment.NewLine}{hub.Logs.Dump()}");
        Assert.Same(rejected, warnings[0]);
        Assert.Equal(LogLevel.Warning, rejected.Level);
        Assert.Contains(offender.ToString(), rejected.Message, StringComparison.Ordinal);
        Assert.Contains(code.ToWireName(), rejected.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', rejected.Message);
        Assert.Null(rejected.Exception);

        Assert.Equal(0, healthy.Stats.Corrupt);
        Assert.Equal(0, healthy.Stats.Reconnects);
        Assert.False(healthy.Run.IsCompleted, "the healthy viewer's session ended");
        return rejected;
    }

    private static byte[] Header(MessageType type, int length)
    {
        byte[] header = new byte[ProtocolConstants.MessageHeaderSize];
        MessageWriter.WriteHeader(header, type, length);
        return header;
    }

    private static byte[] Damage(byte[] jpeg, string damage)
    {
        byte[] copy = jpeg.ToArray();
        switch (damage)
        {
            case "eoi-overwritten":
                copy[^2] = 0x00;
                copy[^1] = 0x00;
                return copy;
            case "truncated":
                return copy[..(copy.Length / 2)];
            case "second-soi-in-scan-data":
                // Well inside the entropy-coded data (the headers are well under 1 KB).
                int middle = copy.Length / 2;
                Assert.True(middle > 1024);
                copy[middle] = 0xFF;
                copy[middle + 1] = 0xD8;
                return copy;
            case "garbage-after-soi":
                new Random(7).NextBytes(copy.AsSpan(2, 64));
                copy[2] = 0x12; // not a marker prefix
                return copy;
            case "size-differs-from-header":
                return TestMedia.EncodePattern(160, 120, 1)[0];
            default:
                throw new ArgumentOutOfRangeException(nameof(damage), damage, null);
        }
    }
}
