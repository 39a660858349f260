using System.Buffers.Binary;
using SocketCam.Media;

namespace SocketCam.Seed;

/// <summary>
/// numpy image pickles, the payload of the seed tutorials' frames (docs/PROTOCOL.md §3). Writing produces exactly the
/// bytes of Python 3.11 + numpy 1.x <c>pickle.dumps(frame)</c>; reading is a strict allow-list (<see cref="PickleMachine"/>)
/// that never resolves a name or calls anything.
/// </summary>
internal static class NumpyPickle
{
    /// <summary>Pixel data this long or longer is written outside FRAME opcodes, as CPython's pickler does (_FRAME_SIZE_TARGET).</summary>
    private const int FrameSizeTarget = 64 * 1024;

    private const byte Proto = 0x80;
    private const byte Frame = 0x95;
    private const byte ShortBinBytes = (byte)'C';
    private const byte BinBytes = (byte)'B';
    private const byte BinInt1 = (byte)'K';
    private const byte BinInt2 = (byte)'M';
    private const byte Tuple2 = 0x86;
    private const byte Tuple3 = 0x87;

    /// <summary>PROTO 4 and the FRAME opcode with its 8-byte length.</summary>
    private const int HeaderLength = 2 + 9;

    // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'), REDUCE, then MARK and the state's version 1.
    private static readonly byte[] BeforeShape =
    [
        0x8c, 0x15, .. "numpy.core.multiarray"u8, 0x94, 0x8c, 0x0c, .. "_reconstruct"u8, 0x94, 0x93, 0x94,
        0x8c, 0x05, .. "numpy"u8, 0x94, 0x8c, 0x07, .. "ndarray"u8, 0x94, 0x93, 0x94,
        (byte)'K', 0x00, 0x85, 0x94, (byte)'C', 0x01, (byte)'b', 0x94, 0x87, 0x94, (byte)'R', 0x94, (byte)'(', (byte)'K', 0x01,
    ];

    // After the shape tuple: memoize it, numpy.dtype('u1', False, True) with BUILD (3, '|', None, None, None, -1, -1, 0),
    // then is_fortran=False. The module name "numpy" is fetched back from the memo (BINGET 3), as CPython does.
    private static readonly byte[] AfterShape =
    [
        0x94, (byte)'h', 0x03, 0x8c, 0x05, .. "dtype"u8, 0x94, 0x93, 0x94, 0x8c, 0x02, .. "u1"u8, 0x94, 0x89, 0x88, 0x87, 0x94,
        (byte)'R', 0x94, (byte)'(', (byte)'K', 0x03, 0x8c, 0x01, (byte)'|', 0x94, (byte)'N', (byte)'N', (byte)'N',
        (byte)'J', 0xff, 0xff, 0xff, 0xff, (byte)'J', 0xff, 0xff, 0xff, 0xff, (byte)'K', 0x00, (byte)'t', 0x94, (byte)'b', 0x89,
    ];

    // Memoize the pixel bytes, close the state tuple, BUILD the array, STOP.
    private static readonly byte[] AfterPixels = [0x94, (byte)'t', 0x94, (byte)'b', (byte)'.'];

    /// <summary>
    /// Exact length of <c>pickle.dumps(frame)</c> for a C-ordered uint8 array of shape (h, w, 3), or (h, w) when
    /// <paramref name="channels"/> is 1.
    /// </summary>
    public static int PickledLength(int height, int width, int channels)
    {
        Validate(height, width, channels);
        int pixels = height * width * channels;
        int length = HeaderLength + BeforeShape.Length + ShapeLength(height, width, channels) + AfterShape.Length
            + BytesHeaderLength(pixels) + pixels + AfterPixels.Length;
        return pixels >= FrameSizeTarget ? length + 9 : length; // the closing part gets a FRAME of its own
    }

    /// <summary>Writes <c>pickle.dumps(frame)</c> for these pixels (no length prefix); returns the byte count.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> pixels, int height, int width, int channels)
    {
        int length = WriteAround(destination, height, width, channels, out int pixelOffset);
        int count = height * width * channels;
        if (pixels.Length != count)
        {
            throw new ArgumentException($"{pixels.Length} bytes of pixels for a {height}x{width}x{channels} image.", nameof(pixels));
        }

        pixels.CopyTo(destination[pixelOffset..]);
        return length;
    }

