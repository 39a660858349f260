using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Display;

/// <summary>
/// A local preview of encoded frames (what a hub serves, what a publisher sends): a viewer of the room with its own
/// <see cref="ViewerFeed"/> (a pull feed: one-frame slot, signal state, the window's wake), so the fan-out hands it a
/// reference to each frame exactly as it does to network viewers (no copy, never waits) and the window decodes only the
/// newest frame, on its own thread, at the rate it draws, and none while hidden (<see cref="Skip"/>). Works the same for
/// frames encoded here and for a camera's JPEGs passed through, which have no raw picture before encoding.
/// </summary>
internal sealed class EncodedFrameFeed : IRoomViewer, IDisplayFeed, IDisposable
{
    private readonly Dictionary<CodecId, IFrameDecoder> _decoders = [];
    private readonly long _clockOffsetMicros;
    private readonly ViewerFeed _feed = new();
    private VideoFrame? _picture;
    private long _corrupt;

    /// <param name="clockOffsetMicros">
    /// The frames' clock minus this process's clock (0 when the frames' capture times were taken here).
    /// </param>
    /// <remarks>
    /// Every take from <see cref="Slot"/> (shown or skipped) tells a room the feed watches that it is ready for the next
    /// frame: the room sets the slot's <see cref="VideoSlot.Taken"/> when the feed joins it.
    /// </remarks>
    public EncodedFrameFeed(long clockOffsetMicros = 0)
    {
        _clockOffsetMicros = clockOffsetMicros;
    }

    public VideoSlot Slot => _feed.Slot;

    public long Replaced => _feed.Dropped;

    public string? SignalReason => _feed.SignalReason;

    /// <summary>Frames that failed to decode (not shown).</summary>
    public long Corrupt => Interlocked.Read(ref _corrupt);

    public void SetWake(Action wake) => _feed.SetWake(wake);

    /// <summary>Offers a frame that is not fanned out by a room (a publisher's): takes its own reference, never waits.</summary>
    public void Offer(MediaFrame frame) => Slot.Offer(frame);

    void IRoomViewer.OnSignal(SignalMessage message) => _feed.OnSignal(message);

    public VideoFrame? TakeNewest()
    {
        MediaFrame? frame = Slot.Take();
        if (frame is null)
        {
            return null;
        }

        try
        {
            VideoFrameHeader header = frame.Header;
            if (_picture is null || _picture.Width != header.Width || _picture.Height != header.Height)
            {
                _picture?.Dispose();
                _picture = VideoFrame.Rent(header.Width, header.Height);
            }

            if (!_decoders.TryGetValue(header.Codec, out IFrameDecoder? decoder))
            {
                decoder = CodecFactory.CreateDecoder(header.Codec);
                _decoders[header.Codec] = decoder;
            }

            decoder.Decode(frame.Data, header.Width, header.Height, _picture);
            _picture.Sequence = header.Sequence;
            _picture.CaptureMicros = header.CaptureMicros - _clockOffsetMicros;
            return _picture;
        }
        catch (InvalidDataException)
        {
            // A publisher's broken JPEG: the hub passes it on, viewers count it; the window keeps the last good picture.
            Interlocked.Increment(ref _corrupt);
            return null;
        }
        finally
        {
            frame.Release();
        }
    }

    public bool Skip()
    {
        MediaFrame? frame = Slot.Take();
        if (frame is null)
        {
            return false;
        }

        // Not decoded: nobody would see it.
        frame.Release();
        return true;
    }

    /// <summary>Only after the window has stopped and the feed left its room (or its publisher stopped).</summary>
    public void Dispose()
    {
        _feed.Close();
        foreach (IFrameDecoder decoder in _decoders.Values)
        {
            decoder.Dispose();
        }

        _decoders.Clear();
        _picture?.Dispose();
        _picture = null;
    }
}
