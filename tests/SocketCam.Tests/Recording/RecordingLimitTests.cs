using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Limits;
using SocketCam.Recording;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>
/// `serve --record` cannot fill the disk (issue 13, finding 5): an unpaced publisher into a new room is recorded until the
/// directory's size cap or the disk's free-space margin, then recording stops with one log line (its file finished and
/// playable), the hub and its viewers go on, and recording resumes by itself when there is room again. The free-space
/// case runs on a real, small tmpfs (the tests run as root).
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class RecordingLimitTests : IDisposable
{
    private const int QuotaStoppedEventId = 310;
    private const int QuotaResumedEventId = 311;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-rec-limit-").FullName;
    private bool _mounted;

    public void Dispose()
    {
        if (_mounted)
        {
            Run("umount", "-l", _directory);
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task An_unpaced_publisher_is_recorded_up_to_the_directory_cap_then_recording_stops_and_resumes_when_files_are_deleted()
    {
        // A recording from an earlier run counts too.
        string earlier = Path.Combine(_directory, "earlier.mjpeg");
        await File.WriteAllBytesAsync(earlier, new byte[1 << 20]);
        const long cap = 4L << 20;
        var options = new RecordingOptions { MaxDirectoryBytes = cap, MinFreeBytes = 0, MaxFileBytes = 0, MaxFileDuration = TimeSpan.Zero };

        RecordingDirectory directory = await FloodAsync(options, async (hub, recording) =>
        {
            Assert.Contains("--record-max-total", recording.Quota.StoppedReason, StringComparison.Ordinal);

            // The cap held (by at most one frame per room).
            long onDisk = Directory.GetFiles(_directory).Sum(f => new FileInfo(f).Length);
            Assert.InRange(onDisk, cap - (512 << 10), cap + (512 << 10));
            Assert.Equal(1, hub.Server.Guards.Refusals[Refusal.RecordingLimit]);

            // The stopped room's file was finished: every JPEG in it is whole.
            string flood = Assert.Single(Directory.GetFiles(_directory, "flood-*.mjpeg"));
            Assert.Equal(recording.FramesRecorded, (await MediaProbe.ProbeAsync(flood, "mjpeg")).Frames
                + (await MediaProbe.ProbeAsync(Assert.Single(Directory.GetFiles(_directory, "main-*.mjpeg")), "mjpeg")).Frames);

            // Room again: recording resumes by itself into new files.
            foreach (string file in Directory.GetFiles(_directory))
            {
                File.Delete(file);
            }

            await hub.Logs.WaitForAsync(e => e.EventId.Id == QuotaResumedEventId, TestHub.Timeout, "'recording resumed'");
            await Eventually.UntilAsync(() => Directory.GetFiles(_directory).Length > 0, "a new recording file");
        });

        Assert.Empty(directory.Failures);
    }

    [Fact]
    public async Task On_a_nearly_full_disk_recording_stops_at_the_free_space_margin_and_the_hub_keeps_serving()
    {
        // A real small file system: 24 MiB of tmpfs, of which the recording may use all but 16 MiB.
        Run("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", _directory);
        _mounted = true;
        const long margin = 16L << 20;
        var options = new RecordingOptions { MinFreeBytes = margin, MaxFileBytes = 0, MaxFileDuration = TimeSpan.Zero };

        RecordingDirectory directory = await FloodAsync(options, (_, recording) =>
        {
            Assert.Contains("--record-min-free", recording.Quota.StoppedReason, StringComparison.Ordinal);

            // The margin held, as the file system itself reports it.
            long free = new DriveInfo(_directory).AvailableFreeSpace;
            Assert.True(free >= margin - (512 << 10), $"{free} bytes free, below the {margin}-byte margin");
            return Task.CompletedTask;
        });

        Assert.Empty(directory.Failures);
        string flood = Assert.Single(Directory.GetFiles(_directory, "flood-*.mjpeg"));
        Assert.True((await MediaProbe.ProbeAsync(flood, "mjpeg")).Frames > 0);
    }

    /// <summary>
    /// A hub capturing room main (watched) and recording every room into the directory, an unpaced publisher into room
    /// "flood"; once recording has stopped for a limit and 30 more frames went unrecorded, checks that the publisher and
    /// main's viewer go on, then runs <paramref name="whileStopped"/>.
    /// </summary>
    private async Task<RecordingDirectory> FloodAsync(RecordingOptions options, Func<TestHub, RecordingDirectory, Task> whileStopped)
    {
        await using TestHub hub = TestHub.Start(captureRoom: "main", width: 160, height: 120, fps: 30);
        using ILoggerFactory loggers = hub.Logs.CreateFactory();
        var directory = new RecordingDirectory(_directory, RecordingFormat.Mjpeg, options, loggers);
        directory.AttachTo(hub.Server);
        try
        {
            await using var source = new TestPatternSource(new TestPatternOptions { Width = 640, Height = 480, Fps = 0 });
            using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
            var publisher = new PublisherClient(hub.Endpoint, new ClientOptions { Room = "flood", Reconnect = false, Agent = "unpaced publisher" }, source, encoder);
            using var stop = new CancellationTokenSource();
            Task publishing = publisher.RunAsync(stop.Token);
            await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "main");
            try
            {
                await hub.Logs.WaitForAsync(e => e.EventId.Id == QuotaStoppedEventId, TestHub.Timeout, "'recording stopped'");
                long notRecordedThen = directory.Quota.FramesNotRecorded;
                await Eventually.UntilAsync(() => directory.Quota.FramesNotRecorded >= notRecordedThen + 30, "30 more frames not recorded");
                await viewer.WaitForMoreFramesAsync(10);
                Assert.False(publishing.IsCompleted, "the publisher's session ended");
                await whileStopped(hub, directory);
            }
            finally
            {
                await stop.CancelAsync();
                await publishing.WaitAsync(TestHub.Timeout);
            }
        }
        finally
        {
            await directory.DisposeAsync();
        }

        return directory;
    }

    private static void Run(string file, params string[] args)
    {
        using Process process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed (the tests run as root): {error}");
    }
}
