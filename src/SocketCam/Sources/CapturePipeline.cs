using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Rooms;

namespace SocketCam.Sources;

/// <summary>How the hub's own capture behaves when its source fails.</summary>
internal sealed record CaptureOptions
{
    /// <summary>First wait before restarting a failed or ended source; doubles up to <see cref="MaxRetryDelay"/>. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between restarts; default 10 s.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>What the capture's track says it comes from (§4.4 source: camera, screen, file, synthetic); default unknown.</summary>
    public TrackSource Kind { get; init; } = TrackSource.Unknown;
}

/// <summary>
/// The hub's own publisher for a room: source → encoder (or a camera's JPEGs as they are) → fan-out. Pauses (and stops
/// pulling from the source) while the room has no viewers. With an unpaced source it produces as fast as the viewers
/// take frames. When the source fails or ends, the room shows "no signal" and the source is restarted with backoff;
/// the hub keeps serving throughout.
/// </summary>
public sealed class CapturePipeline
{
    /// <summary>The longest an unpaced stream waits for a stalled viewer before moving on.</summary>
    private static readonly TimeSpan UnpacedWaitLimit = TimeSpan.FromMilliseconds(50);

    private readonly IFrameSource _source;
    private readonly IFrameEncoder _encoder;
    private readonly Room _room;
    private readonly ILogger _logger;
    private readonly CaptureOptions _options;
    private long _framesEncoded;
    private long _restarts;

    internal CapturePipeline(IFrameSource source, IFrameEncoder encoder, Room room, ILogger logger, CaptureOptions? options = null)
    {
        _source = source;
        _encoder = encoder;
        _room = room;
        _logger = logger;
        _options = options ?? new CaptureOptions();
    }

    internal long FramesEncoded => Interlocked.Read(ref _framesEncoded);

    /// <summary>How many times the source failed or ended and was started again.</summary>
    internal long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>Claims the room's publisher seat and captures until <paramref name="cancellationToken"/> is cancelled; throws when the room already has a publisher.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // The hub's own capture is a participant named "hub" with one video track, published now so it can be
        // subscribed to before it captures (docs/PROTOCOL.md §4.12).
        // Size and rate as the source announces them (0 when it only knows once it runs, e.g. a camera before it opens).
        var track = new TrackDescription(
            1, TrackKind.Video, _encoder.Codec, _options.Kind, _source.Description.Length <= 64 ? _source.Description : _source.Description[..64],
            (ushort)Math.Clamp(_source.Width, 0, FrameLimits.MaxDimension), (ushort)Math.Clamp(_source.Height, 0, FrameLimits.MaxDimension),
            (uint)Math.Max(0, _source.Fps * 1000));
        if (!_room.TryClaimPublisher(this, "hub", ParticipantTransport.Hub, ParticipantFlags.HubSource | ParticipantFlags.SpeaksV1, track, _encoder.RequestKeyframe))
        {
            throw new UserFacingException($"Room '{_room.Name}' already has a publisher.");
        }

        try
        {
            SourceLog.CaptureStarted(_logger, _room.Name, _source.Description);
            bool unpaced = _source.Fps <= 0;
            TimeSpan retryDelay = _options.RetryDelay;
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!_room.HasAudience)
                {
                    SourceLog.CapturePaused(_logger, _room.Name);
                    if (_source is IPausableSource pausable)
                    {
                        await pausable.PauseAsync();
                    }

                    await _room.WaitForViewersAsync(cancellationToken);
                }

                MediaFrame? shared;
                string? failure = null;
                try
                {
                    shared = await FrameEncoding.ReadAsync(_source, _encoder, cancellationToken);
                    if (shared is null)
                    {
                        failure = "the source ended";
                    }
                }
                catch (SourceFailedException ex)
                {
                    shared = null;
                    failure = ex.Message;
                }

                if (shared is null)
                {
                    // No signal: tell the viewers, keep serving, and try the source again later.
                    SourceLog.SourceEnded(_logger, _room.Name, failure!, retryDelay.TotalSeconds);
                    _room.SetSignal(false, failure!);
                    Interlocked.Increment(ref _restarts);
                    await Task.Delay(retryDelay, cancellationToken);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _options.MaxRetryDelay.Ticks));
                    continue;
                }

                // Room.Publish turns the room live again by itself (viewers get SIGNAL live before the frame).
                retryDelay = _options.RetryDelay;
                try
                {
                    await _room.PublishAsync(shared, cancellationToken);
                }
                finally
                {
                    shared.Release();
                }

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
