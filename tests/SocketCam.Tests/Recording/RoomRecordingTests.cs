using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Recording;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>
/// A room's recorder sees every frame the room publishes, in order, even when it is slower than the source: the source
/// waits for it (back-pressure) while live viewers of the same room go on getting frames, skipping as they always do.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class RoomRecordingTests : IDisposable
{
    private const int CannotKeepUpEventId = 303;
    private const int FileClosedEventId = 302;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-room-rec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_slow_recorder_gets_every_captured_frame_while_a_viewer_keeps_watching()
    {
        TestHub hub = TestHub.Start(captureRoom: null);
        // Slowness that cannot be caused for real on demand: a disk or an encoder that takes 25 ms a frame,
        // against a 100 fps source.
        var slow = new SlowRecorder(TimeSpan.FromMilliseconds(25));
        RecordingSink sink = RecordingSink.Start("room 'main'", slow, new RecordingOptions { MaxQueuedFrames = 4 }, hub.Logs.CreateLogger("SocketCam.Recording"));
        Room room = hub.Server.GetOrCreateRoom("main");
        room.AddRecorder(sink);
        hub.StartCapture("main", fps: 100);
        try
        {
            await using (TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "main"))
            {
                await viewer.WaitForFramesAsync(20);
                await Eventually.UntilAsync(() => slow.FramesWritten >= 40, "the recorder wrote 40 frames");
                await hub.Logs.WaitForAsync(e => e.EventId.Id == CannotKeepUpEventId, TestHub.Timeout, "'recorder cannot keep up'");
                AssertIncreasing(viewer.Sequences);
            }
        }
        finally
        {
            // Stop the source first, then let the recorder finish what it was handed.
            await hub.DisposeAsync();
            await sink.CompleteAsync();
            await sink.DisposeAsync();
        }

        Assert.Null(sink.Failure);
        IReadOnlyList<long> recorded = slow.Sequences;
        Assert.Equal(room.FramesPublished, recorded.Count);
        AssertContiguous(recorded);
        Assert.True(sink.Queue.StalledFrames > 0);
    }

    [Fact]
    public async Task A_slow_recorder_holds_back_a_remote_publisher_through_tcp_and_still_gets_every_frame()
    {
        TestHub hub = TestHub.Start(captureRoom: null);
        var slow = new SlowRecorder(TimeSpan.FromMilliseconds(25));
        RecordingSink sink = RecordingSink.Start("room 'pub'", slow, new RecordingOptions { MaxQueuedFrames = 4 }, hub.Logs.CreateLogger("SocketCam.Recording"));
        Room room = hub.Server.GetOrCreateRoom("pub");
        room.AddRecorder(sink);
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 100 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new PublisherClient(hub.Endpoint, new ClientOptions { Room = "pub", Reconnect = false, Agent = "test publisher" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            await using (TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "pub"))
            {
                await viewer.WaitForFramesAsync(20);
                await Eventually.UntilAsync(() => slow.FramesWritten >= 40, "the recorder wrote 40 frames");
                await hub.Logs.WaitForAsync(e => e.EventId.Id == CannotKeepUpEventId, TestHub.Timeout, "'recorder cannot keep up'");
                AssertIncreasing(viewer.Sequences);
                Assert.False(publishing.IsCompleted, "the publisher's session ended");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.WaitAsync(TestHub.Timeout);
            await hub.DisposeAsync();
            await sink.CompleteAsync();
            await sink.DisposeAsync();
        }

        Assert.Null(sink.Failure);
        IReadOnlyList<long> recorded = slow.Sequences;
        Assert.Equal(room.FramesPublished, recorded.Count);
        AssertIncreasing(recorded);
        // The publisher never skips: it was held back, so every frame it sent reached the room and the recorder.
        AssertContiguous(recorded);
    }

    [Fact]
    public async Task A_recording_directory_follows_rooms_as_publishers_come_and_go()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        var options = new RecordingOptions { MaxFileBytes = 0, MaxFileDuration = TimeSpan.Zero };
        using ILoggerFactory loggers = hub.Logs.CreateFactory();
        var directory = new RecordingDirectory(_directory, RecordingFormat.Mjpeg, options, loggers);
        hub.Server.AddRoomObserver(directory);
        long published;
        try
        {
            await using (var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 60 }))
            using (IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg))
            {
                var publisher = new PublisherClient(hub.Endpoint, new ClientOptions { Room = "alice", Reconnect = false, Agent = "test publisher" }, source, encoder);
                using var stop = new CancellationTokenSource();
                Task publishing = publisher.RunAsync(stop.Token);
                await Eventually.UntilAsync(() => directory.FramesRecorded >= 20, "20 frames of room 'alice' recorded");
                Room alice = hub.Server.Rooms.Single(r => r.Name == "alice");
                await stop.CancelAsync();
                await publishing.WaitAsync(TestHub.Timeout);

                // The publisher left, so the room went away and its file was finished while the hub runs on.
                await hub.Logs.WaitForAsync(e => e.EventId.Id == FileClosedEventId && e.Message.Contains("'alice'", StringComparison.Ordinal), TestHub.Timeout, "'closed' for room alice");
                published = alice.FramesPublished;
            }
        }
        finally
        {
            await directory.DisposeAsync();
        }

        string file = Assert.Single(Directory.GetFiles(_directory));
        Assert.Matches(@"^alice-\d{8}-\d{6}\.mjpeg$", Path.GetFileName(file));
        Assert.Equal(published, directory.FramesRecorded);
        Assert.Equal(published, (await MediaProbe.ProbeAsync(file, "mjpeg")).Frames);
        Assert.Empty(directory.Failures);
    }

    private static void AssertIncreasing(IReadOnlyList<long> sequences)
    {
        for (int i = 1; i < sequences.Count; i++)
        {
            Assert.True(sequences[i] > sequences[i - 1], $"sequence went from {sequences[i - 1]} to {sequences[i]}");
        }
    }

    private static void AssertContiguous(IReadOnlyList<long> sequences)
    {
        for (int i = 1; i < sequences.Count; i++)
        {
            Assert.True(sequences[i] == sequences[i - 1] + 1, $"the recording skipped from frame {sequences[i - 1]} to {sequences[i]}");
        }
    }

    /// <summary>A recorder that takes a fixed time per frame and remembers which frames it got.</summary>
    private sealed class SlowRecorder(TimeSpan perFrame) : IFrameRecorder
    {
        private readonly Lock _lock = new();
        private readonly List<long> _sequences = [];

        public string Description => "slow test recorder";

        public long FramesWritten
        {
            get
            {
                lock (_lock)
                {
                    return _sequences.Count;
                }
            }
        }

        public long BytesWritten => 0;

        public IReadOnlyList<long> Sequences
        {
            get
            {
                lock (_lock)
                {
                    return [.. _sequences];
                }
            }
        }

        public async ValueTask WriteAsync(JpegFrame frame, CancellationToken cancellationToken)
        {
            Assert.True(JpegStructure.TryValidate(frame.Data.Span, out _, out _, out _));
            await Task.Delay(perFrame, cancellationToken);
            lock (_lock)
            {
                _sequences.Add(frame.Sequence);
            }
        }

        public ValueTask CompleteAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
