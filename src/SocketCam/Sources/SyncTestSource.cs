using System.Globalization;
using SocketCam.Diagnostics;
using SocketCam.Media;

namespace SocketCam.Sources;

/// <summary>
/// `--source sync`: a lip-sync test picture (the broadcasters' "beep and flash"). Dark grey, turning white for the
/// first 100 ms of every second of this machine's clock; `--audio sync` beeps at the same instants (Audio's
/// <c>SyncToneSource</c>). Frames are captured on a grid aligned with the clock (frame n at n / fps seconds), so the
/// first white frame's capture time is the whole second itself, as the beep's first sample is: whatever offset a
/// receiver sees between the two was added on the way, by transport, buffering and playout.
/// </summary>
internal sealed class SyncTestSource : IFrameSource
{
    /// <summary>How long each flash (and each beep) lasts.</summary>
    public const long FlashMicros = 100_000;

    private const byte Dark = 32;
    private readonly double _fps;
    private long _lastSlot = -1;
    private long _sequence;

    public SyncTestSource(int width, int height, double fps)
    {
        Width = width;
        Height = height;
        _fps = fps > 0 ? fps : 30;
        Description = string.Create(CultureInfo.InvariantCulture, $"sync test (a flash each second) {width}x{height} @ {_fps:0.###} fps");
    }

    public string Description { get; }

    public int Width { get; }

    public int Height { get; }

    public double Fps => _fps;

    /// <summary>Whether a picture captured at <paramref name="captureMicros"/> is in a flash.</summary>
    public static bool IsFlash(long captureMicros) => captureMicros % 1_000_000 < FlashMicros;

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        // The next slot on the clock's grid after the last one handed out; a reader that fell behind skips to now.
        long now = Clock.NowMicros();
        long slot = Math.Max(_lastSlot + 1, (long)Math.Ceiling(now * _fps / 1e6));
        long capture = (long)Math.Round(slot * 1e6 / _fps);
        if (capture - now > 500)
        {
            await Task.Delay(TimeSpan.FromMicroseconds(capture - now), cancellationToken);
        }

        _lastSlot = slot;
        VideoFrame frame = VideoFrame.Rent(Width, Height);
        byte level = IsFlash(capture) ? (byte)255 : Dark;
        frame.Buffer.AsSpan(frame.Offset, frame.Stride * Height).Fill(level);

        frame.Sequence = _sequence++;
        frame.CaptureMicros = capture;
        return frame;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
