namespace SocketCam.Codecs.H264;

/// <summary>What <see cref="AnnexB.Inspect"/> learnt about one access unit without decoding it.</summary>
/// <param name="IsIdr">It holds an IDR slice (NAL type 5): decodable on its own, a keyframe.</param>
/// <param name="HasParameterSets">It holds an SPS (7) and a PPS (8).</param>
/// <param name="Width">The picture width from its SPS, cropping applied; 0 without an SPS.</param>
/// <param name="Height">The picture height from its SPS, cropping applied; 0 without an SPS.</param>
/// <param name="NalCount">NAL units in it.</param>
internal readonly record struct H264AccessUnitInfo(bool IsIdr, bool HasParameterSets, int Width, int Height, int NalCount);

/// <summary>One NAL unit inside a buffer: where its header byte is, its length (header included, trailing zeros not), its type.</summary>
internal readonly record struct NalUnit(int Offset, int Length, int Type);

/// <summary>What <see cref="AnnexB.ReadSps"/> reads of an SPS: the cropped picture size and what slice headers need.</summary>
internal readonly record struct SpsInfo(int Width, int Height, int Log2MaxFrameNum, bool SeparateColourPlane);

/// <summary>
/// The NAL units of an Annex B buffer, in order, without allocating: each starts after a 3- or 4-byte start code and
/// ends at the next start code, its trailing zero bytes (a 4-byte start code's first byte, trailing_zero_8bits) left
/// out. A unit can be empty (two start codes in a row); <see cref="AnnexB.Inspect"/> refuses that.
/// </summary>
internal ref struct NalUnitEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private int _next;

    public NalUnitEnumerator(ReadOnlySpan<byte> data)
    {
        _data = data;
        int first = AnnexB.IndexOfStartCode(data, 0);
        _next = first < 0 ? data.Length : first + 3;
        Current = default;
    }

    public NalUnit Current { get; private set; }

    public readonly NalUnitEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_next >= _data.Length)
        {
            // A start code right at the end is an empty unit; none at all is the end.
            if (_next == _data.Length && _next > 0 && _data.Length >= 3 && _data[^1] == 1 && _data[^2] == 0 && _data[^3] == 0)
            {
                Current = new NalUnit(_next, 0, 0);
                _next = _data.Length + 1;
                return true;
            }

            return false;
        }

        int start = _next;
        int code = AnnexB.IndexOfStartCode(_data, start);
        int end = code < 0 ? _data.Length : code;
        _next = code < 0 ? _data.Length + 1 : code + 3;
        while (end > start && _data[end - 1] == 0)
        {
            end--;
        }

        Current = new NalUnit(start, end - start, end > start ? _data[start] & 0x1F : 0);
        return true;
    }
}

/// <summary>
/// H.264 Annex B byte streams (docs/H264.md "Access units and validation"): the NAL walker, the cheap structural check the
/// hub runs on publishers' access units without decoding (as <see cref="JpegStructure"/> does for JPEG), the SPS's
/// picture size, and the conversion to the length-prefixed form MP4 and Matroska store.
/// </summary>
internal static class AnnexB
{
    /// <summary>NAL units allowed in one access unit.</summary>
    public const int MaxNalUnits = 256;

    /// <summary>The largest SPS read (escaped bytes); real ones are a few dozen bytes, scaling lists make them longer.</summary>
    public const int MaxSpsBytes = 512;

    /// <summary>Largest picture side accepted from an SPS.</summary>
    public const int MaxDimension = 16384;

    public const int NonIdrSlice = 1;
    public const int IdrSlice = 5;
    public const int Sei = 6;
    public const int Sps = 7;
    public const int Pps = 8;
    public const int AccessUnitDelimiter = 9;

    private static ReadOnlySpan<byte> StartCode => [0, 0, 1];

    /// <summary>The NAL units of <paramref name="data"/> (see <see cref="NalUnitEnumerator"/>).</summary>
    public static NalUnitEnumerator NalUnits(ReadOnlySpan<byte> data) => new(data);

    /// <summary>Whether <paramref name="type"/> is a coded slice of a picture (VCL: 1 or 5).</summary>
    public static bool IsSlice(int type) => type is NonIdrSlice or IdrSlice;

    /// <summary>Where the next 00 00 01 starts at or after <paramref name="from"/>, or -1.</summary>
    public static int IndexOfStartCode(ReadOnlySpan<byte> data, int from)
    {
        if (from >= data.Length)
        {
            return -1;
        }

        int at = data[from..].IndexOf(StartCode);
        return at < 0 ? -1 : from + at;
    }

