using SocketCam.Codecs;
using SocketCam.Protocol;
using SocketCam.Sources;

namespace SocketCam.Web.Hosting;

/// <summary>
/// One of the hub's own captures (<see cref="CapturePipeline"/>): a source encoded into a room. The
/// <see cref="SocketCamHost"/> given them owns both: disposing it disposes them (after the hub has stopped), started or not.
/// </summary>
internal sealed record HostCapture
{
    /// <summary>The room the capture publishes into; default "main".</summary>
    public string Room { get; init; } = RoomName.Default;

    /// <summary>The opened source; no default (required).</summary>
    public required IFrameSource Source { get; init; }

    /// <summary>The encoder of the source's raw frames (a camera's JPEGs pass through); no default (required).</summary>
    public required IFrameEncoder Encoder { get; init; }
}
