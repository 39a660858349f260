using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Hub;
using SocketCam.Media;

namespace SocketCam.Seed;

/// <summary>
/// Turns the room's frames into seed-format frames once each, however many seed clients there are: the first client to
/// need a frame converts it (a JPEG is decoded straight into the pickle's pixel bytes, raw BGR is copied), the others
/// reuse it. Only frames some seed client actually takes are converted, so a slow client costs no extra work.
/// </summary>
internal sealed class SeedFrameCache : IDisposable
{
    private readonly Lock _lock = new();
    private JpegDecoder? _decoder;
    private PickledFrame? _current;
    private long _sequence = -1;
    private long _captureMicros;

    /// <summary>Frames converted so far.</summary>
    public long Converted { get; private set; }

    /// <summary>The seed-format version of <paramref name="frame"/> with a reference for the caller.</summary>
    /// <exception cref="InvalidDataException">The frame's JPEG does not decode.</exception>
    public PickledFrame Get(SharedFrame frame)
    {
        lock (_lock)
        {
            // Sequence and capture time together: a publisher that reconnects starts its sequence over.
            if (_current is null || frame.Header.Sequence != _sequence || frame.Header.CaptureMicros != _captureMicros)
            {
                PickledFrame converted = Convert(frame);
                _current?.Release();
                _current = converted;
                _sequence = frame.Header.Sequence;
                _captureMicros = frame.Header.CaptureMicros;
                Converted++;
            }

            _current.AddRef();
            return _current;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _current?.Release();
            _current = null;
            _decoder?.Dispose();
            _decoder = null;
        }
    }

    private PickledFrame Convert(SharedFrame frame)
    {
        var header = frame.Header;
        switch (header.Codec)
        {
            case CodecId.RawBgr24:
                return PickledFrame.Create(header.Width, header.Height, frame, static (pixels, f) => f.Data.CopyTo(pixels.Span));
            case CodecId.Jpeg:
                // Fancy upsampling, as OpenCV's own JPEG decoding does: a seed client sees the pixels it would get from imdecode.
                _decoder ??= new JpegDecoder(fastUpsample: false);
                return PickledFrame.Create(header.Width, header.Height, (frame, _decoder), static (pixels, s) =>
                {
                    if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(pixels, out ArraySegment<byte> segment))
                    {
                        throw new InvalidOperationException("Pooled frames are arrays.");
                    }

                    var header = s.frame.Header;
                    using VideoFrame target = VideoFrame.Wrap(segment.Array!, segment.Offset, header.Width, header.Height, header.Width * VideoFrame.BytesPerPixel);
                    s._decoder.Decode(s.frame.Data, header.Width, header.Height, target);
                });
            default:
                throw new InvalidDataException($"codec {header.Codec} cannot be sent in the seed format.");
        }
    }
}
