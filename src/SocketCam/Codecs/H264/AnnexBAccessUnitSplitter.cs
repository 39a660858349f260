namespace SocketCam.Codecs.H264;

/// <summary>
/// Splits an H.264 Annex B byte stream (ffmpeg's `-f h264`) into access units, the way <see cref="MjpegStreamSplitter"/>
/// splits JPEGs. A new access unit starts at an access unit delimiter (9), or, once the current unit has a slice, at an
/// SEI, SPS or PPS (6, 7, 8, 14-18) or at a slice whose first_mb_in_slice is 0 (the first bit of its header is 1).
/// Each unit is checked by <see cref="AnnexB.Inspect"/>; one that fails, or grows past the cap, is dropped (counted) and
/// splitting carries on at the next unit. Bytes before the first start code are skipped. The buffer grows only while a
/// unit is under the cap, so a stream of garbage cannot exhaust memory.
/// </summary>
internal sealed class AnnexBAccessUnitSplitter
{
    private const int ReadSize = 64 * 1024;

    private readonly Stream _input;
    private readonly int _maxUnitBytes;
    private byte[] _buffer;
    private int _unitStart = -1; // where the current unit's first start code begins; -1 before any
    private int _scan;
    private int _end;
    private int _nals;
    private bool _hasSlice;
    private bool _discarding;
    private bool _eof;

    public AnnexBAccessUnitSplitter(Stream input, int maxUnitBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxUnitBytes, 64);
        _input = input;
        _maxUnitBytes = maxUnitBytes;
        _buffer = new byte[Math.Min(maxUnitBytes, 1024 * 1024) + ReadSize];
    }

    /// <summary>Current size of the internal buffer (tests check it stays bounded).</summary>
    internal int BufferCapacity => _buffer.Length;

    /// <summary>Bytes skipped: before the first start code, or in dropped units.</summary>
    public long SkippedBytes { get; private set; }

    /// <summary>Access units dropped because they were invalid or too large.</summary>
    public long DroppedUnits { get; private set; }

    /// <summary>Why the last unit was dropped (for logs), or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>
    /// Returns the next valid access unit (Annex B, start codes included) and what <see cref="AnnexB.Inspect"/> found,
    /// or an empty unit at the end of the stream. The memory stays valid until the next call.
    /// </summary>
    public async ValueTask<(ReadOnlyMemory<byte> AccessUnit, H264AccessUnitInfo Info)> ReadAccessUnitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int code = AnnexB.IndexOfStartCode(_buffer.AsSpan(0, _end), _scan);
            if (code >= 0 && (code + 4 < _end || _eof))
            {
                // The NAL header and the first byte after it decide whether this NAL starts a new unit.
                int type = code + 3 < _end ? _buffer[code + 3] & 0x1F : 0;
                bool firstMbZero = code + 4 < _end && (_buffer[code + 4] & 0x80) != 0;
                int begins = code > 0 && _buffer[code - 1] == 0 ? code - 1 : code;
                _scan = code + 3;
                if (_unitStart < 0)
                {
                    SkippedBytes += begins;
                    StartUnit(begins, type);
                    continue;
                }

                bool boundary = (type == AnnexB.AccessUnitDelimiter && _nals > 0)
                    || (_hasSlice && (type is AnnexB.Sei or AnnexB.Sps or AnnexB.Pps or AnnexB.AccessUnitDelimiter or (>= 14 and <= 18)
                        || (AnnexB.IsSlice(type) && firstMbZero)));
                if (!boundary)
                {
                    _nals++;
                    _hasSlice |= AnnexB.IsSlice(type);
                    CheckCap();
                    continue;
                }

                int start = _unitStart;
                bool discarded = _discarding;
                StartUnit(Math.Max(begins, start), type);
                if (TryAccept(start, _unitStart, discarded, out (ReadOnlyMemory<byte>, H264AccessUnitInfo) unit))
                {
                    return unit;
                }

                continue;
            }

            // No further start code in what is buffered (or its header is not in yet).
            _scan = code >= 0 ? code : Math.Max(_scan, _end - 3);
            if (_unitStart >= 0)
            {
                CheckCap(_end);
            }
            else
            {
                // Garbage before the first start code: drop it, keeping what may be the start of one.
                SkippedBytes += _scan;
                Compact(_scan);
            }

            if (!await FillAsync(cancellationToken))
            {
                if (_unitStart >= 0)
                {
                    int start = _unitStart;
                    bool discarded = _discarding;
                    _unitStart = -1;
                    _discarding = false;
                    if (TryAccept(start, _end, discarded, out (ReadOnlyMemory<byte>, H264AccessUnitInfo) last))
                    {
                        _scan = _end;
                        return last;
                    }
                }

                return default;
            }
        }
    }

    private void StartUnit(int start, int type)
    {
        _unitStart = start;
        _nals = 1;
        _hasSlice = AnnexB.IsSlice(type);
        _discarding = false;
    }

    /// <summary>A unit past the cap is dropped now; its remaining NALs are skipped up to the next unit.</summary>
    private void CheckCap(int upTo = -1)
    {
        int end = upTo < 0 ? _scan : upTo;
        if (end - _unitStart <= _maxUnitBytes)
        {
            return;
        }

        if (!_discarding)
        {
            _discarding = true;
            DroppedUnits++;
            LastError = $"an H.264 access unit grew past the {_maxUnitBytes}-byte cap";
        }

        // Forget what was read of it, so the buffer stays bounded.
        int keep = Math.Max(_unitStart, Math.Min(_scan, end) - 4);
        SkippedBytes += keep - _unitStart;
        _unitStart = keep;
    }

    private bool TryAccept(int start, int end, bool discarded, out (ReadOnlyMemory<byte>, H264AccessUnitInfo) unit)
    {
        unit = default;
        int length = end - start;
        if (discarded)
        {
            SkippedBytes += length;
            return false;
        }

        if (length > _maxUnitBytes)
        {
            Drop(length, $"an H.264 access unit of {length} bytes exceeds the {_maxUnitBytes}-byte cap");
            return false;
        }

        try
        {
            H264AccessUnitInfo info = AnnexB.Inspect(_buffer.AsSpan(start, length));
            unit = (new ReadOnlyMemory<byte>(_buffer, start, length), info);
            return true;
        }
        catch (InvalidDataException ex)
        {
            Drop(length, ex.Message);
            return false;
        }
    }

    private void Drop(int bytes, string reason)
    {
        DroppedUnits++;
        SkippedBytes += bytes;
        LastError = reason;
    }

    /// <summary>Moves everything from <paramref name="from"/> (the unit being read, or the scan point) to the front.</summary>
    private void Compact(int from)
    {
        if (from <= 0)
        {
            return;
        }

        Buffer.BlockCopy(_buffer, from, _buffer, 0, _end - from);
        _end -= from;
        _scan -= from;
        if (_unitStart >= 0)
        {
            _unitStart -= from;
        }
    }

    /// <summary>Reads more bytes after compacting; false at the end of the stream.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_eof)
        {
            return false;
        }

        Compact(_unitStart >= 0 ? _unitStart : _scan);
        if (_buffer.Length - _end < ReadSize)
        {
            // Grows only while a unit is under the cap (CheckCap forgets one past it).
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _end + ReadSize));
        }

        int read = await _input.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            _eof = true;
            return true; // one more pass: the last start code's header may now be decidable as is
        }

        _end += read;
        return true;
    }
}
