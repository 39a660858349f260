using SocketCam.Audio;
using SocketCam.Diagnostics;
using SocketCam.Media;

namespace SocketCam.Client;

/// <summary>A received audio packet into its jitter buffer: one path for `view` and `call`.</summary>
internal static class ReceivedAudio
{
    /// <summary>Pushes the packet, its capture time moved from the hub's clock to ours, its arrival stamped now.</summary>
    public static void PushTo(this ReceivedFrame f, JitterBuffer buffer, long clockOffsetMicros)
    {
        ReadOnlySpan<byte> data = f.Data.IsSingleSegment ? f.Data.FirstSpan : System.Buffers.BuffersExtensions.ToArray(f.Data);
        buffer.Push(f.Info.Sequence, f.Info.Width, f.Info.CaptureMicros - clockOffsetMicros, Clock.NowMicros(), data, (f.Info.Flags & FrameFlags.Discontinuity) != 0);
    }
}