    /// <summary>
    /// Checks one access unit as a publisher's frame must be (docs/PROTOCOL.md §4.9): it starts with a start code, every
    /// NAL unit is non-empty with forbidden_zero_bit clear, there are at most <see cref="MaxNalUnits"/>, at least one is a
    /// slice, and an IDR slice comes after an SPS and a PPS of the same unit. The SPS gives the size.
    /// </summary>
    /// <exception cref="InvalidDataException">The unit is not acceptable (a short one-line reason); nothing else is thrown.</exception>
    public static H264AccessUnitInfo Inspect(ReadOnlySpan<byte> accessUnit)
    {
        if (!StartsWithStartCode(accessUnit))
        {
            throw new InvalidDataException("The H.264 access unit does not start with a start code.");
        }

        int count = 0;
        bool sps = false, pps = false, idr = false, slice = false;
        int width = 0, height = 0;
        foreach (NalUnit nal in NalUnits(accessUnit))
        {
            if (++count > MaxNalUnits)
            {
                throw new InvalidDataException($"The H.264 access unit has more than {MaxNalUnits} NAL units.");
            }

            if (nal.Length == 0)
            {
                throw new InvalidDataException("The H.264 access unit has an empty NAL unit.");
            }

            if ((accessUnit[nal.Offset] & 0x80) != 0)
            {
                throw new InvalidDataException("An H.264 NAL unit has its forbidden_zero_bit set.");
            }

            switch (nal.Type)
            {
                case Sps:
                    // Every SPS is read: a second one of another size could be the one the slices use (a hostile
                    // publisher's way past the size check), so all must agree.
                    (int w, int h) = ReadSpsSize(accessUnit.Slice(nal.Offset, nal.Length));
                    if (sps && (w, h) != (width, height))
                    {
                        throw new InvalidDataException("The H.264 access unit has SPSs of different picture sizes.");
                    }

                    (width, height) = (w, h);
                    sps = true;
                    break;
                case Pps:
                    pps = true;
                    break;
                case IdrSlice:
                    if (!(sps && pps))
                    {
                        throw new InvalidDataException("An H.264 IDR slice comes without an SPS and a PPS before it in its access unit.");
                    }

                    idr = true;
                    slice = true;
                    break;
                case NonIdrSlice:
                    slice = true;
                    break;
            }
        }

        if (!slice)
        {
            throw new InvalidDataException("The H.264 access unit has no slice (NAL type 1 or 5).");
        }

        return new H264AccessUnitInfo(idr, sps && pps, width, height, count);
    }

    /// <summary>True when <paramref name="data"/> begins with 00 00 01 or 00 00 00 01.</summary>
    public static bool StartsWithStartCode(ReadOnlySpan<byte> data) =>
        data.Length >= 3 && data[0] == 0 && data[1] == 0 && (data[2] == 1 || (data.Length >= 4 && data[2] == 0 && data[3] == 1));

    /// <summary>Bytes <see cref="WriteLengthPrefixed"/> writes for <paramref name="accessUnit"/>.</summary>
    public static int LengthPrefixedSize(ReadOnlySpan<byte> accessUnit)
    {
        int size = 0;
        foreach (NalUnit nal in NalUnits(accessUnit))
        {
            if (nal.Length > 0)
            {
                size += 4 + nal.Length;
            }
        }

        return size;
    }

    /// <summary>
    /// The access unit as MP4 and Matroska samples hold it (ISO/IEC 14496-15): each NAL unit after its 4-byte big-endian
    /// length instead of a start code. Empty units are left out. Returns the bytes written.
    /// </summary>
    public static int WriteLengthPrefixed(ReadOnlySpan<byte> accessUnit, Span<byte> destination)
    {
        int position = 0;
        foreach (NalUnit nal in NalUnits(accessUnit))
        {
            if (nal.Length == 0)
            {
                continue;
            }

            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(destination[position..], nal.Length);
            accessUnit.Slice(nal.Offset, nal.Length).CopyTo(destination[(position + 4)..]);
            position += 4 + nal.Length;
        }

        return position;
    }

    /// <summary>
    /// The picture size an SPS NAL unit (header byte included) declares, its frame cropping applied. Reads the
    /// high profiles' chroma format and scaling lists, the picture order fields, the size and the cropping.
    /// </summary>
    /// <exception cref="InvalidDataException">The SPS is too long, ends early or declares an impossible size.</exception>
    public static (int Width, int Height) ReadSpsSize(ReadOnlySpan<byte> spsNal)
    {
        SpsInfo sps = ReadSps(spsNal);
        return (sps.Width, sps.Height);
    }

