using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Ffmpeg;

namespace SocketCam.Audio;

/// <summary>
/// PCM from ffmpeg: a microphone (ALSA or PulseAudio), a filter graph or a file's audio, resampled by ffmpeg to 48 kHz s16le
/// in the track's channels and read one packet at a time. A microphone's capture times follow the samples (packet n
/// starts n packets after the first) and are pulled back to the wall clock when the two drift apart by more than
/// <see cref="MaxDriftMicros"/>, so they stay honest for sync. Files and filter graphs are paced here, not by ffmpeg's
/// `-re` (which hands out its own 21 ms frames unevenly): ffmpeg runs ahead as far as the pipe lets it, and packet n is
/// released at its own deadline, start + (n + 1) packets, with that exact capture time, so every source is live and
/// the receivers' jitter buffers see the network's jitter only.
/// </summary>
internal sealed class FfmpegAudioSource : IAudioSource
{
    /// <summary>How far the sample count may run from the wall clock before capture times are re-anchored.</summary>
    public const long MaxDriftMicros = 60_000;

    private readonly FfmpegProcess _process;
    private readonly byte[] _bytes;
    private readonly AudioPacer? _pacer;
    private long _anchorMicros = -1;
    private long _samplesSinceAnchor;

    private FfmpegAudioSource(FfmpegProcess process, AudioSourceSpec spec, AudioFormat format)
    {
        _process = process;
        Spec = spec;
        Format = format;
        _bytes = new byte[format.PacketBytes];
        _pacer = spec.Kind == AudioSourceKind.Microphone ? null : new AudioPacer(format.PacketMicros);
    }

    public AudioSourceSpec Spec { get; }

    public AudioFormat Format { get; }

    /// <summary>Packets read so far.</summary>
    public long Packets { get; private set; }

    /// <summary>Starts ffmpeg for <paramref name="spec"/>; a missing ffmpeg is one line (<see cref="NativeDependencyException"/>).</summary>
    public static FfmpegAudioSource Open(AudioSourceSpec spec, AudioFormat format, ILogger? logger = null)
    {
        if (spec.Kind == AudioSourceKind.None)
        {
            throw new ArgumentException("There is no audio source to open (--audio none).");
        }

        return new FfmpegAudioSource(FfmpegProcess.Start(Arguments(spec, format), logger: logger), spec, format);
    }

    /// <summary>The ffmpeg command line (without the program) for a source.</summary>
    public static List<string> Arguments(AudioSourceSpec spec, AudioFormat format)
    {
        var args = new List<string> { "-loglevel", "error" };
        switch (spec.Kind)
        {
            case AudioSourceKind.Microphone:
                // Small capture buffers: a microphone's latency is what it holds before we see it.
                args.AddRange(["-fflags", "nobuffer", "-f", spec.Pulse ? "pulse" : "alsa"]);
                if (spec.Pulse)
                {
                    args.AddRange(["-fragment_size", (format.PacketBytes).ToString(CultureInfo.InvariantCulture)]);
                }

                args.AddRange(["-i", spec.Argument]);
                break;
            case AudioSourceKind.Lavfi:
                args.AddRange(["-f", "lavfi", "-i", spec.Argument]);
                break;
            default:
                args.AddRange(["-i", spec.Argument]);
                break;
        }

        args.AddRange(["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", format.Channels.ToString(CultureInfo.InvariantCulture),
            "-ar", format.SampleRate.ToString(CultureInfo.InvariantCulture), "-f", "s16le", "-flush_packets", "1", "pipe:1"]);
        return args;
    }

    /// <summary>
    /// Reads the next packet's samples into <paramref name="pcm"/> (<see cref="AudioFormat.PacketValues"/> long) and returns
    /// the capture time of its first sample (µs, this machine's clock), or -1 when the source ended.
    /// </summary>
    public async ValueTask<long> ReadAsync(short[] pcm, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < _bytes.Length)
        {
            int n = await _process.Output.ReadAsync(_bytes.AsMemory(filled), cancellationToken);
            if (n == 0)
            {
                if (Packets == 0 && await ExitCodeAsync() != 0)
                {
                    throw new InvalidOperationException($"{Spec} could not be opened: {_process.LastErrorLine ?? _process.DescribeExit()}");
                }

                return -1;
            }

            filled += n;
        }

        MemoryMarshal.Cast<byte, short>(_bytes).CopyTo(pcm);
        Packets++;
        return _pacer is not null ? await _pacer.WaitAsync(cancellationToken) : NextCaptureMicros(Clock.NowMicros());
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    /// <summary>The first sample's time of the packet just read at <paramref name="nowMicros"/> (its last sample is "now").</summary>
    internal long NextCaptureMicros(long nowMicros)
    {
        long byWallClock = nowMicros - Format.PacketMicros;
        long bySamples = _anchorMicros + Format.MicrosOf(_samplesSinceAnchor);
        if (_anchorMicros < 0 || Math.Abs(bySamples - byWallClock) > MaxDriftMicros)
        {
            _anchorMicros = byWallClock;
            _samplesSinceAnchor = 0;
            bySamples = byWallClock;
        }

        _samplesSinceAnchor += Format.PacketSamples;
        return bySamples;
    }

    private async Task<int> ExitCodeAsync()
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            return await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
    }
}
