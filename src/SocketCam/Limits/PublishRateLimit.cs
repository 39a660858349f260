using System.Diagnostics;

namespace SocketCam.Limits;

/// <summary>
/// `--max-publish-fps` and `--max-publish-bitrate` for one publisher: token buckets (one second of frames, two seconds of
/// bits) that say whether the next frame may go into the room. Frames over the limit are dropped and counted, not queued:
/// live video loses nothing worth keeping, and a flooding publisher cannot fill the recorders' disk or the viewers' links.
/// Used by every kind of publisher (TCP and Unix, UDP, WebSocket). Not thread-safe: one per publisher's receive loop.
/// </summary>
public sealed class PublishRateLimit
{
    private readonly double _fps;
    private readonly double _bytesPerSecond;
    private readonly double _frameBurst;
    private readonly double _byteBurst;
    private double _frameTokens;
    private double _byteTokens;
    private long _last;

    public PublishRateLimit(LimitOptions options)
    {
        _fps = options.MaxPublishFps;
        _bytesPerSecond = options.MaxPublishBitrate / 8;
        _frameBurst = Math.Max(1, _fps);
        _byteBurst = _bytesPerSecond * 2;
        _frameTokens = _frameBurst;
        _byteTokens = _byteBurst;
        _last = Stopwatch.GetTimestamp();
    }

    /// <summary>False when neither limit is set (nothing to check).</summary>
    public bool IsActive => _fps > 0 || _bytesPerSecond > 0;

    /// <summary>Frames dropped for going over a limit.</summary>
    public long Dropped { get; private set; }

    /// <summary>Whether a frame of <paramref name="bytes"/> may be published now; false counts it as dropped.</summary>
    public bool TryAdmit(int bytes) => TryAdmit(bytes, Stopwatch.GetTimestamp());

    internal bool TryAdmit(int bytes, long timestamp)
    {
        if (!IsActive)
        {
            return true;
        }

        double seconds = Math.Max(0, (timestamp - _last) / (double)Stopwatch.Frequency);
        _last = timestamp;
        _frameTokens = Math.Min(_frameBurst, _frameTokens + (seconds * _fps));
        _byteTokens = Math.Min(_byteBurst, _byteTokens + (seconds * _bytesPerSecond));
        bool fpsOk = _fps <= 0 || _frameTokens >= 1;
        // A frame bigger than the whole bucket goes when the bucket is full, as debt paid back before the next one: a cap
        // below one frame's size slows a publisher down instead of dropping every frame for good.
        bool bytesOk = _bytesPerSecond <= 0 || _byteTokens >= Math.Min(bytes, _byteBurst);
        if (fpsOk && bytesOk)
        {
            _frameTokens -= 1;
            _byteTokens -= bytes;
            return true;
        }

        Dropped++;
        return false;
    }
}
