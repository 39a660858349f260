using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using SocketCam.Media;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Hub;

/// <summary>One room, many viewers; remote publishers; capture that sleeps while nobody watches; reconnects.</summary>
[Collection(NetworkCollection.Name)]
public sealed class FanOutTests
{
    private const int CapturePausedEventId = 8;
    private const int LeftEventId = 3;

    [Fact]
    public async Task Five_viewers_of_one_room_get_increasing_sequences_and_identical_pictures()
    {
        await using TestHub hub = TestHub.Start();
        var viewers = new List<TestViewer>();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                viewers.Add(TestViewer.Start(hub.Endpoint, room: "main", hashPictures: true));
            }

            await Task.WhenAll(viewers.Select(v => v.WaitForFramesAsync(20)));

            foreach (TestViewer viewer in viewers)
            {
                IReadOnlyList<long> sequences = viewer.Sequences;
                for (int i = 1; i < sequences.Count; i++)
                {
                    Assert.True(sequences[i] > sequences[i - 1], $"sequence went from {sequences[i - 1]} to {sequences[i]}");
                }

                Assert.Equal(0, viewer.Stats.Corrupt);
                Assert.Equal(320, viewer.Stats.Width);
                Assert.Equal(240, viewer.Stats.Height);
                Assert.Equal(CodecId.Jpeg, viewer.Stats.Codec);
            }

            // Every viewer decoded the very same picture for the same frame (one shared encoded frame, fanned out).
            List<IReadOnlyDictionary<long, string>> hashes = [.. viewers.Select(v => v.Hashes)];
            HashSet<long> common = [.. hashes[0].Keys];
            foreach (IReadOnlyDictionary<long, string> h in hashes.Skip(1))
            {
                common.IntersectWith(h.Keys);
            }

            Assert.True(common.Count >= 10, $"only {common.Count} frames were seen by all five viewers");
            foreach (long sequence in common)
            {
                Assert.All(hashes, h => Assert.Equal(hashes[0][sequence], h[sequence]));
            }

