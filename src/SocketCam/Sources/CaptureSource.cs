using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Rooms;

namespace SocketCam.Sources;

/// <summary>
/// An opened frame source with the encoder of its raw frames (a camera's JPEGs pass through): what a host is given to
/// capture into a room. The host starts the capture (<see cref="CaptureInto"/>) and disposes this once it has stopped;
/// the source and the encoder themselves stay the engine's.
/// </summary>
public sealed class CaptureSource : IAsyncDisposable
{
    internal CaptureSource(IFrameSource frames, IFrameEncoder encoder, Protocol.TrackSource kind = Protocol.TrackSource.Unknown)
    {
        Frames = frames;
        Encoder = encoder;
        Kind = kind;
    }

    /// <summary>What the capture's track announces it comes from (camera, screen, file, synthetic).</summary>
    internal Protocol.TrackSource Kind { get; }

    internal IFrameSource Frames { get; }

    internal IFrameEncoder Encoder { get; }

    /// <summary>A capture of this source into <paramref name="room"/>, logged to <paramref name="logger"/>; run it with <see cref="CapturePipeline.RunAsync"/>.</summary>
    public CapturePipeline CaptureInto(Room room, ILogger logger) => new(Frames, Encoder, room, logger, new CaptureOptions { Kind = Kind });

    /// <summary>Disposes the encoder and the source (after the capture has stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        Encoder.Dispose();
        await Frames.DisposeAsync();
    }
}
