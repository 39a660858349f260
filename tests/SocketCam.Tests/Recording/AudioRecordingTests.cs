using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Audio;
using SocketCam.Audio.Opus;
using SocketCam.Ffmpeg;
using SocketCam.Recording;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>
/// Opus audio in recordings, at the level of the bytes: the Matroska stream SocketCam writes with both tracks is read by
/// the real ffprobe and ffmpeg, and ffmpeg copies the Opus track into .mkv and .mp4 with its timestamps, in sync with the video.
/// </summary>
public sealed class AudioRecordingTests : IDisposable
{
    private const long StartMicros = 1_700_000_000_000_000;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-arec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_opus_head_is_rfc_7845s_identification_header()
    {
        var head = new byte[MatroskaStream.OpusHeadSize];
        MatroskaStream.WriteOpusHead(head, 2);
        Assert.Equal("OpusHead"u8.ToArray(), head[..8]);
        Assert.Equal(1, head[8]); // version
        Assert.Equal(2, head[9]); // channels
        Assert.Equal(312, BitConverter.ToUInt16(head, 10)); // pre-skip (little-endian)
        Assert.Equal(48_000u, BitConverter.ToUInt32(head, 12)); // input rate
        Assert.Equal(0, BitConverter.ToInt16(head, 16)); // gain
        Assert.Equal(0, head[18]); // mapping family
    }

    [Fact]
    public async Task Ffprobe_reads_a_matroska_stream_written_with_a_video_and_an_opus_track()
    {
        // The bytes exactly as the recorder pipes them into ffmpeg, here into a file.
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 10);
        List<byte[]> packets = EncodeTone(440, 50); // 1 s
        string path = Path.Combine(_directory, "stream.mkv");
        await using (var file = File.Create(path))
        {
            var header = new byte[MatroskaStream.MaxHeaderSize];
            int length = MatroskaStream.WriteHeader(header, 160, 120, audioChannels: 1);
            file.Write(header, 0, length);
            int video = 0;
            for (int i = 0; i < packets.Count; i++)
            {
                if (i % 5 == 0 && video < jpegs.Count)
                {
                    length = MatroskaStream.WriteBlockHeader(header, MatroskaStream.VideoTrack, i * 20, jpegs[video].Length);
                    file.Write(header, 0, length);
                    file.Write(jpegs[video++]);
                }

                length = MatroskaStream.WriteBlockHeader(header, MatroskaStream.AudioTrack, i * 20, packets[i].Length);
                file.Write(header, 0, length);
                file.Write(packets[i]);
            }
        }

