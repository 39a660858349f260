using System.Buffers.Binary;
using SocketCam.Media;

namespace SocketCam.Seed;

/// <summary>
/// The seed tutorials' framing: <c>struct.pack("Q", len(data)) + data</c>, an 8-byte little-endian length (native order
/// on every machine the tutorials run on) and then a pickle. See docs/PROTOCOL.md §3.
/// </summary>
internal static class SeedFraming
{
    public const int LengthBytes = 8;

    /// <summary>Slack for the pickle's opcodes around the pixels (about 170 bytes in practice).</summary>
    private const int PickleOverhead = 64 * 1024;

    /// <summary>
    /// The largest length prefix accepted when pictures may be <paramref name="maxPixelBytes"/>: protocol 2 spells
    /// bytes as a latin-1 string in UTF-8, where every byte ≥ 0x80 takes two.
    /// </summary>
    public static long MaxPickleBytes(int maxPixelBytes) => (2L * maxPixelBytes) + PickleOverhead;

    public static void WriteLength(Span<byte> destination, long length) => BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)length);

    /// <summary>Reads a length prefix and checks it against the cap before anything is allocated.</summary>
    public static int ReadLength(ReadOnlySpan<byte> prefix, long maxPickleBytes)
    {
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (length == 0)
        {
            throw new SeedFormatException("frame length 0: a seed frame is a pickle, never empty.");
        }

        if (length > (ulong)maxPickleBytes)
        {
            throw new SeedFormatException($"frame length {length} bytes exceeds the limit of {maxPickleBytes} bytes (--max-frame-bytes {(maxPickleBytes - PickleOverhead) / 2}).");
        }

        return (int)length;
    }

    /// <summary>Largest picture a seed frame can carry under the frame-size rules: checked like every other frame.</summary>
    public static void ValidateShape(long height, long width, long channels, int maxPixelBytes)
    {
        if (height < 1 || width < 1 || height > FrameLimits.MaxDimension || width > FrameLimits.MaxDimension)
        {
            throw new SeedFormatException($"image shape {height}x{width} is outside 1..{FrameLimits.MaxDimension} pixels per side.");
        }

        if (channels is not (1 or 3))
        {
            throw new SeedFormatException($"image has {channels} channels: only BGR (3) and grayscale (1) are supported.");
        }

        if (height * width * channels > maxPixelBytes)
        {
            throw new SeedFormatException($"image {width}x{height}x{channels} is {height * width * channels} bytes, over the limit of {maxPixelBytes} (--max-frame-bytes).");
        }
    }
}
