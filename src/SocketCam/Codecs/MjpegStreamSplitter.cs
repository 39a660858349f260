namespace SocketCam.Codecs;

/// <summary>
/// Splits a stream of concatenated JPEGs (ffmpeg's `-f mjpeg`, a camera's MJPEG, a .mjpeg recording) into whole JPEGs.
/// Frame boundaries come from walking each JPEG's marker segments (<see cref="JpegStructure.Scan"/>), never from searching
/// for FF D9, which entropy-coded data and thumbnails can contain. Garbage between frames is skipped; a frame that turns
/// out corrupt, truncated or larger than the cap is dropped and reading resumes at the next SOI (FF D8).
/// The buffer grows only while a frame is under the cap (to at most about twice the cap), so a stream of garbage
/// cannot exhaust memory.
/// </summary>
internal sealed class MjpegStreamSplitter
{
    private const int ReadSize = 64 * 1024;

    private readonly Stream _input;
    private readonly int _maxFrameBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;

    public MjpegStreamSplitter(Stream input, int maxFrameBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 64);
        _input = input;
        _maxFrameBytes = maxFrameBytes;
        _buffer = new byte[Math.Min(maxFrameBytes, 1024 * 1024) + ReadSize];
    }

    /// <summary>Current size of the internal buffer (tests check it stays bounded).</summary>
    internal int BufferCapacity => _buffer.Length;

    /// <summary>Bytes skipped because they were not part of any valid JPEG (garbage, corrupt or oversized frames).</summary>
    public long SkippedBytes { get; private set; }

    /// <summary>JPEGs dropped because they were corrupt, truncated or too large.</summary>
    public long DroppedFrames { get; private set; }

    /// <summary>Why the last frame was dropped (for logs), or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>
    /// Returns the next whole JPEG with its size, or an empty result at the end of the stream. The memory stays valid
    /// until the next call.
    /// </summary>
    public async ValueTask<(ReadOnlyMemory<byte> Jpeg, int Width, int Height)> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            // 1. Find the next SOI; everything before it is garbage.
            int soi = IndexOfSoi(_buffer.AsSpan(_start, _end - _start));
            if (soi < 0)
            {
                // Keep a trailing FF: it may be the first half of an SOI split across reads.
                int keep = _end > _start && _buffer[_end - 1] == 0xFF ? 1 : 0;
                SkippedBytes += _end - _start - keep;
                _start = _end - keep;
                if (!await FillAsync(cancellationToken))
                {
                    return default;
                }

                continue;
            }

            SkippedBytes += soi;
            _start += soi;

            // 2. Walk its markers.
            ReadOnlySpan<byte> candidate = _buffer.AsSpan(_start, _end - _start);
            JpegScanStatus status = JpegStructure.Scan(candidate, out int length, out int width, out int height, out string? error);
            switch (status)
            {
                case JpegScanStatus.Complete when length <= _maxFrameBytes:
                    var frame = new ReadOnlyMemory<byte>(_buffer, _start, length);
                    _start += length;
                    return (frame, width, height);
                case JpegScanStatus.Complete:
                    Drop(length, $"a JPEG of {length} bytes exceeds the {_maxFrameBytes}-byte cap");
                    continue;
                case JpegScanStatus.Incomplete when candidate.Length > _maxFrameBytes:
                    Drop(2, $"a JPEG grew past the {_maxFrameBytes}-byte cap without ending");
                    continue;
                case JpegScanStatus.Incomplete:
                    if (!await FillAsync(cancellationToken))
                    {
                        // The stream ended inside a frame: it was truncated.
                        Drop(_end - _start, "the stream ended inside a JPEG");
                        return default;
                    }

                    continue;
                default:
                    // Corrupt (or cut short by the next frame's SOI): resynchronise just after this SOI.
                    Drop(2, error ?? "corrupt JPEG");
                    continue;
            }
        }
    }

    private void Drop(int bytes, string reason)
    {
        DroppedFrames++;
        SkippedBytes += bytes;
        LastError = reason;
        _start += bytes;
    }

    /// <summary>Reads more bytes after compacting; false at the end of the stream.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_eof)
        {
            return false;
        }

        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_buffer.Length - _end < ReadSize)
        {
            // Grows only while a frame is still under the cap (the Incomplete check above drops it past that).
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _end + ReadSize));
        }

        int read = await _input.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            _eof = true;
            return false;
        }

        _end += read;
        return true;
    }

    private static int IndexOfSoi(ReadOnlySpan<byte> data)
    {
        int offset = 0;
        while (true)
        {
            int ff = data[offset..].IndexOf((byte)0xFF);
            if (ff < 0)
            {
                return -1;
            }

            int at = offset + ff;
            if (at + 1 >= data.Length)
            {
                return -1;
            }

            if (data[at + 1] == 0xD8)
            {
                return at;
            }

            offset = at + 1;
        }
    }
}
