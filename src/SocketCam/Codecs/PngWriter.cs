using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using SocketCam.Media;

namespace SocketCam.Codecs;

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
            using VideoFrame bgr = TurboJpeg.YuvToBgrConverter.ToBgrOnce(frame);
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
        var crc = new System.IO.Hashing.Crc32(); // over the chunk's type and data, as PNG says
        crc.Append(type);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc.GetCurrentHashAsUInt32());
        output.Write(word);
    }
}