            // The pictures really differ from frame to frame, so equal hashes mean something.
            Assert.True(common.Select(s => hashes[0][s]).Distinct().Count() > common.Count / 2);
        }
        finally
        {
            foreach (TestViewer viewer in viewers)
            {
                await viewer.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_remote_publisher_reaches_the_viewers_of_its_room_with_its_own_frame_size()
    {
        await using TestHub hub = TestHub.Start(); // room "main" has the hub's own 320x240 capture
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "pub");
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new PublisherClient(hub.Endpoint, new ClientOptions { Room = "pub", Reconnect = false, Agent = "test publisher" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            await viewer.WaitForFramesAsync(10);

            Assert.Equal(160, viewer.Stats.Width);
            Assert.Equal(120, viewer.Stats.Height);
            Assert.Equal(CodecId.Jpeg, viewer.Stats.Codec);
            Assert.Equal(0, viewer.Stats.Corrupt);
            Assert.True(publisher.FramesSent >= 10);
            Assert.False(publishing.IsCompleted, "the publisher's session ended");
            Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("joined room 'pub' as publisher", StringComparison.Ordinal));
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.WaitAsync(TestHub.Timeout);
        }

        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task Capture_pauses_while_nobody_watches_and_resumes_when_a_viewer_joins()
    {
        await using TestHub hub = TestHub.Start();
        CapturePipeline main = hub.Capture!;
        hub.StartCapture("side");
        await using TestViewer side = TestViewer.Start(hub.Endpoint, room: "side");

        // Nobody has watched "main" yet: while "side" streams 30 frames, "main" encodes nothing.
        await side.WaitForFramesAsync(30);
        Assert.Equal(0, main.FramesEncoded);

        // A viewer joins "main": capture starts.
        await using (TestViewer first = TestViewer.Start(hub.Endpoint, room: "main"))
        {
            await first.WaitForFramesAsync(10);
            // The pipeline counts a frame after publishing it, so a viewer may have it a moment before the count does.
            await Eventually.UntilAsync(() => main.FramesEncoded >= 10, $"encoded {main.FramesEncoded} frames");
        }

        // It left: wait for the hub to notice and for the capture loop to say it paused (its second pause).
        await hub.Logs.WaitForAsync(e => e.EventId.Id == LeftEventId && e.Message.Contains("room 'main'", StringComparison.Ordinal), TestHub.Timeout, "'left room main'");
        await hub.Logs.WaitForCountAsync(IsMainPaused, 2, TestHub.Timeout, "'main: capture paused' twice");
        long paused = main.FramesEncoded;

        await side.WaitForMoreFramesAsync(30);
        Assert.Equal(paused, main.FramesEncoded);

        // Someone watches again: capture resumes.
        await using TestViewer second = TestViewer.Start(hub.Endpoint, room: "main");
        await second.WaitForFramesAsync(5);
        await Eventually.UntilAsync(() => main.FramesEncoded >= paused + 5, $"encoded {main.FramesEncoded - paused} frames after resuming");

        static bool IsMainPaused(LogEntry e) => e.EventId.Id == CapturePausedEventId && e.Message.Contains("'main'", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_reconnects_when_the_hub_restarts_on_the_same_port()
    {
        TestHub first = TestHub.Start();
        int port = first.EndPoint.Port;
        TestHub? second = null;
        TestViewer viewer = TestViewer.Start(first.Endpoint, room: "main", reconnect: true, maxBackoff: TimeSpan.FromMilliseconds(300));
        try
        {
            await viewer.WaitForFramesAsync(5);
            Assert.Equal(0, viewer.Stats.Reconnects);

            await first.DisposeAsync();
            long before = viewer.Decoded;
            second = TestHub.Start(endPoint: new IPEndPoint(IPAddress.Loopback, port));
            Assert.Equal(port, second.EndPoint.Port);

            await viewer.WaitForFramesAsync(before + 5);
            Assert.True(viewer.Stats.Reconnects >= 1);
            Assert.False(viewer.Run.IsCompleted);
            Assert.Contains(second.Logs.Entries, e => e.Message.Contains("joined room 'main' as viewer", StringComparison.Ordinal));
        }
        finally
        {
            await viewer.DisposeAsync();
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Raw_frames_arrive_pixel_exact()
    {
        var recording = new RecordingSource(new TestPatternSource(new TestPatternOptions { Width = 320, Height = 240, Fps = 30 }), limit: 200);
        await using TestHub hub = TestHub.Start(codec: CodecId.RawBgr24, source: recording);
        var received = new List<(long Sequence, int Width, int Height, byte[] Data)>();
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "main", hashPictures: true, onReceived: (header, data) =>
        {
            Assert.Equal(CodecId.RawBgr24, header.Codec);
            lock (received)
            {
                if (received.Count < 20)
                {
                    received.Add((header.Sequence, header.Width, header.Height, data.ToArray()));
                }
            }
        });

        await viewer.WaitForFramesAsync(10);

        (long Sequence, int Width, int Height, byte[] Data)[] frames;
        lock (received)
        {
            frames = [.. received];
        }

        Assert.True(frames.Length >= 10);
        IReadOnlyDictionary<long, string> decoded = viewer.Hashes;
        foreach ((long sequence, int width, int height, byte[] data) in frames)
        {
            byte[]? original = recording.Get(sequence);
            Assert.True(original is not null, $"the source never produced frame {sequence}");
            Assert.Equal((320, 240), (width, height));
            Assert.Equal(320 * 240 * 3, data.Length);
            Assert.True(original.AsSpan().SequenceEqual(data), $"frame {sequence} arrived with different bytes");
            if (decoded.TryGetValue(sequence, out string? hash))
            {
                Assert.Equal(Convert.ToHexString(SHA256.HashData(original)), hash);
            }
        }

        Assert.True(frames.Count(f => decoded.ContainsKey(f.Sequence)) >= 10);
    }
}
