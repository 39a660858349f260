using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Hub;

/// <summary>
/// The hub's own publisher for a room: source → encoder → fan-out. Pauses (and stops pulling from the source)
/// while the room has no viewers. With an unpaced source it produces as fast as the viewers take frames.
/// </summary>
internal sealed class CapturePipeline
{
    /// <summary>The longest an unpaced stream waits for a stalled viewer before moving on.</summary>
    private static readonly TimeSpan UnpacedWaitLimit = TimeSpan.FromMilliseconds(50);

    private readonly IFrameSource _source;
    private readonly IFrameEncoder _encoder;
    private readonly Room _room;
    private readonly ILogger _logger;
    private long _framesEncoded;

    public CapturePipeline(IFrameSource source, IFrameEncoder encoder, Room room, ILogger logger)
    {
        _source = source;
        _encoder = encoder;
        _room = room;
        _logger = logger;
    }

    public long FramesEncoded => Interlocked.Read(ref _framesEncoded);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (!_room.TryClaimPublisher(this))
        {
            throw new UserFacingException($"Room '{_room.Name}' already has a publisher.");
        }

        try
        {
            HubLog.CaptureStarted(_logger, _room.Name, _source.Description);
            bool unpaced = _source.Fps <= 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!_room.HasAudience)
                {
                    HubLog.CapturePaused(_logger, _room.Name);
                    await _room.WaitForViewersAsync(cancellationToken);
                }

                VideoFrame? frame = await _source.ReadFrameAsync(cancellationToken);
                if (frame is null)
                {
                    HubLog.SourceEnded(_logger, _room.Name);
                    return;
                }

                SharedFrame shared;
                using (frame)
                {
                    shared = FrameEncoding.Encode(_encoder, frame);
                }

                await _room.PublishAsync(shared, cancellationToken);
                shared.Release();
                Interlocked.Increment(ref _framesEncoded);
                if (unpaced)
                {
                    await _room.WaitUntilTakenAsync(UnpacedWaitLimit, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown.
        }
        finally
        {
            _room.ReleasePublisher(this);
        }
    }
}