    /// <summary>
    /// A slice's <c>frame_num</c> (7.3.3; <paramref name="sliceNal"/> with its header byte), read with the SPS it refers to.
    /// Throws <see cref="InvalidDataException"/> when the header ends early.
    /// </summary>
    public static int ReadFrameNum(ReadOnlySpan<byte> sliceNal, in SpsInfo sps)
    {
        // first_mb_in_slice, slice_type and pic_parameter_set_id come first: 64 bytes hold them whatever their values.
        Span<byte> rbsp = stackalloc byte[64];
        int length = Unescape(sliceNal[1..Math.Min(sliceNal.Length, 65)], rbsp);
        var bits = new BitReader(rbsp[..length]);
        bits.Ue(uint.MaxValue - 1); // first_mb_in_slice
        bits.Ue(9); // slice_type
        bits.Ue(255); // pic_parameter_set_id
        if (sps.SeparateColourPlane)
        {
            bits.Bits(2); // colour_plane_id
        }

        return (int)bits.Bits(sps.Log2MaxFrameNum);
    }

    /// <summary>What this code reads of an SPS (7.3.2.1.1): the cropped picture size and what slice headers need.</summary>
    public static SpsInfo ReadSps(ReadOnlySpan<byte> spsNal)
    {
        if (spsNal.Length > MaxSpsBytes)
        {
            throw new InvalidDataException($"An H.264 SPS of {spsNal.Length} bytes is over the {MaxSpsBytes}-byte cap.");
        }

        Span<byte> rbsp = stackalloc byte[MaxSpsBytes];
        int length = Unescape(spsNal[1..], rbsp);
        var bits = new BitReader(rbsp[..length]);

        int profile = (int)bits.Bits(8);
        bits.Bits(16); // constraint flags, level_idc
        bits.Ue(31); // seq_parameter_set_id
        uint chromaFormat = 1;
        bool separateColourPlane = false;
        if (profile is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
        {
            chromaFormat = bits.Ue(3);
            if (chromaFormat == 3)
            {
                separateColourPlane = bits.Bit();
            }

            bits.Ue(6); // bit_depth_luma_minus8
            bits.Ue(6); // bit_depth_chroma_minus8
            bits.Bit(); // qpprime_y_zero_transform_bypass_flag
            if (bits.Bit())
            {
                // seq_scaling_matrix_present_flag: the lists are read only to skip them.
                int lists = chromaFormat == 3 ? 12 : 8;
                for (int i = 0; i < lists; i++)
                {
                    if (bits.Bit())
                    {
                        SkipScalingList(ref bits, i < 6 ? 16 : 64);
                    }
                }
            }
        }

        int log2MaxFrameNum = (int)bits.Ue(12) + 4; // log2_max_frame_num_minus4
        uint pocType = bits.Ue(2);
        if (pocType == 0)
        {
            bits.Ue(12); // log2_max_pic_order_cnt_lsb_minus4
        }
        else if (pocType == 1)
        {
            bits.Bit(); // delta_pic_order_always_zero_flag
            bits.Se(); // offset_for_non_ref_pic
            bits.Se(); // offset_for_top_to_bottom_field
            uint cycle = bits.Ue(255);
            for (uint i = 0; i < cycle; i++)
            {
                bits.Se(); // offset_for_ref_frame
            }
        }

        bits.Ue(uint.MaxValue - 1); // max_num_ref_frames
        bits.Bit(); // gaps_in_frame_num_value_allowed_flag
        long widthMbs = bits.Ue(MaxDimension / 16) + 1L;
        long heightMapUnits = bits.Ue(MaxDimension / 16) + 1L;
        bool frameMbsOnly = bits.Bit();
        if (!frameMbsOnly)
        {
            bits.Bit(); // mb_adaptive_frame_field_flag
        }

        bits.Bit(); // direct_8x8_inference_flag
        long width = widthMbs * 16;
        long height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16;
        if (bits.Bit())
        {
            // frame_cropping_flag: offsets in chroma sample units (Table 6-1 and equations 7-19 to 7-22).
            long left = bits.Ue(uint.MaxValue - 1), right = bits.Ue(uint.MaxValue - 1);
            long top = bits.Ue(uint.MaxValue - 1), bottom = bits.Ue(uint.MaxValue - 1);
            int chromaArrayType = separateColourPlane ? 0 : (int)chromaFormat;
            long cropX = chromaArrayType is 1 or 2 ? 2 : 1;
            long cropY = (chromaArrayType == 1 ? 2 : 1) * (frameMbsOnly ? 1 : 2);
            width -= cropX * (left + right);
            height -= cropY * (top + bottom);
        }

        if (width <= 0 || height <= 0 || width > MaxDimension || height > MaxDimension)
        {
            throw new InvalidDataException("An H.264 SPS declares an impossible picture size.");
        }

        return new SpsInfo((int)width, (int)height, log2MaxFrameNum, separateColourPlane);
    }

    /// <summary>The SPS and PPS NAL units of an access unit (the first of each), header byte included; empty if missing.</summary>
    public static (ReadOnlyMemory<byte> Sps, ReadOnlyMemory<byte> Pps) ParameterSets(ReadOnlyMemory<byte> accessUnit)
    {
        ReadOnlyMemory<byte> sps = default, pps = default;
        foreach (NalUnit nal in NalUnits(accessUnit.Span))
        {
            if (nal.Type == Sps && sps.IsEmpty && nal.Length >= 4)
            {
                sps = accessUnit.Slice(nal.Offset, nal.Length);
            }
            else if (nal.Type == Pps && pps.IsEmpty && nal.Length >= 2)
            {
                pps = accessUnit.Slice(nal.Offset, nal.Length);
            }
        }

        return (sps, pps);
    }

    /// <summary>
    /// The AVCDecoderConfigurationRecord (avcC, ISO/IEC 14496-15 §5.3.3.1) MP4 and Matroska keep as the track's codec
    /// private data: profile, compatibility and level from the SPS, 4-byte NAL lengths, one SPS and one PPS.
    /// </summary>
    /// <exception cref="InvalidDataException">An SPS shorter than 4 bytes, a missing PPS, or either over 65535 bytes.</exception>
    public static byte[] AvcDecoderConfiguration(ReadOnlySpan<byte> sps, ReadOnlySpan<byte> pps)
    {
        if (sps.Length < 4 || pps.IsEmpty || sps.Length > ushort.MaxValue || pps.Length > ushort.MaxValue)
        {
            throw new InvalidDataException("An H.264 keyframe without usable parameter sets.");
        }

        byte[] record = new byte[11 + sps.Length + pps.Length];
        record[0] = 1; // configurationVersion
        record[1] = sps[1]; // AVCProfileIndication
        record[2] = sps[2]; // profile_compatibility
        record[3] = sps[3]; // AVCLevelIndication
        record[4] = 0xFF; // reserved bits, lengthSizeMinusOne = 3
        record[5] = 0xE1; // reserved bits, one SPS
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(6), (ushort)sps.Length);
        sps.CopyTo(record.AsSpan(8));
        int at = 8 + sps.Length;
        record[at] = 1; // one PPS
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(at + 1), (ushort)pps.Length);
        pps.CopyTo(record.AsSpan(at + 3));
        return record;
    }

    private static void SkipScalingList(ref BitReader bits, int size)
    {
        int last = 8, next = 8;
        for (int j = 0; j < size; j++)
        {
            if (next != 0)
            {
                int delta = bits.Se();
                if (delta is < -128 or > 127)
                {
                    throw new InvalidDataException("An H.264 SPS has a scaling list delta out of range.");
                }

                next = (last + delta + 256) % 256;
            }

            last = next == 0 ? last : next;
        }
    }

    /// <summary>Removes emulation prevention bytes (the 03 of 00 00 03) from a NAL unit's payload.</summary>
    private static int Unescape(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int zeros = 0, length = 0;
        foreach (byte b in source)
        {
            if (zeros >= 2 && b == 3)
            {
                zeros = 0;
                continue;
            }

            zeros = b == 0 ? zeros + 1 : 0;
            destination[length++] = b;
        }

        return length;
    }

    /// <summary>Big-endian bits with Exp-Golomb codes; running out is an <see cref="InvalidDataException"/>.</summary>
    private ref struct BitReader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _bit;

        public BitReader(ReadOnlySpan<byte> data)
        {
            _data = data;
            _bit = 0;
        }

        public bool Bit()
        {
            if (_bit >= _data.Length * 8)
            {
                throw new InvalidDataException("An H.264 SPS ends early.");
            }

            bool set = ((_data[_bit >> 3] >> (7 - (_bit & 7))) & 1) != 0;
            _bit++;
            return set;
        }

        public uint Bits(int count)
        {
            uint value = 0;
            for (int i = 0; i < count; i++)
            {
                value = (value << 1) | (Bit() ? 1u : 0u);
            }

            return value;
        }

        /// <summary>ue(v), refused above <paramref name="max"/>.</summary>
        public uint Ue(uint max)
        {
            int zeros = 0;
            while (!Bit())
            {
                if (++zeros > 31)
                {
                    throw new InvalidDataException("An H.264 SPS has an Exp-Golomb code longer than 32 bits.");
                }
            }

            ulong value = (1UL << zeros) - 1 + Bits(zeros);
            if (value > max)
            {
                throw new InvalidDataException("An H.264 SPS has a field out of range.");
            }

            return (uint)value;
        }

        /// <summary>se(v), within ±2^30.</summary>
        public int Se()
        {
            uint code = Ue(1u << 31);
            int magnitude = (int)((code + 1) / 2);
            return (code & 1) != 0 ? magnitude : -magnitude;
        }
    }
}
