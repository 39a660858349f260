using System.Collections.Concurrent;
using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;

namespace SocketCam.Seed;

/// <summary>
/// Turns the room's frames into seed-format frames once each, however many seed clients there are: the first client to
/// need a frame converts it (a JPEG is decoded straight into the pickle's pixel bytes, raw BGR is copied) on its own send
/// loop, outside any lock; the others await that conversion without blocking a thread, and reuse it. A frame that fails
/// to convert fails once for all of them. Only frames some seed client actually takes are converted.
/// </summary>
internal sealed class SeedFrameCache : IDisposable
{
    private readonly Lock _lock = new();
    private readonly ConcurrentBag<JpegDecoder> _decoders = [];
    private Entry? _current;
    private bool _disposed;

    /// <summary>
    /// The seed-format version of <paramref name="frame"/> with a reference for the caller, or null when a newer frame
    /// replaced it while it was being converted (take the newer one).
    /// </summary>
    /// <exception cref="InvalidDataException">The frame's JPEG does not decode.</exception>
    public async ValueTask<PickledFrame?> GetAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        Entry entry;
        bool convert = false;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Sequence and capture time together: a publisher that reconnects starts its sequence over.
            if (_current is { } current && current.Sequence == frame.Header.Sequence && current.CaptureMicros == frame.Header.CaptureMicros)
            {
                entry = current;
            }
            else
            {
                DropCacheReference(_current);
                entry = new Entry(frame.Header.Sequence, frame.Header.CaptureMicros);
                _current = entry;
                convert = true;
            }
        }

        if (convert)
        {
            Convert(frame, entry);
        }

        await entry.Done.Task.WaitAsync(cancellationToken);
        lock (_lock)
        {
            entry.Frame?.AddRef();
            return entry.Frame;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            DropCacheReference(_current);
            _current = null;
        }

        while (_decoders.TryTake(out JpegDecoder? decoder))
        {
            decoder.Dispose();
        }
    }

    /// <summary>Under the lock: the cache's own reference goes once an entry is no longer current.</summary>
    private static void DropCacheReference(Entry? entry)
    {
        if (entry is not null)
        {
            entry.Replaced = true;
            entry.Frame?.Release();
            entry.Frame = null;
        }
    }

    private void Convert(MediaFrame frame, Entry entry)
    {
        PickledFrame? result = null;
        try
        {
            result = Pickle(frame);
        }
        catch (InvalidDataException ex)
        {
            entry.Done.SetException(ex);
            return;
        }
        catch (Exception ex)
        {
            entry.Done.SetException(ex);
            throw;
        }

        lock (_lock)
        {
            if (entry.Replaced)
            {
                result.Release(); // nobody can ask for it any more
            }
            else
            {
                entry.Frame = result;
            }
        }

        entry.Done.SetResult();
    }

    private PickledFrame Pickle(MediaFrame frame)
    {
        var header = frame.Header;
        switch (header.Codec)
        {
            case CodecId.RawBgr24:
                return PickledFrame.Create(header.Width, header.Height, frame, static (pixels, f) => f.Data.CopyTo(pixels.Span));
            case CodecId.Jpeg:
                // Two clients may convert different frames at once: each conversion borrows its own decoder.
                JpegDecoder decoder = _decoders.TryTake(out JpegDecoder? pooled) ? pooled : new JpegDecoder(fastUpsample: false);
                try
                {
                    // Fancy upsampling, as OpenCV's own JPEG decoding does: a seed client sees the pixels imdecode would give.
                    return PickledFrame.Create(header.Width, header.Height, (frame, decoder), static (pixels, s) =>
                    {
                        if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(pixels, out ArraySegment<byte> segment))
                        {
                            throw new InvalidOperationException("Pooled frames are arrays.");
                        }

                        var header = s.frame.Header;
                        using VideoFrame target = VideoFrame.Wrap(segment.Array!, segment.Offset, header.Width, header.Height, header.Width * VideoFrame.BytesPerPixel);
                        s.decoder.Decode(s.frame.Data, header.Width, header.Height, target);
                    });
                }
                finally
                {
                    _decoders.Add(decoder);
                }

            default:
                throw new InvalidDataException($"codec {header.Codec} cannot be sent in the seed format.");
        }
    }

    private sealed class Entry(long sequence, long captureMicros)
    {
        public long Sequence { get; } = sequence;

        public long CaptureMicros { get; } = captureMicros;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The converted frame while this entry is current (the cache's reference); under the cache's lock.</summary>
        public PickledFrame? Frame { get; set; }

        /// <summary>A newer frame took its place; under the cache's lock.</summary>
        public bool Replaced { get; set; }
    }
}
