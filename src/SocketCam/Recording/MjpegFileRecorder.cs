namespace SocketCam.Recording;

/// <summary>
/// Appends each JPEG to a file with a single unbuffered write, so every frame is in the operating system's hands as soon
/// as <see cref="WriteAsync"/> returns: killing the process (even with SIGKILL) loses at most the frame being written,
/// and the file plays up to its last whole frame (<c>ffplay -f mjpeg FILE</c>, VLC). No fsync per frame: a crash of the
/// whole machine may lose the last seconds the kernel had not written back yet; <see cref="CompleteAsync"/> fsyncs.
/// </summary>
internal sealed class MjpegFileRecorder : IFrameRecorder
{
    private readonly FileStream _file;
    private long _frames;
    private long _bytes;
    private bool _completed;

    private MjpegFileRecorder(FileStream file, string path)
    {
        _file = file;
        Path = path;
    }

    public string Path { get; }

    public string Description => Path;

    public long FramesWritten => Interlocked.Read(ref _frames);

    public long BytesWritten => Interlocked.Read(ref _bytes);

    /// <summary>Creates the file (replacing an existing one only when <paramref name="overwrite"/> is set).</summary>
    public static MjpegFileRecorder Create(string path, bool overwrite)
    {
        // bufferSize 0: no FileStream buffer, each WriteAsync is one write(2) of the whole JPEG.
        var file = new FileStream(path, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        return new MjpegFileRecorder(file, path);
    }

    public async ValueTask WriteAsync(JpegFrame frame, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        await _file.WriteAsync(frame.Data, cancellationToken);
        Interlocked.Increment(ref _frames);
        Interlocked.Add(ref _bytes, frame.Data.Length);
    }

    public ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        if (!_completed)
        {
            _completed = true;
            _file.Flush(flushToDisk: true);
            _file.Dispose();
            if (FramesWritten == 0)
            {
                // Not one frame: leave no empty file behind.
                File.Delete(Path);
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _completed = true;
        return _file.DisposeAsync();
    }
}
