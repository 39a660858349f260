namespace SocketCam.Codecs;

/// <summary>Outcome of walking the markers of one JPEG at the start of a buffer.</summary>
internal enum JpegScanStatus
{
    /// <summary>A whole JPEG (SOI to EOI) was found; its length is reported.</summary>
    Complete,

    /// <summary>Everything so far is valid but the buffer ends before EOI (more bytes may complete it).</summary>
    Incomplete,

    /// <summary>The bytes cannot be a JPEG we accept.</summary>
    Invalid,
}

/// <summary>
/// Cheap structural checks on JPEG bytes without decoding: SOI, marker segments and their lengths, a baseline/extended/
/// progressive Huffman SOF, entropy-coded data free of stray markers, and EOI. Allocation-free (errors are literals).
/// </summary>
public static class JpegStructure
{
    private const byte MarkerPrefix = 0xFF;
    private const byte Soi = 0xD8;
    private const byte Eoi = 0xD9;
    private const byte Sos = 0xDA;
    private const byte Tem = 0x01;

    /// <summary>
    /// True when <paramref name="jpeg"/> is exactly one structurally valid JPEG (no trailing bytes) that we can decode.
    /// Does not prove the entropy-coded data decodes cleanly; it rejects truncation, garbage and lying lengths cheaply.
    /// </summary>
    public static bool TryValidate(ReadOnlySpan<byte> jpeg, out int width, out int height, out string? error)
    {
        JpegScanStatus status = Scan(jpeg, out int length, out width, out height, out error);
        if (status == JpegScanStatus.Complete && length != jpeg.Length)
        {
            error = "Trailing bytes after the JPEG's EOI marker.";
            status = JpegScanStatus.Invalid;
        }

        if (status != JpegScanStatus.Complete)
        {
            width = 0;
            height = 0;
            return false;
        }

        return true;
    }

    /// <summary>
    /// Walks one JPEG starting at <paramref name="data"/>[0]. On <see cref="JpegScanStatus.Complete"/>,
    /// <paramref name="length"/> is the number of bytes up to and including EOI (bytes after it are not examined), which
    /// is what a stream splitter needs. <paramref name="error"/> explains Incomplete and Invalid results.
    /// </summary>
    internal static JpegScanStatus Scan(ReadOnlySpan<byte> data, out int length, out int width, out int height, out string? error)
    {
        length = 0;
        width = 0;
        height = 0;
        error = null;

        if (data.Length < 2)
        {
            return Fail(data.Length == 0 || data[0] == MarkerPrefix ? JpegScanStatus.Incomplete : JpegScanStatus.Invalid,
                "The JPEG does not start with an SOI marker (FF D8).", out error);
        }

        if (data[0] != MarkerPrefix || data[1] != Soi)
        {
            return Fail(JpegScanStatus.Invalid, "The JPEG does not start with an SOI marker (FF D8).", out error);
        }

        bool sawFrame = false;
        bool sawScan = false;
        int pos = 2;
        while (true)
        {
            if (pos >= data.Length)
            {
                return Fail(JpegScanStatus.Incomplete, "The JPEG ends before its EOI marker.", out error);
            }

            if (data[pos] != MarkerPrefix)
            {
                return Fail(JpegScanStatus.Invalid, "Expected a marker between JPEG segments.", out error);
            }

            // Any number of FF fill bytes may precede a marker.
            while (pos < data.Length && data[pos] == MarkerPrefix)
            {
                pos++;
            }

            if (pos >= data.Length)
            {
                return Fail(JpegScanStatus.Incomplete, "The JPEG ends inside a marker.", out error);
            }

            byte marker = data[pos++];
            switch (marker)
            {
                case Eoi:
                    if (!sawScan)
                    {
                        return Fail(JpegScanStatus.Invalid, "EOI before any scan (SOS): the JPEG has no image data.", out error);
                    }

                    length = pos;
                    return JpegScanStatus.Complete;
                case Soi:
                    return Fail(JpegScanStatus.Invalid, "A second SOI marker inside the JPEG.", out error);
                case 0x00:
                    return Fail(JpegScanStatus.Invalid, "A stuffed FF 00 outside entropy-coded data.", out error);
                case Tem:
                    continue;
                case >= 0xD0 and <= 0xD7:
                    return Fail(JpegScanStatus.Invalid, "A restart marker outside entropy-coded data.", out error);
            }

            if (!IsKnownSegmentMarker(marker))
            {
                // Reserved and extension markers make libjpeg fail ("unsupported marker"); inside scan data they mean corruption.
                return Fail(JpegScanStatus.Invalid, "Unknown or unsupported JPEG marker.", out error);
            }

            // Every other marker carries a big-endian length that counts itself but not the marker.
            if (pos + 2 > data.Length)
            {
                return Fail(JpegScanStatus.Incomplete, "The JPEG ends inside a segment length.", out error);
            }

            int segmentLength = (data[pos] << 8) | data[pos + 1];
            if (segmentLength < 2)
            {
                return Fail(JpegScanStatus.Invalid, "A JPEG segment length is smaller than 2.", out error);
            }

            if (segmentLength > data.Length - pos)
            {
                return Fail(JpegScanStatus.Incomplete, "A JPEG segment runs past the end of the data.", out error);
            }

            ReadOnlySpan<byte> body = data.Slice(pos + 2, segmentLength - 2);
            pos += segmentLength;

            switch (marker)
            {
                case 0xC0 or 0xC1 or 0xC2:
                    if (sawFrame)
                    {
                        return Fail(JpegScanStatus.Invalid, "More than one SOF marker.", out error);
                    }

                    if (!TryReadFrameHeader(body, out width, out height, out error))
                    {
                        width = 0;
                        height = 0;
                        return JpegScanStatus.Invalid;
                    }

                    sawFrame = true;
                    break;
                case 0xC3 or (>= 0xC5 and <= 0xC7) or (>= 0xC9 and <= 0xCB) or (>= 0xCD and <= 0xCF):
                    return Fail(JpegScanStatus.Invalid, "Unsupported JPEG type (lossless, hierarchical or arithmetic-coded).", out error);
                case Sos:
                    if (!sawFrame)
                    {
                        return Fail(JpegScanStatus.Invalid, "SOS before SOF.", out error);
                    }

                    if (body.Length < 1 || body[0] is < 1 or > 4 || body.Length != 1 + (2 * body[0]) + 3)
                    {
                        return Fail(JpegScanStatus.Invalid, "Malformed SOS segment.", out error);
                    }

                    JpegScanStatus scanStatus = SkipEntropyCodedData(data, ref pos, out error);
                    if (scanStatus != JpegScanStatus.Complete)
                    {
                        return scanStatus;
                    }

                    sawScan = true;
                    break;
            }
        }
    }

