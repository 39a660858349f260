using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace SocketCam.Media;

/// <summary>Writes a BGR24 (or I420, converted) frame as an 8-bit RGB PNG (colour type 2, Sub filter on every row).</summary>
internal static class PngWriter
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static void Write(VideoFrame frame, Stream output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        if (frame.Format == PixelFormat.I420)
        {
            using VideoFrame bgr = Codecs.TurboJpeg.YuvToBgrConverter.ToBgrOnce(frame);
            Write(bgr, output);
            return;
        }

        output.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, frame.Width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], frame.Height);
        header[8] = 8; // bits per channel
        header[9] = 2; // truecolour RGB
        header[10] = 0; // deflate
        header[11] = 0; // adaptive filtering
        header[12] = 0; // no interlace
        WriteChunk(output, "IHDR"u8, header);

        using (var idat = new MemoryStream())
        {
            using (var zlib = new ZLibStream(idat, CompressionLevel.Optimal, leaveOpen: true))
            {
                WriteFilteredRows(frame, zlib);
            }

            WriteChunk(output, "IDAT"u8, idat.GetBuffer().AsSpan(0, (int)idat.Length));
        }

        WriteChunk(output, "IEND"u8, []);
    }

    public static void Save(VideoFrame frame, string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Write(frame, file);
    }

    private static void WriteFilteredRows(VideoFrame frame, Stream zlib)
    {
        int rowBytes = frame.Width * VideoFrame.BytesPerPixel;
        byte[] line = ArrayPool<byte>.Shared.Rent(rowBytes + 1);
        try
        {
            Span<byte> filtered = line.AsSpan(0, rowBytes + 1);
            for (int y = 0; y < frame.Height; y++)
            {
                ReadOnlySpan<byte> bgr = frame.Row(y);

                // Sub filter: each byte minus the same channel of the pixel to its left (smooth images deflate far better).
                filtered[0] = 1;
                byte prevR = 0, prevG = 0, prevB = 0;
                for (int i = 0; i < rowBytes; i += 3)
                {
                    byte b = bgr[i], g = bgr[i + 1], r = bgr[i + 2];
                    filtered[i + 1] = (byte)(r - prevR);
                    filtered[i + 2] = (byte)(g - prevG);
                    filtered[i + 3] = (byte)(b - prevB);
                    prevR = r;
                    prevG = g;
                    prevB = b;
                }

                zlib.Write(filtered);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(line);
        }
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        uint crc = Crc32.Append(Crc32.Append(Crc32.Initial, type), data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc ^ Crc32.Initial);
        output.Write(word);
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected 0xEDB88320) as PNG chunks need; System.IO.Hashing is not referenced.</summary>
    private static class Crc32
    {
        public const uint Initial = 0xFFFFFFFF;

        private static readonly uint[] Table = BuildTable();

        /// <summary>Continues a running (not yet inverted) CRC over <paramref name="data"/>.</summary>
        public static uint Append(uint crc, ReadOnlySpan<byte> data)
        {
            uint[] table = Table;
            foreach (byte value in data)
            {
                crc = table[(crc ^ value) & 0xFF] ^ (crc >> 8);
            }

            return crc;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
                }

                table[n] = c;
            }

            return table;
        }
    }
}
