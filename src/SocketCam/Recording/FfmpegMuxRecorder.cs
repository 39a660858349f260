using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Codecs.H264;
using SocketCam.Ffmpeg;
using SocketCam.Media;

namespace SocketCam.Recording;

/// <summary>
/// Records through an ffmpeg child process: the JPEGs go down its standard input in a minimal live Matroska stream that
/// carries each frame's capture time (<see cref="MatroskaStream"/>), and ffmpeg writes a proper file: .mkv by stream
/// copy (the JPEGs as they are), .mp4 as H.264 from libx264; H.264 frames go into either by stream copy (no re-encoding:
/// Matroska's V_MPEG4/ISO/AVC with an avcC from the first keyframe's SPS and PPS, each access unit's NAL units
/// length-prefixed, keyframes flagged). An H.264 file starts at a keyframe: frames before the first are left out
/// (counted in <see cref="FramesSkipped"/>); one file holds one codec, frames of another are left out too (a
/// <see cref="RotatingRecorder"/> starts a new file instead). Timestamps pass through unchanged, so the file plays at the
/// pace the frames were captured however the frame rate varied. With <see cref="AudioChannels"/> set before the first
/// frame the stream also has an Opus track, copied as it is into either file, its packets stamped with their capture
/// times from the same origin as the video (one clock, so the file keeps them in sync). ffmpeg starts with the first
/// video frame (the header needs its size): audio that comes first waits here (up to <see cref="MaxEarlyAudioPackets"/>)
/// and the file's time starts at whichever of the two was captured first. <see cref="CompleteAsync"/> closes ffmpeg's input and
/// waits while it writes its index (the mp4 moov atom, the mkv cues and duration). ffmpeg runs in its own session, so
/// Ctrl+C in the terminal does not stop it before SocketCam has handed over every frame.
/// </summary>
internal sealed class FfmpegMuxRecorder : IFrameRecorder
{
    private static readonly TimeSpan SizeCheckInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Audio packets kept while waiting for the first video frame: 10 s of 20 ms packets.</summary>
    internal const int MaxEarlyAudioPackets = 500;

    private readonly string _path;
    private readonly RecordingFormat _format;
    private readonly RecordingOptions _options;
    private readonly ILogger _logger;
    private readonly byte[] _header = new byte[Math.Max(MatroskaStream.MaxHeaderSize, MatroskaStream.FrameHeaderSize)];
    private FfmpegProcess? _ffmpeg;
    private long _firstCaptureMicros;
    private long _lastTimestampMs = -1;
    private long _lastAudioMs = -1;
    private readonly Queue<(byte[] Data, long CaptureMicros)> _earlyAudio = new();
    private int _audioChannels;
    private int _fileAudioChannels;
    private long _audioPackets;
    private long _audioSkipped;
    private long _frames;
    private long _skipped;
    private CodecId _codec;
    private byte[] _sample = [];
    private long _bytes;
    private long _nextSizeCheck;
    private bool _completed;

    private FfmpegMuxRecorder(string path, RecordingFormat format, RecordingOptions options, ILogger logger)
    {
        _path = path;
        _format = format;
        _options = options;
        _logger = logger;
    }

    public string Description => _path;

    public long FramesWritten => Interlocked.Read(ref _frames);

    public long BytesWritten => Interlocked.Read(ref _bytes);

