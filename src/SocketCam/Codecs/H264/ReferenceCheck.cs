namespace SocketCam.Codecs.H264;

/// <summary>
/// Tells whether an access unit's references are all there, from its slice header's <c>frame_num</c> (H.264 7.4.3): after
/// a reference picture numbered n, the next picture is numbered n or n + 1 (mod MaxFrameNum), and an IDR starts at 0. A
/// larger step means a reference picture never reached the decoder. libavcodec conceals that silently, so the decoder
/// counts it itself. Reads only the first bytes of the SPS and of each slice; streams whose SPS it cannot read (scaling
/// matrices, gaps allowed) are not checked.
/// </summary>
internal sealed class ReferenceCheck
{
    private int _log2MaxFrameNum;
    private bool _separateColourPlanes;
    private int _previous = -1;

    /// <summary>Looks at one access unit; false when a reference it needs is missing.</summary>
    public bool Check(ReadOnlySpan<byte> accessUnit)
    {
        bool ok = true;
        int i = 0;
        while (NextNal(accessUnit, ref i, out ReadOnlySpan<byte> nal))
        {
            int type = nal[0] & 0x1F;
            int refIdc = (nal[0] >> 5) & 3;
            if (type == 7)
            {
                ReadSps(nal[1..]);
            }
            else if (type is 1 or 5 && _log2MaxFrameNum > 0)
            {
                int frameNum = ReadFrameNum(nal[1..]);
                if (frameNum < 0)
                {
                    continue;
                }

                int max = 1 << _log2MaxFrameNum;
                if (type == 5)
                {
                    _previous = 0;
                }
                else if (_previous < 0)
                {
                    // Never saw a keyframe: the decoder waits for one; nothing to compare with.
                }
                else if (frameNum != _previous && frameNum != (_previous + 1) % max)
                {
                    ok = false;
                    _previous = refIdc != 0 ? frameNum : _previous;
                }
                else if (refIdc != 0)
                {
                    _previous = frameNum;
                }

                return ok; // the first slice speaks for the picture
            }
        }

        return ok;
    }

    /// <summary>Forget the stream (the decoder was flushed).</summary>
    public void Reset() => _previous = -1;

    private void ReadSps(ReadOnlySpan<byte> rbsp)
    {
        var bits = new BitReader(rbsp);
        int profile = bits.Read(8);
        bits.Read(16); // constraint flags, level
        bits.ReadUe(); // seq_parameter_set_id
        _separateColourPlanes = false;
        if (profile is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
        {
            int chroma = bits.ReadUe();
            if (chroma == 3)
            {
                _separateColourPlanes = bits.Read(1) == 1;
            }

            bits.ReadUe();
            bits.ReadUe();
            bits.Read(1);
            if (bits.Read(1) == 1)
            {
                _log2MaxFrameNum = 0; // scaling matrices: not worth parsing for this check
                return;
            }
        }

        int log2 = bits.ReadUe() + 4;
        _log2MaxFrameNum = bits.Failed || log2 > 16 ? 0 : log2;
    }

    private int ReadFrameNum(ReadOnlySpan<byte> rbsp)
    {
        var bits = new BitReader(rbsp);
        bits.ReadUe(); // first_mb_in_slice
        bits.ReadUe(); // slice_type
        bits.ReadUe(); // pic_parameter_set_id
        if (_separateColourPlanes)
        {
            bits.Read(2);
        }

        int frameNum = bits.Read(_log2MaxFrameNum);
        return bits.Failed ? -1 : frameNum;
    }

    private static bool NextNal(ReadOnlySpan<byte> unit, ref int i, out ReadOnlySpan<byte> nal)
    {
        while (i + 3 < unit.Length && !(unit[i] == 0 && unit[i + 1] == 0 && unit[i + 2] == 1))
        {
            i++;
        }

        if (i + 3 >= unit.Length)
        {
            nal = default;
            return false;
        }

        int start = i + 3;
        int end = start;
        while (end + 2 < unit.Length && !(unit[end] == 0 && unit[end + 1] == 0 && unit[end + 2] <= 1))
        {
            end++;
        }

        if (end + 2 >= unit.Length)
        {
            end = unit.Length;
        }

        nal = unit[start..end];
        i = end;
        return nal.Length > 1;
    }

    /// <summary>Exp-Golomb reader over the first bytes of a NAL, emulation-prevention bytes skipped; never reads out of bounds.</summary>
    private ref struct BitReader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _byte;
        private int _bit;
        private int _zeros;

        public BitReader(ReadOnlySpan<byte> data)
        {
            _data = data.Length > 64 ? data[..64] : data;
        }

        public bool Failed { get; private set; }

        public int Read(int count)
        {
            int value = 0;
            for (int n = 0; n < count; n++)
            {
                value = (value << 1) | NextBit();
            }

            return value;
        }

        public int ReadUe()
        {
            int zeros = 0;
            while (NextBit() == 0)
            {
                if (Failed || ++zeros > 16)
                {
                    Failed = true;
                    return 0;
                }
            }

            return (1 << zeros) - 1 + Read(zeros);
        }

        private int NextBit()
        {
            if (_bit == 0)
            {
                // 0x000003: the 03 is an emulation-prevention byte, not data.
                if (_byte < _data.Length && _zeros >= 2 && _data[_byte] == 3)
                {
                    _byte++;
                    _zeros = 0;
                }

                if (_byte >= _data.Length)
                {
                    Failed = true;
                    return 0;
                }

                _zeros = _data[_byte] == 0 ? _zeros + 1 : 0;
            }

            int bit = (_data[_byte] >> (7 - _bit)) & 1;
            if (++_bit == 8)
            {
                _bit = 0;
                _byte++;
            }

            return bit;
        }
    }
}
