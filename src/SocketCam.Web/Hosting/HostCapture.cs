using SocketCam.Protocol;
using SocketCam.Sources;

namespace SocketCam.Web.Hosting;

/// <summary>
/// One of the hub's own captures (<see cref="CapturePipeline"/>): a source encoded into a room. The
/// <see cref="SocketCamHost"/> given it owns the source: disposing the host disposes it (after the hub has stopped), started or not.
/// </summary>
internal sealed record HostCapture
{
    /// <summary>The room the capture publishes into; default "main".</summary>
    public string Room { get; init; } = RoomName.Default;

    /// <summary>The opened source with the encoder of its raw frames (a camera's JPEGs pass through); no default (required).</summary>
    public required CaptureSource Source { get; init; }
}
