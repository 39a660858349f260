using Microsoft.Extensions.Logging;
using SocketCam.Audio.Opus;
using SocketCam.Media;

namespace SocketCam.Audio;

/// <summary>
/// A published audio track's sending side: PCM from its source, one Opus packet per 20 ms (or 10 ms), each a pooled
/// <see cref="MediaFrame"/> (kind audio, codec Opus, keyframe, samples per channel in <see cref="FrameInfo.Width"/>).
/// DTX packets (1-2 bytes: silence) are not sent; the sequence counts only packets sent, so a receiver tells silence
/// (capture time jumps, sequence does not) from loss (sequence jumps).
/// </summary>
internal sealed class AudioTrackEncoder : IAsyncDisposable
{
    private readonly IAudioSource _source;
    private readonly OpusEncoder _encoder;
    private readonly short[] _pcm;
    private long _sequence;

    public AudioTrackEncoder(AudioSourceSpec spec, AudioOptions options, ILogger? logger = null)
    {
        _encoder = new OpusEncoder(options);
        try
        {
            _source = spec.Kind == AudioSourceKind.Sync ? new SyncToneSource(_encoder.Format) : FfmpegAudioSource.Open(spec, _encoder.Format, logger);
        }
        catch
        {
            _encoder.Dispose();
            throw;
        }

        _pcm = new short[_encoder.Format.PacketValues];
    }

    public AudioOptions Options => _encoder.Options;

    public AudioFormat Format => _encoder.Format;

    public AudioSourceSpec Spec => _source.Spec;

    /// <summary>Why the sound stopped (its source failed or ended), or null while it plays; kept across sessions.</summary>
    public string? Failure { get; set; }

    /// <summary>Packets of silence DTX kept off the wire.</summary>
    public long SilentPackets { get; private set; }

    /// <summary>The next packet to send (capture time on this machine's clock), or null when the source ended.</summary>
    public async ValueTask<MediaFrame?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            long capture = await _source.ReadAsync(_pcm, cancellationToken);
            if (capture < 0)
            {
                return null;
            }

            MediaFrame frame = MediaFrame.Rent(OpusEncoder.MaxPacketBytes);
            try
            {
                int length = _encoder.Encode(_pcm, frame.WritableData);
                if (length <= 2 && Options.Dtx)
                {
                    SilentPackets++;
                    frame.Release();
                    continue;
                }

                frame.Complete(new FrameInfo(TrackKind.Audio, CodecId.Opus, FrameFlags.Keyframe, Format.PacketSamples, 0, _sequence++, capture), length);
                return frame;
            }
            catch
            {
                frame.Release();
                throw;
            }
        }
    }

    /// <summary>
    /// The next packet to send now, or null once the source failed or ended (<see cref="Failure"/> then says why, and
    /// stays set across sessions). Sound is live or nothing: a packet that waited more than 200 ms (in the pipe while
    /// there was no session) is dropped, never sent late.
    /// </summary>
    public async ValueTask<MediaFrame?> ReadLiveAsync(CancellationToken cancellationToken)
    {
        const long Stale = 200_000;
        while (Failure is null)
        {
            MediaFrame? frame;
            try
            {
                frame = await ReadAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException)
            {
                Failure = ex.Message;
                return null;
            }

            if (frame is null)
            {
                Failure = $"{Spec} ended";
                return null;
            }

            if (Diagnostics.Clock.NowMicros() - frame.Header.CaptureMicros <= Stale)
            {
                return frame;
            }

            frame.Release();
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _source.DisposeAsync();
        _encoder.Dispose();
    }
}
