using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>What every kind of client reports for `/api/stats` (native TCP, seed-format, MJPEG over HTTP).</summary>
internal interface IClientStats
{
    /// <summary>"viewer", "publisher" or "connecting" (native protocol, before its handshake), "seed", "mjpeg".</summary>
    string Kind { get; }

    string Remote { get; }

    /// <summary>The room it watches or feeds (null before its handshake).</summary>
    string? RoomName { get; }

    long FramesSent { get; }

    long BytesSent { get; }

    /// <summary>Frames replaced in its slot before it could take them (it skipped to a newer one).</summary>
    long FramesDropped { get; }

    /// <summary>Frames sent per second over the last <see cref="Diagnostics.RateMeter.Window"/>.</summary>
    double SendFps { get; }
}
