using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Recording;

/// <summary>
/// One recording in progress: a bounded <see cref="RecordingQueue"/> in front (the producer waits when it is full, so
/// no frame that reached the recorder is ever dropped) and one drain task behind it that checks each JPEG, compresses
/// raw frames to JPEG, and hands them to an <see cref="IFrameRecorder"/>. Opus audio frames travel in the same queue,
/// so audio and video reach the file in the order they came. A room offers frames through <see cref="IRoomRecorder"/>;
/// a viewer copies them in with <see cref="EnqueueCopyAsync"/>. <see cref="SetAudio"/> says whether (and in how many
/// channels) files started from now on have an audio track.
/// <see cref="CompleteAsync"/> writes what is queued and finishes the file. If the recorder fails, the error is
/// logged, the queue stops accepting frames (so the source is never held up by a dead recorder) and
/// <see cref="Failure"/> says why.
/// </summary>
internal sealed class RecordingSink : IRoomRecorder, IAsyncDisposable
{
    private readonly RecordingQueue _queue;
    private readonly IFrameRecorder _recorder;
    private readonly RecordingOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _drain;
    private IFrameEncoder? _encoder;
    private byte[] _jpegBuffer = [];
    private long _skipped;
    private volatile int _audioChannels;
    private volatile Exception? _failure;

    private RecordingSink(string name, IFrameRecorder recorder, RecordingOptions options, ILogger logger)
    {
        Name = name;
        _recorder = recorder;
        _options = options;
        _logger = logger;
        _queue = new RecordingQueue(name, options.MaxQueuedFrames, options.MaxQueuedBytes, logger);
        _drain = DrainAsync();
    }

    /// <summary>For log lines: the room or file being recorded.</summary>
    public string Name { get; }

    public RecordingQueue Queue => _queue;

    public IFrameRecorder Recorder => _recorder;

    public long FramesRecorded => _recorder.FramesWritten;

    public long BytesRecorded => _recorder.BytesWritten;

    /// <summary>Opus packets recorded.</summary>
    public long AudioPacketsRecorded => _recorder.AudioPacketsWritten;

    /// <summary>
    /// The audio track to record from now on: its Opus channels (1 or 2), or 0 for none. A file takes the value that holds
    /// when it starts (with its first frame): set it before the first frame of the track's owner is queued.
    /// </summary>
    public void SetAudio(int channels) => _audioChannels = Math.Clamp(channels, 0, 2);

    void IRoomRecorder.SetAudio(int channels) => SetAudio(channels);

    /// <summary>Frames left out because they were not a valid JPEG.</summary>
    public long FramesSkipped => Interlocked.Read(ref _skipped);

    /// <summary>Why the recording stopped early, or null.</summary>
    public Exception? Failure => _failure;

    /// <summary>Completes when the recording has ended (finished, failed or cut short); never faults.</summary>
    public Task Completion => _drain;

    /// <summary>Starts recording into <paramref name="recorder"/>; the sink owns it from now on.</summary>
    public static RecordingSink Start(string name, IFrameRecorder recorder, RecordingOptions options, ILogger logger) =>
        new(name, recorder, options, logger);

    /// <summary>Queues a frame of a room (a new reference, no copy); waits while the queue is full.</summary>
    public ValueTask<bool> EnqueueAsync(MediaFrame frame, CancellationToken cancellationToken) => _queue.EnqueueAsync(frame, cancellationToken);

    ValueTask IRoomRecorder.OfferAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        ValueTask<bool> queued = _queue.EnqueueAsync(frame, cancellationToken);
        if (queued.IsCompletedSuccessfully)
        {
            return ValueTask.CompletedTask;
        }

        return AwaitQueued(queued);

