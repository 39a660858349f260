using System.Buffers.Binary;
using System.Text;

namespace SocketCam.Protocol;

/// <summary>
/// Reads v2 fields from a whole control payload, big-endian; every read checks what is left and throws
/// <see cref="ProtocolException"/> (malformed) naming the message, so no field can read past its payload.
/// </summary>
internal ref struct WireReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _message;
    private int _position;

    public WireReader(ReadOnlySpan<byte> data, string message)
    {
        _data = data;
        _message = message;
    }

    public readonly int Remaining => _data.Length - _position;

    public readonly int Position => _position;

    public byte U8() => Take(1)[0];

    public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public long I64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public ReadOnlySpan<byte> Bytes(int count) => Take(count);

    /// <summary>A u8 length and that many bytes of UTF-8 without control characters, at most <paramref name="max"/> bytes.</summary>
    public string Text8(string field, int max) => Text(U8(), field, max);

    /// <summary>A u16 length and that many bytes of UTF-8 without control characters.</summary>
    public string Text16(string field, int max) => Text(U16(), field, max);

    public string Text(int length, string field, int max) => Checked(length, field, max, lineBreaks: false);

    /// <summary>
    /// A chat text (§4.15): strict UTF-8 whose only control characters are TAB, LF and CR (a message may have lines;
    /// receivers print it through <see cref="PrintableText"/> or as a DOM text node, never as markup).
    /// </summary>
    public string ChatText(int length, int max) => Checked(length, "text", max, lineBreaks: true);

    /// <summary>UTF-8 checked strictly; no control characters (names and texts are printed and logged on the other side:
    /// a newline could forge lines), except TAB, LF and CR where <paramref name="lineBreaks"/> allows a text lines.</summary>
    private string Checked(int length, string field, int max, bool lineBreaks)
    {
        if (length > max)
        {
            throw Malformed($"its {field} is {length} bytes; the limit is {max}");
        }

        ReadOnlySpan<byte> bytes = Take(length);
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Malformed($"its {field} is not valid UTF-8");
        }

        foreach (char c in text)
        {
            if (char.IsControl(c) && !(lineBreaks && c is '\t' or '\n' or '\r'))
            {
                throw Malformed(lineBreaks ? $"its {field} contains the control character U+{(int)c:X4}" : $"its {field} contains control characters");
            }
        }

        return text;
    }

    public void Skip(int count) => Take(count);

    /// <summary>Moves to <paramref name="position"/> (the end of a record whose later fields this version does not know).</summary>
    public void SkipTo(int position)
    {
        if (position < _position || position > _data.Length)
        {
            throw Malformed("a record length does not match its fields");
        }

        _position = position;
    }

    public readonly ProtocolException Malformed(string what) => new(ErrorCode.Malformed, $"{_message}: {what}.");

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || Remaining < count)
        {
            throw Malformed("too short");
        }

        ReadOnlySpan<byte> slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }
}

/// <summary>Writes v2 fields big-endian into a span; the caller sized it (capped texts, fixed records).</summary>
internal ref struct WireWriter
{
    private readonly Span<byte> _data;
    private int _position;

    public WireWriter(Span<byte> data)
    {
        _data = data;
    }

    public readonly int Position => _position;

    public void U8(byte value) => _data[_position++] = value;

    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_data[_position..], value);
        _position += 2;
    }

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_data[_position..], value);
        _position += 4;
    }

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_data[_position..], value);
        _position += 8;
    }

    public void I64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_data[_position..], value);
        _position += 8;
    }

    /// <summary>u8 length + UTF-8, control characters replaced, cut on a character boundary at <paramref name="max"/> bytes.</summary>
    public void Text8(string text, int max)
    {
        int at = _position++;
        int n = Encode(text, max);
        _data[at] = (byte)n;
    }

    public void Text16(string text, int max)
    {
        int at = _position;
        _position += 2;
        int n = Encode(text, max);
        BinaryPrimitives.WriteUInt16BigEndian(_data[at..], (ushort)n);
    }

    /// <summary>UTF-8 without a length (the caller patches it), control characters replaced, at most <paramref name="max"/> bytes.</summary>
    public void Text(string text, int max) => Encode(text, max);

    /// <summary>UTF-8 as it is (a chat text the parser already checked), at most <paramref name="max"/> bytes, cut on a character boundary.</summary>
    public void Utf8(string text, int max)
    {
        Encoder encoder = Encoding.UTF8.GetEncoder();
        Span<byte> target = _data.Slice(_position, Math.Min(max, _data.Length - _position));
        encoder.Convert(text, target, flush: true, out _, out int used, out _);
        _position += used;
    }

    /// <summary>Writes a u16 at an earlier position (a record's length once its end is known).</summary>
    public readonly void PatchU16(int at, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_data[at..], value);

    public readonly void PatchU32(int at, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_data[at..], value);

    /// <summary>UTF-8 bytes of the printable text, at most <paramref name="max"/>: what <see cref="Text8"/> writes.</summary>
    public static int Measure(string text, int max) => Math.Min(Encoding.UTF8.GetByteCount(text), max);

    private int Encode(string text, int max)
    {
        Encoder encoder = Encoding.UTF8.GetEncoder();
        Span<byte> target = _data.Slice(_position, Math.Min(max, _data.Length - _position));
        encoder.Convert(MessageWriter.Printable(text), target, flush: true, out _, out int used, out _);
        _position += used;
        return used;
    }
}