    /// <summary>Markers with a length that libjpeg-turbo reads or skips (SOF0-2, DHT, DAC, SOS, DQT, DNL, DRI, APPn, COM) plus the other SOFs, rejected later with a clearer message.</summary>
    private static bool IsKnownSegmentMarker(byte marker) =>
        marker is (>= 0xC0 and <= 0xC7) or (>= 0xC9 and <= 0xCF) or (>= 0xDA and <= 0xDD) or (>= 0xE0 and <= 0xEF) or 0xFE;

    private static bool TryReadFrameHeader(ReadOnlySpan<byte> body, out int width, out int height, out string? error)
    {
        width = 0;
        height = 0;
        if (body.Length < 6)
        {
            error = "SOF segment too short.";
            return false;
        }

        if (body[0] != 8)
        {
            error = "Only 8-bit JPEGs are supported.";
            return false;
        }

        height = (body[1] << 8) | body[2];
        width = (body[3] << 8) | body[4];
        int components = body[5];
        if (components is not (1 or 3) || body.Length != 6 + (3 * components))
        {
            error = "SOF segment must describe 1 or 3 components.";
            return false;
        }

        if (width == 0 || height == 0)
        {
            // Height 0 means "given later by DNL", which TurboJPEG rejects.
            error = "The JPEG's SOF gives a zero width or height.";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// Moves <paramref name="pos"/> from the first byte after an SOS header to the FF that starts the next marker.
    /// In entropy-coded data FF is followed by 00 (stuffing) or D0-D7 (restart); anything else is a marker.
    /// </summary>
    private static JpegScanStatus SkipEntropyCodedData(ReadOnlySpan<byte> data, ref int pos, out string? error)
    {
        while (true)
        {
            int index = data[pos..].IndexOf(MarkerPrefix);
            if (index < 0)
            {
                return Fail(JpegScanStatus.Incomplete, "The JPEG ends inside its scan data.", out error);
            }

            int ff = pos + index;
            if (ff + 1 >= data.Length)
            {
                return Fail(JpegScanStatus.Incomplete, "The JPEG ends inside its scan data.", out error);
            }

            byte next = data[ff + 1];
            if (next == 0x00 || next is >= 0xD0 and <= 0xD7)
            {
                pos = ff + 2;
                continue;
            }

            // FF FF ... is fill before a marker; the caller's marker loop skips it.
            pos = ff;
            error = null;
            return JpegScanStatus.Complete;
        }
    }

    private static JpegScanStatus Fail(JpegScanStatus status, string message, out string? error)
    {
        error = message;
        return status;
    }
}