    /// <summary>
    /// Writes the whole pickle except the pixels, which the caller then writes (or decodes) straight into
    /// <paramref name="destination"/> at <paramref name="pixelOffset"/>. Returns the pickle's length.
    /// </summary>
    public static int WriteAround(Span<byte> destination, int height, int width, int channels, out int pixelOffset)
    {
        int total = PickledLength(height, width, channels);
        if (destination.Length < total)
        {
            throw new ArgumentException($"{destination.Length} bytes is too small for a {total}-byte pickle.", nameof(destination));
        }

        int pixels = height * width * channels;
        bool outOfFrame = pixels >= FrameSizeTarget;
        destination[0] = Proto;
        destination[1] = 4;
        destination[2] = Frame;
        int at = HeaderLength;
        BeforeShape.AsSpan().CopyTo(destination[at..]);
        at += BeforeShape.Length;
        at += WriteInt(destination[at..], height);
        at += WriteInt(destination[at..], width);
        if (channels != 1)
        {
            at += WriteInt(destination[at..], channels);
        }

        destination[at++] = channels != 1 ? Tuple3 : Tuple2;
        AfterShape.AsSpan().CopyTo(destination[at..]);
        at += AfterShape.Length;
        if (outOfFrame)
        {
            // CPython commits the frame before a large bytes object and writes its opcode and data unframed.
            BinaryPrimitives.WriteUInt64LittleEndian(destination[3..], (ulong)(at - HeaderLength));
        }

        if (pixels < 256)
        {
            destination[at++] = ShortBinBytes;
            destination[at++] = (byte)pixels;
        }
        else
        {
            destination[at++] = BinBytes;
            BinaryPrimitives.WriteUInt32LittleEndian(destination[at..], (uint)pixels);
            at += 4;
        }

        pixelOffset = at;
        at += pixels;
        if (outOfFrame)
        {
            destination[at++] = Frame;
            BinaryPrimitives.WriteUInt64LittleEndian(destination[at..], (ulong)AfterPixels.Length);
            at += 8;
        }

        AfterPixels.AsSpan().CopyTo(destination[at..]);
        at += AfterPixels.Length;
        if (!outOfFrame)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[3..], (ulong)(at - HeaderLength));
        }

        return at;
    }

    /// <summary>
    /// Reads a numpy uint8 image pickle (protocols 2-5) through the allow-list; throws <see cref="SeedFormatException"/>
    /// for anything else. <see cref="NumpyImage.Pixels"/> points into <paramref name="pickle"/>, or into
    /// <paramref name="scratch"/> (rented from the shared ArrayPool when protocol 2 spells the bytes as text; the
    /// caller returns it when it is not null).
    /// </summary>
    public static NumpyImage Read(ReadOnlySpan<byte> pickle, ref byte[]? scratch, int maxPixelBytes = FrameLimits.MaxDimension * FrameLimits.MaxDimension * 3)
    {
        var machine = new PickleMachine(pickle, scratch, maxPixelBytes);
        try
        {
            return machine.Run();
        }
        finally
        {
            scratch = machine.Scratch;
        }
    }

    private static void Validate(int height, int width, int channels)
    {
        if (height < 1 || width < 1 || height > FrameLimits.MaxDimension || width > FrameLimits.MaxDimension || channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(height), $"{height}x{width}x{channels} is not a supported image shape.");
        }
    }

    private static int ShapeLength(int height, int width, int channels) =>
        IntLength(height) + IntLength(width) + (channels != 1 ? IntLength(channels) : 0) + 1;

    private static int IntLength(int value) => value < 256 ? 2 : 3;

    private static int BytesHeaderLength(int count) => count < 256 ? 2 : 5;

    // CPython writes small non-negative ints as BININT1 (< 256) or BININT2 (< 65536); sides are at most 8192.
    private static int WriteInt(Span<byte> destination, int value)
    {
        if (value < 256)
        {
            destination[0] = BinInt1;
            destination[1] = (byte)value;
            return 2;
        }

        destination[0] = BinInt2;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[1..], (ushort)value);
        return 3;
    }
}
