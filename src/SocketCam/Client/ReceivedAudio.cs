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
        PushTo(buffer, f.Info, data, clockOffsetMicros);
    }

    /// <summary>The same for a packet that came another way (a UDP AUDIO datagram): samples per channel in <see cref="FrameInfo.Width"/>.</summary>
    public static void PushTo(JitterBuffer buffer, in FrameInfo info, ReadOnlySpan<byte> data, long clockOffsetMicros) =>
        buffer.Push(info.Sequence, info.Width, info.CaptureMicros - clockOffsetMicros, Clock.NowMicros(), data, (info.Flags & FrameFlags.Discontinuity) != 0);
}
