using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Rooms;

/// <summary>
/// An H.264 primary track as JPEG for the v1 viewers that need JPEG (MJPEG, snapshots, the seed format, the preview
/// window, watch pages without WebCodecs, v1 stream viewers): each frame decoded once and, when it is the newest, encoded
/// once for all of them (docs/H264.md). Runs only while such a viewer exists (<see cref="Active"/>); when it becomes
/// active, or falls behind or loses a frame, it starts again at the next keyframe and asks for one. Decoding happens on
/// its own task, so the publisher only queues (at most <see cref="Capacity"/> frames; a full queue is dropped whole).
/// </summary>
internal sealed class PrimaryTranscoder : IDisposable
{
    /// <summary>Frames queued for decoding; more means the decoder is behind: drop them all and start at a keyframe.</summary>
    internal const int Capacity = 8;

    private readonly Action<MediaFrame> _deliver;
    private readonly Action _requestKeyframe;
    private readonly ILogger _logger;
    private readonly Queue<MediaFrame> _queue = new();
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _ready = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private bool _waitingForKeyframe = true;
    private bool _active;
    private bool _disposed;
    private long _decoded;
    private long _encoded;
    private long _dropped;
    private long _errors;

    internal PrimaryTranscoder(Action<MediaFrame> deliver, Action requestKeyframe, ILogger logger)
    {
        _deliver = deliver;
        _requestKeyframe = requestKeyframe;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public long Decoded => Interlocked.Read(ref _decoded);

    public long Encoded => Interlocked.Read(ref _encoded);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Some viewer needs JPEG. Becoming active asks for a keyframe, so a new viewer sees a picture at once.</summary>
    public bool Active
    {
        get => Volatile.Read(ref _active);
        set
        {
            bool ask;
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                ask = value && !_active;
                _active = value;
                if (!value)
                {
                    _waitingForKeyframe = true;
                    DropQueuedLocked();
                }
            }

            if (ask)
            {
                _requestKeyframe();
            }
        }
    }

    /// <summary>A frame of the H.264 primary track (on the publisher's path: queues only).</summary>
    public void Offer(MediaFrame frame)
    {
        bool ask = false;
        lock (_lock)
        {
            if (!_active || _disposed)
            {
                return;
            }

            bool key = frame.Header.IsKeyframe;
            if (_waitingForKeyframe && !key)
            {
                _dropped++;
                return;
            }

            if (_queue.Count >= Capacity)
            {
                DropQueuedLocked();
                if (!key)
                {
                    _waitingForKeyframe = true;
                    _dropped++;
                    ask = true;
                }
            }

            if (!ask)
            {
                _waitingForKeyframe = false;
                frame.AddRef();
                _queue.Enqueue(frame);
                _ready.Release(); // under the lock: never after Dispose
            }
        }

        if (ask)
        {
            _requestKeyframe();
        }
    }

    private void DropQueuedLocked()
    {
        while (_queue.TryDequeue(out MediaFrame? queued))
        {
            _dropped++;
            queued.Release();
        }
    }

    private async Task RunAsync()
    {
        H264Decoder? decoder = null;
        JpegEncoder? encoder = null;
        try
        {
            while (true)
            {
                await _ready.WaitAsync(_stop.Token).ConfigureAwait(false);
                MediaFrame? frame;
                bool newest;
                lock (_lock)
                {
                    if (!_queue.TryDequeue(out frame))
                    {
                        continue;
                    }

                    newest = _queue.Count == 0;
                }

                try
                {
                    decoder ??= new H264Decoder();
                    encoder ??= new JpegEncoder();
                    Transcode(decoder, encoder, frame, newest);
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or Diagnostics.NativeDependencyException))
                {
                    // A frame the decoder refused (or any other failure with it): everything after it until the next
                    // keyframe would be damaged; start again there. The task itself never dies of one frame.
                    Interlocked.Increment(ref _errors);
                    RoomLog.TranscodeFailed(_logger, ex.Message);
                    lock (_lock)
                    {
                        _waitingForKeyframe = true;
                        DropQueuedLocked();
                    }

                    decoder?.Reset();
                    _requestKeyframe();
                }
                finally
                {
                    frame.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Diagnostics.NativeDependencyException ex)
        {
            RoomLog.TranscodeFailed(_logger, ex.Message);
        }
        finally
        {
            decoder?.Dispose();
            encoder?.Dispose();
        }
    }

    private void Transcode(H264Decoder decoder, JpegEncoder encoder, MediaFrame frame, bool newest)
    {
        using VideoFrame? picture = decoder.DecodeToI420(frame.Data);
        if (picture is null)
        {
            return;
        }

        if (picture.Width != frame.Header.Width || picture.Height != frame.Header.Height)
        {
            // The hub checked the SPS against the frame's size; a picture of another size is damage, never shown.
            throw new InvalidDataException($"a {picture.Width}x{picture.Height} picture in a {frame.Header.Width}x{frame.Header.Height} frame");
        }

        Interlocked.Increment(ref _decoded);
        if (!newest)
        {
            return; // a newer frame is queued: decode this one (the next depends on it), show only the newest
        }

        picture.Sequence = frame.Header.Sequence;
        picture.CaptureMicros = frame.Header.CaptureMicros;
        MediaFrame jpeg = MediaFrame.Rent(encoder.MaxEncodedSize(picture.Width, picture.Height));
        try
        {
            int length = encoder.Encode(picture, jpeg.WritableData);
            jpeg.Complete(FrameInfo.Video(CodecId.Jpeg, picture.Width, picture.Height, frame.Header.Sequence, frame.Header.CaptureMicros), length);
            Interlocked.Increment(ref _encoded);
            _deliver(jpeg);
        }
        finally
        {
            jpeg.Release();
        }
    }

    /// <summary>Stops the task (at most one frame's work away) and drops what is queued.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _active = false;
            DropQueuedLocked();
        }

        _stop.Cancel();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        // The semaphore and the token source are left to the GC: a loop still finishing its frame may touch them.
    }
}