        var streams = await MediaProbe.StreamsAsync(path);
        Assert.Equal([("video", "mjpeg", 0, 0), ("audio", "opus", 1, 48_000)], streams);
        (double start, double end, int count) = await MediaProbe.StreamSpanAsync(path, "a:0");
        Assert.Equal(50, count);
        // Matroska's Opus mapping: times are shifted back by CodecDelay (the 312-sample pre-skip, 6.5 ms), which the
        // decoder drops; what is heard starts at 0.
        Assert.True(Math.Abs(start + 0.0065) < 0.002, $"audio starts at {start:0.000} s");
        Assert.True(Math.Abs(end - 0.9935) < 0.002, $"audio ends at {end:0.000} s");
        Assert.Equal(440, WavAnalysis.DominantFrequency(Steady(await MediaProbe.DecodeAudioAsync(path)), 48_000), 0);
    }

    [Theory]
    [InlineData("av.mkv", "mjpeg")]
    [InlineData("av.mp4", "h264")]
    public async Task The_recorder_copies_opus_next_to_the_video_in_sync(string file, string videoCodec)
    {
        Assert.True(FfmpegTool.IsAvailable(), "these tests need ffmpeg");
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 40); // 4 s at 10 fps
        List<byte[]> packets = EncodeTone(440, 200); // 4 s of 20 ms packets
        string path = Path.Combine(_directory, file);
        await using (IFrameRecorder recorder = FrameRecorders.Create(RecordingFormats.FromPath(path), path, new RecordingOptions(), overwrite: false, NullLogger.Instance))
        {
            recorder.AudioChannels = 1;
            // Three packets come before the first video frame (audio is quicker to capture and send): they are kept,
            // and the file's time starts with the first of them.
            for (int i = 0; i < packets.Count; i++)
            {
                if (i >= 3 && (i - 3) % 5 == 0 && (i - 3) / 5 < jpegs.Count)
                {
                    int v = (i - 3) / 5;
                    await recorder.WriteAsync(new JpegFrame(jpegs[v], 160, 120, v, StartMicros + (v * 100_000L)), CancellationToken.None);
                }

                // Packet i was captured at i * 20 ms, on the same clock as the frames (which start at 0).
                await recorder.WriteAudioAsync(new OpusPacket(packets[i], 960, i, StartMicros + (i * 20_000L)), CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(40, recorder.FramesWritten);
            Assert.Equal(200, recorder.AudioPacketsWritten);
        }

        var streams = await MediaProbe.StreamsAsync(path);
        Assert.Equal(2, streams.Count);
        Assert.Equal(("video", videoCodec), (streams[0].Type, streams[0].Codec));
        Assert.Equal(("audio", "opus", 1, 48_000), (streams[1].Type, streams[1].Codec, streams[1].Channels, streams[1].SampleRate));

        (double videoStart, double videoEnd, int frames) = await MediaProbe.StreamSpanAsync(path, "v:0");
        (double audioStart, double audioEnd, int audioPackets) = await MediaProbe.StreamSpanAsync(path, "a:0");
        Assert.Equal(40, frames);
        Assert.Equal(200, audioPackets);
        // Both tracks were captured from the same instant: the file starts them together (within the Opus pre-skip,
        // 6.5 ms, which the muxers account for in their own ways, and a millisecond of rounding).
        Assert.True(Math.Abs(videoStart - audioStart) < 0.02, $"video starts at {videoStart:0.000} s, audio at {audioStart:0.000} s");
        Assert.True(Math.Abs((audioEnd - audioStart) - 4.0) < 0.03, $"audio lasts {audioEnd - audioStart:0.000} s, 4 s were recorded");
        Assert.True(Math.Abs((videoEnd - videoStart) - (audioEnd - audioStart)) < 0.1, $"video lasts {videoEnd - videoStart:0.000} s, audio {audioEnd - audioStart:0.000} s");

        short[] pcm = await MediaProbe.DecodeAudioAsync(path);
        Assert.InRange(pcm.Length / 48_000.0, 3.9, 4.05);
        Assert.Equal(440, WavAnalysis.DominantFrequency(Steady(pcm), 48_000), 0);
    }

    [Fact]
    public async Task A_recording_without_audio_has_no_audio_stream_and_audio_written_to_it_is_left_out()
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 5);
        List<byte[]> packets = EncodeTone(440, 10);
        string path = Path.Combine(_directory, "video-only.mkv");
        await using (IFrameRecorder recorder = FrameRecorders.Create(RecordingFormat.Matroska, path, new RecordingOptions(), overwrite: false, NullLogger.Instance))
        {
            for (int i = 0; i < jpegs.Count; i++)
            {
                await recorder.WriteAsync(new JpegFrame(jpegs[i], 160, 120, i, StartMicros + (i * 100_000L)), CancellationToken.None);
                await recorder.WriteAudioAsync(new OpusPacket(packets[i], 960, i, StartMicros + (i * 20_000L)), CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(0, recorder.AudioPacketsWritten);
            Assert.Equal(5, ((FfmpegMuxRecorder)recorder).AudioPacketsSkipped);
        }

        Assert.Equal([("video", "mjpeg", 0, 0)], await MediaProbe.StreamsAsync(path));
    }

    [Fact]
    public async Task When_audio_starts_after_a_rotating_file_began_without_it_the_next_file_has_the_audio()
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 20);
        List<byte[]> packets = EncodeTone(440, 50);
        int opened = 0;
        var recorder = new RotatingRecorder("test", _ => FrameRecorders.Create(RecordingFormat.Matroska, Path.Combine(_directory, $"part{++opened}.mkv"), new RecordingOptions(), overwrite: false, NullLogger.Instance), new RecordingOptions(), NullLogger.Instance);
        await using (recorder)
        {
            // A publisher with video only...
            for (int i = 0; i < 10; i++)
            {
                await recorder.WriteAsync(new JpegFrame(jpegs[i], 160, 120, i, StartMicros + (i * 100_000L)), CancellationToken.None);
            }

            // ...then publishes audio: the first packet finishes part1 (video only) and starts part2 with an audio track.
            recorder.AudioChannels = 1;
            for (int i = 0; i < 50; i++)
            {
                await recorder.WriteAudioAsync(new OpusPacket(packets[i], 960, i, StartMicros + 1_000_000 + (i * 20_000L)), CancellationToken.None);
                if (i % 5 == 0)
                {
                    int v = 10 + (i / 5);
                    await recorder.WriteAsync(new JpegFrame(jpegs[v], 160, 120, v, StartMicros + (v * 100_000L)), CancellationToken.None);
                }
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(20, recorder.FramesWritten);
            Assert.Equal(50, recorder.AudioPacketsWritten);
        }

        Assert.Equal([Path.Combine(_directory, "part1.mkv"), Path.Combine(_directory, "part2.mkv")], recorder.Files);
        Assert.Equal([("video", "mjpeg", 0, 0)], await MediaProbe.StreamsAsync(recorder.Files[0]));
        Assert.Equal([("video", "mjpeg", 0, 0), ("audio", "opus", 1, 48_000)], await MediaProbe.StreamsAsync(recorder.Files[1]));
        Assert.Equal(10, (await MediaProbe.StreamSpanAsync(recorder.Files[1], "v:0")).Packets);
        Assert.Equal(50, (await MediaProbe.StreamSpanAsync(recorder.Files[1], "a:0")).Packets);
    }

    [Fact]
    public void A_room_records_the_first_opus_track_of_the_participant_whose_video_is_primary()
    {
        var room = new SocketCam.Rooms.Room("main");
        var recorder = new AudioChannelsSeen();
        room.AddRecorder(recorder);
        Assert.Equal([0], recorder.Seen);

        SocketCam.Rooms.Participant alice = room.Join("alice", SocketCam.Protocol.ParticipantTransport.Other, default, hidden: false, outbox: null);
        SocketCam.Rooms.Participant bob = room.Join("bob", SocketCam.Protocol.ParticipantTransport.Other, default, hidden: false, outbox: null);
        // Bob's audio is not Alice's: while Alice's video is primary, nothing of Bob's is recorded.
        room.PublishTrack(alice, 1, new SocketCam.Protocol.TrackDescription(1, SocketCam.Media.TrackKind.Video, SocketCam.Media.CodecId.Jpeg, SocketCam.Protocol.TrackSource.Camera, "cam", 320, 240), out _);
        room.PublishTrack(bob, 2, new SocketCam.Protocol.TrackDescription(1, SocketCam.Media.TrackKind.Audio, SocketCam.Media.CodecId.Opus, SocketCam.Protocol.TrackSource.Microphone, "mic", 2, 0), out _);
        Assert.Null(room.PrimaryAudioTrack);
        room.PublishTrack(alice, 3, new SocketCam.Protocol.TrackDescription(2, SocketCam.Media.TrackKind.Audio, SocketCam.Media.CodecId.Opus, SocketCam.Protocol.TrackSource.Microphone, "mic", 1, 0), out _);
        Assert.Equal((alice.Id, (ushort)2), (room.PrimaryAudioTrack!.Publisher.Id, room.PrimaryAudioTrack.Id));
        Assert.Equal([0, 1], recorder.Seen);

        // Alice leaves: Bob has no video, so there is no primary track and no recorded audio.
        room.Leave(alice, SocketCam.Protocol.ErrorCode.Normal);
        Assert.Null(room.PrimaryAudioTrack);
        Assert.Equal([0, 1, 0], recorder.Seen);
    }

    private sealed class AudioChannelsSeen : SocketCam.Rooms.IRoomRecorder
    {
        public List<int> Seen { get; } = [];

        public ValueTask OfferAsync(SocketCam.Media.MediaFrame frame, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void SetAudio(int channels) => Seen.Add(channels);
    }

    [Theory]
    [InlineData("mkv", "tcp", true)]
    [InlineData("mp4", "tls", true)]
    [InlineData("mkv", "unix", true)]
    [InlineData("mjpeg", "tcp", false)] // concatenated JPEGs have no room for sound
    [InlineData("mkv", "udp", false)] // protocol v1 only: video, as before
    [InlineData("mp4", "seed+tcp", false)] // the seed tutorials' servers send pictures only
    public void View_record_keeps_audio_only_where_the_format_and_the_transport_carry_it(string format, string scheme, bool audio)
    {
        Assert.True(RecordingFormats.TryParse(format, out RecordingFormat parsed));
        Assert.Equal(audio, SocketCam.Cli.Commands.ViewCommand.RecordsAudio(parsed, new SocketCam.Transport.StreamEndpoint(scheme, "127.0.0.1", 9999)));
    }

    /// <summary><paramref name="count"/> 20 ms Opus packets of a sine tone, as a publisher's encoder makes them.</summary>
    internal static List<byte[]> EncodeTone(double frequency, int count)
    {
        using var encoder = new OpusEncoder(new AudioOptions());
        short[] source = WavAnalysis.Sine(frequency, 48_000, 960 * count);
        var buffer = new byte[OpusEncoder.MaxPacketBytes];
        var packets = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            int length = encoder.Encode(source.AsSpan(i * 960, 960), buffer);
            packets.Add(buffer[..length]);
        }

        return packets;
    }

    /// <summary>The decoded audio after its first quarter second (the codec settling).</summary>
    private static short[] Steady(short[] pcm) => pcm.Length > 24_000 ? pcm[12_000..] : pcm;
}