        static async ValueTask AwaitQueued(ValueTask<bool> queued) => await queued;
    }

    /// <summary>
    /// Copies a received frame (its picture is only valid during the call) and queues it, waiting while the queue is
    /// full. Returns false once the recording has ended (failed or completed): the frame was not recorded.
    /// </summary>
    public ValueTask<bool> EnqueueCopyAsync(FrameInfo header, ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        if (_failure is not null || _drain.IsCompleted)
        {
            return ValueTask.FromResult(false);
        }

        MediaFrame copy = MediaFrame.Rent((int)data.Length);
        ValueTask<bool> queued;
        try
        {
            data.CopyTo(copy.WritableData);
            copy.Complete(header, (int)data.Length);
            queued = _queue.EnqueueAsync(copy, cancellationToken);
        }
        catch
        {
            copy.Release();
            throw;
        }

        if (queued.IsCompletedSuccessfully)
        {
            copy.Release();
            return queued;
        }

        return ReleaseAfterAsync(queued, copy);

        static async ValueTask<bool> ReleaseAfterAsync(ValueTask<bool> queued, MediaFrame copy)
        {
            try
            {
                return await queued;
            }
            finally
            {
                copy.Release();
            }
        }
    }

    /// <summary>
    /// No more frames: writes what is queued and finishes the file (waiting at most <see cref="RecordingOptions.FinishTimeout"/>,
    /// then cutting the recording short). Never throws for a failed recording: see <see cref="Failure"/>.
    /// </summary>
    public async Task CompleteAsync()
    {
        _queue.Complete();
        try
        {
            await _drain.WaitAsync(_options.FinishTimeout);
        }
        catch (TimeoutException)
        {
            RecordingLog.CutShort(_logger, Name, _options.FinishTimeout.TotalSeconds);
            await _abort.CancelAsync();
            await _drain;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_drain.IsCompleted)
        {
            // Abandoned without CompleteAsync: stop at once.
            _queue.Fail();
            await _abort.CancelAsync();
            await _drain;
        }

        _abort.Dispose();
    }

    private async Task DrainAsync()
    {
        await Task.Yield(); // the constructor returns at once; the loop runs on the thread pool
        CancellationToken abort = _abort.Token;
        try
        {
            while (await _queue.DequeueAsync(abort) is { } frame)
            {
                try
                {
                    int channels = _audioChannels;
                    if (_recorder.AudioChannels != channels)
                    {
                        _recorder.AudioChannels = channels;
                    }

                    FrameInfo info = frame.Header;
                    if (info.Kind == TrackKind.Audio)
                    {
                        if (info.Codec == CodecId.Opus)
                        {
                            await _recorder.WriteAudioAsync(new OpusPacket(frame.Payload, info.Width, info.Sequence, info.CaptureMicros), abort);
                        }
                    }
                    else if (TryGetJpeg(frame, out JpegFrame jpeg))
                    {
                        await _recorder.WriteAsync(jpeg, abort);
                    }
                }
                finally
                {
                    frame.Release();
                }
            }

            if (_failure is null && !abort.IsCancellationRequested)
            {
                await _recorder.CompleteAsync(abort);
                RecordingLog.Finished(_logger, Name, _recorder.FramesWritten, _recorder.Description,
                    (long)_queue.Stalled.TotalMilliseconds, _queue.StallEpisodes);
            }
        }
        catch (Exception ex)
        {
            _failure = abort.IsCancellationRequested ? new IOException("The recording was cut short.", ex) : ex;
            _queue.Fail();
            if (ex is IOException or UnauthorizedAccessException or OperationCanceledException)
            {
                // Disk full, a path that went away, ffmpeg failing: the message says it all.
                RecordingLog.Failed(_logger, Name, _failure.Message);
            }
            else
            {
                RecordingLog.FailedUnexpectedly(_logger, Name, ex);
            }
        }
        finally
        {
            try
            {
                await _recorder.DisposeAsync();
            }
            catch (Exception ex)
            {
                // Closing a file that already failed; the first error is the one worth reporting.
                _failure ??= ex;
            }

            _encoder?.Dispose();
            if (_jpegBuffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_jpegBuffer);
                _jpegBuffer = [];
            }
        }
    }

    /// <summary>The frame as a JPEG to record: checked if it is one, compressed if it is raw; false (logged) if it is unusable.</summary>
    private bool TryGetJpeg(MediaFrame frame, out JpegFrame jpeg)
    {
        VideoFrameHeader header = frame.Header;
        ReadOnlyMemory<byte> data = frame.Payload;
        switch (header.Codec)
        {
            case CodecId.Jpeg:
                if (!JpegStructure.TryValidate(data.Span, out int width, out int height, out string? error))
                {
                    Skip(header.Sequence, error ?? "not a valid JPEG");
                    jpeg = default;
                    return false;
                }

                jpeg = new JpegFrame(data, width, height, header.Sequence, header.CaptureMicros);
                return true;
            case CodecId.RawBgr24:
                jpeg = Compress(header, data);
                return true;
            case CodecId.H264:
                return TryGetAccessUnit(frame, out jpeg);
            default:
                Skip(header.Sequence, $"unknown codec {header.Codec}");
                jpeg = default;
                return false;
        }
    }

    /// <summary>An H.264 access unit to record as it is (checked, its keyframe and size from its own NAL units).</summary>
    private bool TryGetAccessUnit(MediaFrame frame, out JpegFrame unit)
    {
        VideoFrameHeader header = frame.Header;
        unit = default;
        if (!_recorder.CanRecord(CodecId.H264))
        {
            // Fails the recording with one line: skipping every frame would record nothing, silently.
            throw new IOException($"{_recorder.Description}: the video is H.264 and .mjpeg files hold JPEGs only; record to .mkv or .mp4.");
        }

        H264AccessUnitInfo info;
        try
        {
            info = AnnexB.Inspect(frame.Payload.Span);
        }
        catch (InvalidDataException ex)
        {
            Skip(header.Sequence, ex.Message);
            return false;
        }

        int width = info.Width > 0 ? info.Width : header.Width;
        int height = info.Height > 0 ? info.Height : header.Height;
        unit = new JpegFrame(frame.Payload, width, height, header.Sequence, header.CaptureMicros, CodecId.H264, info.IsIdr);
        return true;
    }

    private JpegFrame Compress(in VideoFrameHeader header, ReadOnlyMemory<byte> data)
    {
        _encoder ??= CodecFactory.CreateEncoder(CodecId.Jpeg, _options.Jpeg);
        int needed = _encoder.MaxEncodedSize(header.Width, header.Height);
        if (_jpegBuffer.Length < needed)
        {
            if (_jpegBuffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_jpegBuffer);
            }

            _jpegBuffer = ArrayPool<byte>.Shared.Rent(needed);
        }

        if (!MemoryMarshal.TryGetArray(data, out ArraySegment<byte> pixels))
        {
            throw new InvalidOperationException("Shared frames live in arrays.");
        }

        int stride = header.Width * VideoFrame.BytesPerPixel;
        using VideoFrame picture = VideoFrame.Wrap(pixels.Array!, pixels.Offset, header.Width, header.Height, stride);
        picture.Sequence = header.Sequence;
        picture.CaptureMicros = header.CaptureMicros;
        int length = _encoder.Encode(picture, _jpegBuffer);
        return new JpegFrame(_jpegBuffer.AsMemory(0, length), header.Width, header.Height, header.Sequence, header.CaptureMicros);
    }

    private void Skip(long sequence, string reason)
    {
        Interlocked.Increment(ref _skipped);
        RecordingLog.FrameSkipped(_logger, Name, sequence, reason);
    }
}