    public int AudioChannels
    {
        get => _audioChannels;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 2);
            _audioChannels = value;
        }
    }

    public bool AcceptsAudio => _ffmpeg is null ? _audioChannels > 0 : _fileAudioChannels > 0;

    public long AudioPacketsWritten => Interlocked.Read(ref _audioPackets);

    public bool CanRecord(CodecId codec) => codec is CodecId.Jpeg or CodecId.H264;

    public long FramesSkipped => Interlocked.Read(ref _skipped);

    /// <summary>The video codec of the file once it started (JPEG or H.264).</summary>
    internal CodecId Codec => _codec;

    /// <summary>Audio packets left out (the file has no audio track, or too many came before any video).</summary>
    public long AudioPacketsSkipped => Interlocked.Read(ref _audioSkipped);

    /// <summary>
    /// Checks that ffmpeg is installed and claims the file (so a bad path fails now, not at the first frame); ffmpeg
    /// itself starts with the first frame, whose size it needs.
    /// </summary>
    public static FfmpegMuxRecorder Create(string path, RecordingFormat format, RecordingOptions options, bool overwrite, ILogger logger)
    {
        if (format == RecordingFormat.Mjpeg)
        {
            throw new ArgumentException("MJPEG files are written by MjpegFileRecorder.", nameof(format));
        }

        RecordingFormats.EnsureTools(format);
        using (new FileStream(path, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite))
        {
        }

        return new FfmpegMuxRecorder(path, format, options, logger);
    }

    public async ValueTask WriteAsync(JpegFrame frame, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (!CanRecord(frame.Codec))
        {
            SkipFrame(frame.Sequence, $"{frame.Codec} video cannot be recorded");
            return;
        }

        if (_ffmpeg is null && frame.Codec == CodecId.H264 && !frame.Keyframe)
        {
            // A decoder needs the keyframe first: the file starts with one.
            SkipFrame(frame.Sequence, "an H.264 recording starts at a keyframe; waiting for one");
            return;
        }

        if (_ffmpeg is not null && frame.Codec != _codec)
        {
            SkipFrame(frame.Sequence, $"the file holds {_codec} and this frame is {frame.Codec}");
            return;
        }

        FfmpegProcess? ffmpeg = _ffmpeg;
        if (ffmpeg is null)
        {
            byte[] avcConfiguration = [];
            if (frame.Codec == CodecId.H264 && !TryAvcConfiguration(frame.Data, out avcConfiguration))
            {
                SkipFrame(frame.Sequence, "an H.264 keyframe without an SPS and a PPS cannot start a file");
                return;
            }

            ffmpeg = await StartAsync(frame, avcConfiguration, cancellationToken);
        }

        // Milliseconds since the first frame, strictly increasing (a clock that steps back never reorders frames).
        long timestamp = Math.Max(_lastTimestampMs + 1, (frame.CaptureMicros - _firstCaptureMicros) / 1000);
        _lastTimestampMs = timestamp;
        ReadOnlyMemory<byte> payload = frame.Codec == CodecId.H264 ? ToSample(frame.Data.Span) : frame.Data;
        int headerLength = MatroskaStream.WriteBlockHeader(_header, MatroskaStream.VideoTrack, timestamp, payload.Length, frame.Keyframe);
        await SendAsync(ffmpeg, _header.AsMemory(0, headerLength), cancellationToken);
        await SendAsync(ffmpeg, payload, cancellationToken);
        Interlocked.Increment(ref _frames);
        if (Environment.TickCount64 >= _nextSizeCheck)
        {
            _nextSizeCheck = Environment.TickCount64 + (long)SizeCheckInterval.TotalMilliseconds;
            RefreshSize();
        }
    }

    public async ValueTask WriteAudioAsync(OpusPacket packet, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_ffmpeg is not { } ffmpeg)
        {
            if (_audioChannels == 0)
            {
                SkipAudio("the recording has no audio track");
                return;
            }

            // Before the first video frame: kept (a copy: the packet is only ours during the call) until the header can go.
            if (_earlyAudio.Count >= MaxEarlyAudioPackets)
            {
                _earlyAudio.Dequeue();
                SkipAudio($"more than {MaxEarlyAudioPackets} packets came before the first video frame; the oldest are left out");
            }

            _earlyAudio.Enqueue((packet.Data.ToArray(), packet.CaptureMicros));
            return;
        }

        if (_fileAudioChannels == 0)
        {
            SkipAudio("audio began after the file was started without an audio track");
            return;
        }

        await SendAudioAsync(ffmpeg, packet.Data, packet.CaptureMicros, cancellationToken);
    }

    public async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        if (_ffmpeg is not { } ffmpeg)
        {
            // Not one video frame: leave no empty (unplayable) file behind.
            if (_earlyAudio.Count > 0)
            {
                SkipAudio("no video frame came, so no file was written", _earlyAudio.Count);
                _earlyAudio.Clear();
            }

            File.Delete(_path);
            return;
        }

        await using (cancellationToken.Register(static s => ((FfmpegProcess)s!).Kill(), ffmpeg))
        {
            int code = await ffmpeg.FinishInputAsync(_options.FinishTimeout);
            if (code != 0)
            {
                throw new IOException(code == -1
                    ? $"{_path}: ffmpeg did not finish within {_options.FinishTimeout.TotalSeconds:0} s and was stopped."
                    : $"{_path}: {ffmpeg.DescribeExit()}");
            }
        }

        RefreshSize();
    }

    public async ValueTask DisposeAsync()
    {
        _completed = true;
        if (_ffmpeg is not null)
        {
            await _ffmpeg.DisposeAsync();
        }
    }

    /// <summary>The arguments after ffmpeg's own (-hide_banner etc.): Matroska on stdin, the file out.</summary>
    internal static List<string> Arguments(RecordingFormat format, string path, int width, int height, RecordingOptions options, CodecId codec = CodecId.Jpeg)
    {
        // The audio track, when the stream has one, is copied as it is: Opus goes into .mkv and (ffmpeg 4.3 and later) .mp4.
        List<string> args = ["-loglevel", "error", "-f", "matroska", "-i", "pipe:0", "-map", "0:v:0", "-map", "0:a:0?", "-c:a", "copy"];
        if (codec == CodecId.H264)
        {
            // Already H.264: copied into either container, never re-encoded.
            args.AddRange(["-c:v", "copy"]);
            args.AddRange(format == RecordingFormat.Mp4 ? ["-strict", "experimental", "-f", "mp4"] : ["-f", "matroska"]);
        }
        else if (format == RecordingFormat.Mp4)
        {
            // One fixed, even output size (yuv420p needs it), so a stream that changes size midway still encodes.
            int evenWidth = Math.Max(2, width & ~1);
            int evenHeight = Math.Max(2, height & ~1);
            args.AddRange([
                "-vf", string.Create(CultureInfo.InvariantCulture, $"scale={evenWidth}:{evenHeight},setsar=1"),
                "-c:v", "libx264", "-preset", options.X264Preset, "-crf", options.X264Crf.ToString(CultureInfo.InvariantCulture),
                "-pix_fmt", "yuv420p",
                // Keep every frame and its own timestamp: no frame-rate conversion, no rounding to a 1/fps grid.
                "-vsync", "passthrough", "-enc_time_base", "-1",
                // Opus in MP4 was "experimental" to ffmpeg's mp4 muxer before 4.3; newer ones ignore this.
                "-strict", "experimental",
                "-f", "mp4",
            ]);
        }
        else
        {
            args.AddRange(["-c:v", "copy", "-f", "matroska"]);
        }

        // "file:" so a name with a colon is never taken for a protocol.
        args.AddRange(["-y", "file:" + Path.GetFullPath(path)]);
        return args;
    }

    /// <summary>
    /// The track's avcC from a keyframe's SPS and PPS (in-band before each IDR, PROTOCOL §4.9); they stay in the samples
    /// too, so a player follows a later change of size.
    /// </summary>
    private static bool TryAvcConfiguration(ReadOnlyMemory<byte> keyframe, out byte[] configuration)
    {
        (ReadOnlyMemory<byte> sps, ReadOnlyMemory<byte> pps) = AnnexB.ParameterSets(keyframe);
        try
        {
            configuration = AnnexB.AvcDecoderConfiguration(sps.Span, pps.Span);
            return true;
        }
        catch (InvalidDataException)
        {
            configuration = [];
            return false;
        }
    }

    private async ValueTask<FfmpegProcess> StartAsync(JpegFrame first, byte[] avcConfiguration, CancellationToken cancellationToken)
    {
        FfmpegProcess ffmpeg = FfmpegProcess.Start(Arguments(_format, _path, first.Width, first.Height, _options, first.Codec), redirectInput: true, _logger, ownSession: true);
        _ffmpeg = ffmpeg;
        _codec = first.Codec;
        _fileAudioChannels = _audioChannels;
        // One origin for both tracks: the earliest capture time there is, so no timestamp is negative.
        long origin = first.CaptureMicros;
        foreach ((byte[] _, long capture) in _earlyAudio)
        {
            origin = Math.Min(origin, capture);
        }

        _firstCaptureMicros = origin;
        byte[] header = avcConfiguration.Length == 0 ? _header : new byte[MatroskaStream.MaxHeaderSize + avcConfiguration.Length];
        int length = MatroskaStream.WriteHeader(header, first.Width, first.Height, _fileAudioChannels, avcConfiguration);
        await SendAsync(ffmpeg, header.AsMemory(0, length), cancellationToken);
        while (_earlyAudio.TryDequeue(out (byte[] Data, long CaptureMicros) early))
        {
            await SendAudioAsync(ffmpeg, early.Data, early.CaptureMicros, cancellationToken);
        }

        return ffmpeg;
    }

    private async ValueTask SendAudioAsync(FfmpegProcess ffmpeg, ReadOnlyMemory<byte> data, long captureMicros, CancellationToken cancellationToken)
    {
        // The same origin and clock as the video; strictly increasing within the track.
        long timestamp = Math.Max(_lastAudioMs + 1, (captureMicros - _firstCaptureMicros) / 1000);
        _lastAudioMs = timestamp;
        int headerLength = MatroskaStream.WriteBlockHeader(_header, MatroskaStream.AudioTrack, timestamp, data.Length);
        await SendAsync(ffmpeg, _header.AsMemory(0, headerLength), cancellationToken);
        await SendAsync(ffmpeg, data, cancellationToken);
        Interlocked.Increment(ref _audioPackets);
    }

    /// <summary>An access unit as the file stores it: length-prefixed NAL units, in a buffer reused frame after frame.</summary>
    private ReadOnlyMemory<byte> ToSample(ReadOnlySpan<byte> accessUnit)
    {
        int size = AnnexB.LengthPrefixedSize(accessUnit);
        if (_sample.Length < size)
        {
            _sample = new byte[Math.Max(size, _sample.Length * 2)];
        }

        return _sample.AsMemory(0, AnnexB.WriteLengthPrefixed(accessUnit, _sample));
    }

    /// <summary>Counts frames left out; the first time (and every 500th) says why in the log.</summary>
    private void SkipFrame(long sequence, string reason)
    {
        long total = Interlocked.Increment(ref _skipped);
        if (total == 1 || total % 500 == 0)
        {
            RecordingLog.FrameSkipped(_logger, _path, sequence, $"{reason} ({total} so far)");
        }
    }

    /// <summary>Counts audio left out; the first time (and every 500th) says why in the log.</summary>
    private void SkipAudio(string reason, long packets = 1)
    {
        long before = _audioSkipped;
        long total = Interlocked.Add(ref _audioSkipped, packets);
        if (before == 0 || before / 500 != total / 500)
        {
            RecordingLog.AudioSkipped(_logger, _path, total, reason);
        }
    }

    private async ValueTask SendAsync(FfmpegProcess ffmpeg, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            // Cancellation kills ffmpeg: a pipe write cannot be abandoned half-way otherwise.
            await using (cancellationToken.Register(static s => ((FfmpegProcess)s!).Kill(), ffmpeg))
            {
                await ffmpeg.Input.WriteAsync(data, cancellationToken);
            }
        }
        catch (IOException ex)
        {
            // Broken pipe: ffmpeg is gone; its last error line says why.
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await ffmpeg.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
            }

            throw new IOException($"{_path}: {ffmpeg.DescribeExit()}", ex);
        }
    }

    private void RefreshSize()
    {
        try
        {
            Interlocked.Exchange(ref _bytes, new FileInfo(_path).Length);
        }
        catch (IOException)
        {
        }
    }
}
