using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Codecs.H264;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Recording;
using SocketCam.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>
/// An H.264 room records to .mkv and .mp4 by stream copy: ffprobe reads the recordings and finds H.264 with the right
/// frame count and size (and the Opus track next to it), starting at a keyframe.
/// </summary>
public sealed class H264RecordingTests : IDisposable
{
    private const long StartMicros = 1_700_000_000_000_000;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-h264rec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("room.mkv")]
    [InlineData("room.mp4")]
    public async Task Ffprobe_finds_h264_with_every_frame_and_the_opus_track(string file)
    {
        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(await H264Media.EncodeAsync(_directory, 320, 180, 45, gop: 15));
        List<byte[]> packets = AudioRecordingTests.EncodeTone(440, 75); // 1.5 s of 20 ms packets, as long as the video
        string path = Path.Combine(_directory, file);
        using var room = new Room("h264");
        RecordingSink sink = RecordingSink.Start("room 'h264'", FrameRecorders.Create(RecordingFormats.FromPath(path), path, new RecordingOptions(), overwrite: false, NullLogger.Instance),
            new RecordingOptions(), NullLogger.Instance);
        await using (sink)
        {
            room.AddRecorder(sink);
            // The room has no audio track to announce (no participants here): the sound is handed to the sink as a room hands it.
            sink.SetAudio(1);
            int audio = 0;
            for (int i = 0; i < units.Count; i++)
            {
                long capture = StartMicros + (i * 33_333L);
                for (; audio < packets.Count && StartMicros + (audio * 20_000L) <= capture; audio++)
                {
                    await EnqueueAsync(sink, Audio(packets[audio], audio, StartMicros + (audio * 20_000L)));
                }

                await PublishAsync(room, Video(units[i], i, capture));
            }

            for (; audio < packets.Count; audio++)
            {
                await EnqueueAsync(sink, Audio(packets[audio], audio, StartMicros + (audio * 20_000L)));
            }

            await sink.CompleteAsync();
            Assert.Null(sink.Failure);
            Assert.Equal(45, sink.FramesRecorded);
            Assert.Equal(75, sink.AudioPacketsRecorded);
            Assert.Equal(0, sink.Recorder.FramesSkipped);
        }

        Assert.Equal(new ProbeResult("h264", 45, 320, 180), await MediaProbe.ProbeAsync(path));
        var streams = await MediaProbe.StreamsAsync(path);
        Assert.Equal([("video", "h264"), ("audio", "opus")], streams.Select(s => (s.Type, s.Codec)));
        // Keyframes where the stream had them, and the very bytes: the file's packets back in Annex B are the access units.
        Assert.Equal([0, 15, 30], await KeyframePacketsAsync(path));
        byte[] copied = await AnnexBOfAsync(path);
        List<(byte[] Unit, H264AccessUnitInfo Info)> back = await H264Media.SplitAsync(copied);
        Assert.Equal(45, back.Count);
        Assert.Equal(units[20].Unit.AsSpan(units[20].Unit[2] == 1 ? 3 : 4).ToArray(), back[20].Unit.AsSpan(back[20].Unit[2] == 1 ? 3 : 4).ToArray());
    }

    [Fact]
    public async Task A_recording_that_joins_mid_gop_starts_at_the_next_keyframe_and_counts_what_it_left_out()
    {
        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(await H264Media.EncodeAsync(_directory, 320, 240, 45, gop: 15));
        string path = Path.Combine(_directory, "late.mkv");
        using var room = new Room("late");
        RecordingSink sink = RecordingSink.Start("room 'late'", FrameRecorders.Create(RecordingFormat.Matroska, path, new RecordingOptions(), overwrite: false, NullLogger.Instance),
            new RecordingOptions(), NullLogger.Instance);
        await using (sink)
        {
            room.AddRecorder(sink);
            for (int i = 3; i < units.Count; i++)
            {
                await PublishAsync(room, Video(units[i], i, StartMicros + (i * 33_333L)));
            }

            await sink.CompleteAsync();
            Assert.Null(sink.Failure);
            Assert.Equal(30, sink.FramesRecorded);
            Assert.Equal(12, sink.Recorder.FramesSkipped);
        }

        Assert.Equal(new ProbeResult("h264", 30, 320, 240), await MediaProbe.ProbeAsync(path));
    }

    [Fact]
    public async Task Rotation_of_an_h264_recording_waits_for_a_keyframe_so_each_file_starts_with_one_and_none_is_lost()
    {
        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(await H264Media.EncodeAsync(_directory, 320, 240, 45, gop: 15));
        // Due after 0.2 s of capture time, i.e. mid-GOP: the file changes at the next keyframe instead.
        var options = new RecordingOptions { MaxFileBytes = 0, MaxFileDuration = TimeSpan.FromMilliseconds(200) };
        int opened = 0;
        var recorder = new RotatingRecorder("test", _ => FrameRecorders.Create(RecordingFormat.Mp4, Path.Combine(_directory, $"part{++opened}.mp4"), options, overwrite: false, NullLogger.Instance), options, NullLogger.Instance);
        await using (recorder)
        {
            for (int i = 0; i < units.Count; i++)
            {
                var frame = new JpegFrame(units[i].Unit, 320, 240, i, StartMicros + (i * 33_333L), CodecId.H264, units[i].Info.IsIdr);
                await recorder.WriteAsync(frame, CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(45, recorder.FramesWritten);
            Assert.Equal(0, recorder.FramesSkipped);
        }

        Assert.Equal(3, opened);
        foreach (string file in recorder.Files)
        {
            Assert.Equal(new ProbeResult("h264", 15, 320, 240), await MediaProbe.ProbeAsync(file));
            Assert.Equal([0], await KeyframePacketsAsync(file));
        }
    }

    [Fact]
    public async Task A_directory_of_mjpeg_recordings_records_an_h264_room_as_mkv()
    {
        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(await H264Media.EncodeAsync(_directory, 320, 240, 20, gop: 10));
        string records = Directory.CreateDirectory(Path.Combine(_directory, "records")).FullName;
        using var room = new Room("cam");
        var directory = new RecordingDirectory(records, RecordingFormat.Mjpeg, new RecordingOptions(), NullLoggerFactory.Instance);
        await using (directory)
        {
            ((IRoomObserver)directory).OnRoomCreated(room);
            for (int i = 0; i < units.Count; i++)
            {
                await PublishAsync(room, Video(units[i], i, StartMicros + (i * 33_333L)));
            }
        }

        string file = Assert.Single(Directory.GetFiles(records));
        Assert.Matches(@"^cam-\d{8}-\d{6}\.mkv$", Path.GetFileName(file));
        Assert.Empty(directory.Failures);
        Assert.Equal(new ProbeResult("h264", 20, 320, 240), await MediaProbe.ProbeAsync(file));
    }

    [Fact]
    public async Task An_mjpeg_file_refuses_h264_with_one_line_naming_the_formats_that_can()
    {
        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(await H264Media.EncodeAsync(_directory, 160, 120, 3));
        string path = Path.Combine(_directory, "view.mjpeg");
        RecordingSink sink = RecordingSink.Start(path, MjpegFileRecorder.Create(path, overwrite: false), new RecordingOptions(), NullLogger.Instance);
        await using (sink)
        {
            MediaFrame frame = Video(units[0], 0, StartMicros);
            await sink.EnqueueAsync(frame, CancellationToken.None);
            frame.Release();
            await sink.CompleteAsync();
            Assert.NotNull(sink.Failure);
            Assert.Contains(".mkv or .mp4", sink.Failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', sink.Failure.Message);
            Assert.Equal(0, sink.FramesRecorded);
        }
    }

    private static MediaFrame Video((byte[] Unit, H264AccessUnitInfo Info) unit, long sequence, long captureMicros)
    {
        MediaFrame frame = MediaFrame.Rent(unit.Unit.Length);
        unit.Unit.CopyTo(frame.WritableData);
        frame.Complete(new FrameInfo(TrackKind.Video, CodecId.H264, unit.Info.IsIdr ? FrameFlags.Keyframe : FrameFlags.None, 320, 180, sequence, captureMicros), unit.Unit.Length);
        return frame;
    }

    private static MediaFrame Audio(byte[] packet, long sequence, long captureMicros)
    {
        MediaFrame frame = MediaFrame.Rent(packet.Length);
        packet.CopyTo(frame.WritableData);
        frame.Complete(new FrameInfo(TrackKind.Audio, CodecId.Opus, FrameFlags.Keyframe, 960, 0, sequence, captureMicros), packet.Length);
        return frame;
    }

    private static async Task PublishAsync(Room room, MediaFrame frame)
    {
        try
        {
            await room.PublishAsync(frame, CancellationToken.None);
        }
        finally
        {
            frame.Release();
        }
    }

    private static async Task EnqueueAsync(RecordingSink sink, MediaFrame frame)
    {
        try
        {
            Assert.True(await sink.EnqueueAsync(frame, CancellationToken.None));
        }
        finally
        {
            frame.Release();
        }
    }

    /// <summary>The indexes of the video packets ffprobe sees flagged as keyframes.</summary>
    private static async Task<List<int>> KeyframePacketsAsync(string path)
    {
        (int code, byte[] output, string errors) = await MediaTools.RunAsync("ffprobe",
            "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags", "-of", "csv=p=0", path);
        Assert.True(code == 0, errors);
        return [.. System.Text.Encoding.ASCII.GetString(output).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select((flags, i) => (flags, i)).Where(p => p.flags.StartsWith('K')).Select(p => p.i)];
    }

    /// <summary>The file's video packets as an Annex B stream (ffmpeg's own conversion back, no decoding).</summary>
    private static async Task<byte[]> AnnexBOfAsync(string path)
    {
        (int code, byte[] output, string errors) = await MediaTools.RunAsync("ffmpeg",
            "-v", "error", "-i", path, "-map", "0:v:0", "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-");
        Assert.True(code == 0, errors);
        return output;
    }
}
