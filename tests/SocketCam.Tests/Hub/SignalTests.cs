using System.Buffers;
using Microsoft.Extensions.Logging;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Hub;

/// <summary>
/// The "no signal" state (SIGNAL, docs/PROTOCOL.md): set by the source's side, kept by the room, told to every viewer
/// (also to one that joins later), cleared by the next frame, and shown by the viewer client.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class SignalTests
{
    private const int NoSignalEventId = 10;
    private const int SignalBackEventId = 11;
    private const int NoSignalClientEventId = 104;
    private const int SignalBackClientEventId = 105;
    private const string Reason = "ffmpeg exited with code 1: /dev/video0: No such device";

    // ---- the room alone ----------------------------------------------------------------------------------------

    [Fact]
    public void Room_signal_tells_viewers_once_per_change_and_a_joining_viewer_the_current_state()
    {
        using var room = new Room("cam");
        var early = new RecordingViewer();
        room.AddViewer(early);
        Assert.True(room.SignalLive);
        Assert.Null(room.SignalReason);

        Assert.True(room.SetSignal(false, Reason));
        Assert.False(room.SetSignal(false, Reason));
        Assert.True(room.SetSignal(false, "retry 2 failed")); // a new reason is a change
        var late = new RecordingViewer();
        room.AddViewer(late);
        Assert.False(room.SignalLive);
        Assert.Equal("retry 2 failed", room.SignalReason);
        Assert.True(room.SetSignal(true, ""));
        Assert.False(room.SetSignal(true, "still live"));
        var afterwards = new RecordingViewer();
        room.AddViewer(afterwards);

        Assert.Equal([new(false, Reason), new(false, "retry 2 failed"), new(true, "")], early.Signals);
        Assert.Equal([new(false, "retry 2 failed"), new(true, "")], late.Signals);
        Assert.Empty(afterwards.Signals); // joining a live room: nothing to say
        Assert.True(room.SignalLive);
        Assert.Null(room.SignalReason);
    }

    [Fact]
    public void Room_signal_reason_loses_its_control_characters_and_surrounding_space()
    {
        using var room = new Room("cam");
        room.SetSignal(false, "\u001b[31mopen failed\r\nNo such device\n");
        Assert.Equal("[31mopen failed  No such device", room.SignalReason);
    }

    [Fact]
    public void A_frame_published_after_no_signal_is_preceded_by_signal_live()
    {
        using var room = new Room("cam");
        var viewer = new RecordingViewer();
        room.AddViewer(viewer);
        room.SetSignal(false, Reason);
        MediaFrame frame = MediaFrame.Rent(16);
        try
        {
            room.Publish(frame);

            Assert.True(room.SignalLive);
            Assert.Equal([new(false, Reason), new(true, "")], viewer.Signals);
            Assert.Equal([false, false], viewer.SlotFullAtSignal); // told before the frame was offered
            MediaFrame? offered = viewer.Slot.Take();
            Assert.Same(frame, offered);
            offered!.Release();
        }
        finally
        {
            frame.Release();
        }
    }

    // ---- the hub over sockets ------------------------------------------------------------------------------------

    [Fact]
    public async Task SetSignal_reaches_a_connected_viewer_and_frames_flow_again_after_signal_live()
    {
        byte[] jpeg = TestMedia.EncodePattern(64, 48, 1)[0];
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint);
        await publisher.HandshakeAsync(PeerRole.Publisher, "cam");
        await using RawPeer viewer = await RawPeer.ConnectAsync(hub.EndPoint);
        await viewer.HandshakeAsync(PeerRole.Viewer, "cam");
        await SyncAsync(viewer);
        Room room = hub.Server.Rooms.Single(r => r.Name == "cam");

        room.SetSignal(false, Reason);
        Assert.Equal(new SignalMessage(false, Reason), await ReadSignalAsync(viewer));

        room.SetSignal(true, "");
        Assert.Equal(new SignalMessage(true, ""), await ReadSignalAsync(viewer));

        await publisher.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 64, 48, 7, jpeg));
        RawMessage frame = await ReadAsync(viewer);
        Assert.Equal(MessageType.VideoFrame, frame.Type);
        Assert.Equal(7, MessageParser.ParseVideoFrame(new ReadOnlySequence<byte>(frame.Payload), out _).Sequence);

        LogEntry lost = await hub.Logs.WaitForAsync(e => e.EventId.Id == NoSignalEventId, TestHub.Timeout, "'no signal' (event 10)");
        Assert.Equal($"Room 'cam': no signal: {Reason}", lost.Message);
        await hub.Logs.WaitForAsync(e => e.EventId.Id == SignalBackEventId && e.Message == "Room 'cam': signal back", TestHub.Timeout, "'signal back' (event 11)");
        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task A_viewer_joining_a_room_without_signal_hears_it_right_after_welcome_and_live_before_the_next_frame()
    {
        byte[] jpeg = TestMedia.EncodePattern(64, 48, 1)[0];
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint);
        await publisher.HandshakeAsync(PeerRole.Publisher, "cam");
        hub.Server.Rooms.Single(r => r.Name == "cam").SetSignal(false, Reason);

        await using RawPeer viewer = await RawPeer.ConnectAsync(hub.EndPoint);
        await viewer.HandshakeAsync(PeerRole.Viewer, "cam");
        RawMessage first = await ReadAsync(viewer);
        Assert.Equal(MessageType.Signal, first.Type);
        Assert.Equal(new SignalMessage(false, Reason), MessageParser.ParseSignal(new ReadOnlySequence<byte>(first.Payload)));

        // The publisher's next frame means live again: SIGNAL live comes first, then the frame.
        await publisher.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 64, 48, 1, jpeg));
        Assert.Equal(new SignalMessage(true, ""), await ReadSignalAsync(viewer));
        Assert.Equal(MessageType.VideoFrame, (await ReadAsync(viewer)).Type);

        // A viewer of a live room hears no SIGNAL: the first thing after WELCOME is the answer to its PING.
        await using RawPeer another = await RawPeer.ConnectAsync(hub.EndPoint);
        await another.HandshakeAsync(PeerRole.Viewer, "cam");
        await SyncAsync(another);
    }

    [Fact]
    public async Task A_publishers_signal_reaches_every_viewer_and_its_leaving_means_no_signal()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RawPeer viewer1 = await RawPeer.ConnectAsync(hub.EndPoint);
        await viewer1.HandshakeAsync(PeerRole.Viewer, "cam");
        await SyncAsync(viewer1);
        await using RawPeer viewer2 = await RawPeer.ConnectAsync(hub.EndPoint);
        await viewer2.HandshakeAsync(PeerRole.Viewer, "cam");
        await SyncAsync(viewer2);
        Room room = hub.Server.Rooms.Single(r => r.Name == "cam");

        await using (RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint))
        {
            await publisher.HandshakeAsync(PeerRole.Publisher, "cam");
            await publisher.SendAsync(RawPeer.Signal(false, "camera unplugged"));
            Assert.Equal(new SignalMessage(false, "camera unplugged"), await ReadSignalAsync(viewer1));
            Assert.Equal(new SignalMessage(false, "camera unplugged"), await ReadSignalAsync(viewer2));
            Assert.False(room.SignalLive);
            Assert.Equal("camera unplugged", room.SignalReason);

            await publisher.SendAsync(RawPeer.Signal(true, "camera back"));
            Assert.Equal(new SignalMessage(true, "camera back"), await ReadSignalAsync(viewer1));
            Assert.Equal(new SignalMessage(true, "camera back"), await ReadSignalAsync(viewer2));
            Assert.True(room.SignalLive);
        }

        // The publisher hung up: its viewers stay and are told why nothing comes.
        Assert.Equal(new SignalMessage(false, Room.PublisherLeftReason), await ReadSignalAsync(viewer1));
        Assert.Equal(new SignalMessage(false, Room.PublisherLeftReason), await ReadSignalAsync(viewer2));
        Assert.Equal("publisher left", room.SignalReason);
        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task A_publisher_client_sends_signal_after_welcome_and_on_every_change()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "pub");
        await using var source = new GatedSource(new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 0 }));
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new PublisherClient(hub.Endpoint, new ClientOptions { Room = "pub", Reconnect = false, Agent = "test publisher" }, source, encoder);
        using var stop = new CancellationTokenSource();

        // Reported before connecting: kept, and sent right after WELCOME.
        await publisher.SendSignalAsync(false, "camera unplugged\r\n", stop.Token);
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            Assert.Equal([new(false, "camera unplugged")], await viewer.WaitForSignalsAsync(1));
            Assert.False(viewer.Stats.SignalLive);
            Assert.Equal("camera unplugged", viewer.Stats.SignalReason);

            await publisher.SendSignalAsync(true, "camera back", stop.Token);
            Assert.Equal(new SignalChange(true, null), (await viewer.WaitForSignalsAsync(2))[1]);

            // Lost again; then a frame goes out, which means live without a SIGNAL from the publisher.
            await publisher.SendSignalAsync(false, "camera unplugged", stop.Token);
            Assert.Equal(new SignalChange(false, "camera unplugged"), (await viewer.WaitForSignalsAsync(3))[2]);
            source.Allow(1);
            await viewer.WaitForFramesAsync(1);
            Assert.Equal(new SignalChange(true, null), (await viewer.WaitForSignalsAsync(4))[3]);
            Assert.Equal(2, viewer.Stats.NoSignalEvents);
            Assert.False(publishing.IsCompleted, "the publisher's session ended");
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.WaitAsync(TestHub.Timeout);
        }

        // It said goodbye: the viewer stays in the room and is told the publisher left.
        Assert.Equal(new SignalChange(false, Room.PublisherLeftReason), (await viewer.WaitForSignalsAsync(5))[4]);
        Assert.Equal(3, viewer.Stats.NoSignalEvents);
        Assert.False(viewer.Run.IsCompleted, "the viewer's session ended");
        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task A_viewer_client_tracks_the_signal_state_and_counts_losses()
    {
        byte[][] jpegs = [.. TestMedia.EncodePattern(64, 48, 2)];
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RawPeer publisher = await RawPeer.ConnectAsync(hub.EndPoint);
        await publisher.HandshakeAsync(PeerRole.Publisher, "cam");
        Room room = hub.Server.Rooms.Single(r => r.Name == "cam");
        var logs = new CapturingLoggerProvider();
        using ILoggerFactory loggers = logs.CreateFactory();
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "cam", loggerFactory: loggers);
        Assert.True(viewer.Stats.SignalLive);
        Assert.Null(viewer.Stats.SignalReason);
        Assert.Equal(0, viewer.Stats.NoSignalEvents);

        // Whether the viewer is already in the room or joins a moment later, it hears this exactly once.
        room.SetSignal(false, Reason);
        Assert.Equal([new(false, Reason)], await viewer.WaitForSignalsAsync(1));
        Assert.False(viewer.Stats.SignalLive);
        Assert.Equal(Reason, viewer.Stats.SignalReason);
        Assert.Equal(1, viewer.Stats.NoSignalEvents);

        room.SetSignal(true, "");
        Assert.Equal(new SignalChange(true, null), (await viewer.WaitForSignalsAsync(2))[1]);
        Assert.True(viewer.Stats.SignalLive);
        Assert.Null(viewer.Stats.SignalReason);

        await publisher.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 64, 48, 1, jpegs[0]));
        await viewer.WaitForFramesAsync(1);

        room.SetSignal(false, "file ended");
        await viewer.WaitForSignalsAsync(3);
        await publisher.SendAsync(RawPeer.FrameMessage(CodecId.Jpeg, 64, 48, 2, jpegs[1]));
        await viewer.WaitForFramesAsync(2);

        Assert.Equal([new(false, Reason), new(true, null), new(false, "file ended"), new(true, null)], viewer.Signals);
        Assert.Equal(2, viewer.Stats.NoSignalEvents);
        Assert.True(viewer.Stats.SignalLive);
        Assert.Equal(0, viewer.Stats.Corrupt);

        // One Information line per change: what `view` shows in its log.
        string[] lines = [.. logs.Entries.Where(e => e.EventId.Id is NoSignalClientEventId or SignalBackClientEventId).Select(e => $"{e.Level} {e.Message}")];
        Assert.Equal([$"Information No signal: {Reason}", "Information Signal back", "Information No signal: file ended", "Information Signal back"], lines);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Pings and reads up to the PONG. The hub answers only once the viewer's receive loop runs, which starts after the
    /// viewer joined its room: from here on, the viewer gets everything the room sends.
    /// </summary>
    private static async Task SyncAsync(RawPeer viewer)
    {
        byte[] ping = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WritePing(ping, new PingMessage(42, 0));
        await viewer.SendAsync(ping.AsMemory(0, length));
        RawMessage answer = await ReadAsync(viewer);
        Assert.Equal(MessageType.Pong, answer.Type);
    }

    private static async Task<RawMessage> ReadAsync(RawPeer peer)
    {
        RawMessage? message = await peer.ReadMessageAsync();
        Assert.True(message is not null, "The hub closed the connection.");
        return message.Value;
    }

    private static async Task<SignalMessage> ReadSignalAsync(RawPeer peer)
    {
        RawMessage message = await ReadAsync(peer);
        Assert.Equal(MessageType.Signal, message.Type);
        return MessageParser.ParseSignal(new ReadOnlySequence<byte>(message.Payload));
    }

    /// <summary>A viewer without a socket: records what the room tells it, and whether a frame was waiting at the time.</summary>
    private sealed class RecordingViewer : IRoomViewer
    {
        public VideoSlot Slot { get; } = new(new AsyncSignal());

        public List<SignalMessage> Signals { get; } = [];

        public List<bool> SlotFullAtSignal { get; } = [];

        public void OnSignal(SignalMessage message)
        {
            Signals.Add(message);
            SlotFullAtSignal.Add(Slot.IsFull);
        }
    }

    /// <summary>A source that hands out a frame only when the test allows one (a camera that is "unplugged" until then).</summary>
    private sealed class GatedSource(IFrameSource inner) : IFrameSource
    {
        private readonly SemaphoreSlim _gate = new(0);

        public string Description => "gated " + inner.Description;

        public int Width => inner.Width;

        public int Height => inner.Height;

        public double Fps => inner.Fps;

        public void Allow(int frames) => _gate.Release(frames);

        public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            return await inner.ReadFrameAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            _gate.Dispose();
        }
    }
}
