using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Tests.Codecs;

public sealed class JpegStructureTests
{
    [Theory]
    [InlineData(1, 1, 80, ChromaSubsampling.S420)]
    [InlineData(8, 8, 50, ChromaSubsampling.S444)]
    [InlineData(17, 9, 10, ChromaSubsampling.S422)]
    [InlineData(320, 240, 1, ChromaSubsampling.S420)]
    [InlineData(640, 360, 100, ChromaSubsampling.S444)]
    [InlineData(1280, 720, 80, ChromaSubsampling.S420)]
    [InlineData(200, 100, 75, ChromaSubsampling.Gray)]
    public void AcceptsRealEncoderOutput(int width, int height, int quality, ChromaSubsampling subsampling)
    {
        byte[] jpeg = Encode(width, height, quality, subsampling);

        Assert.True(JpegStructure.TryValidate(jpeg, out int w, out int h, out string? error), error);
        Assert.Null(error);
        Assert.Equal((width, height), (w, h));
        Assert.Equal(JpegScanStatus.Complete, JpegStructure.Scan(jpeg, out int length, out _, out _, out _));
        Assert.Equal(jpeg.Length, length);
    }

    [Fact]
    public void AcceptsRestartMarkersStuffingAndFillBytes()
    {
        byte[] jpeg = MinimalJpeg(scan: [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD7, 0x78, 0xFF, 0xFF, 0xFF]);

        Assert.True(JpegStructure.TryValidate(jpeg, out int w, out int h, out string? error), error);
        Assert.Equal((16, 8), (w, h));
    }

    [Fact]
    public void AcceptsProgressiveStyleMultipleScans()
    {
        // SOF2, then scan, DHT between scans, second scan, EOI.
        var bytes = new List<byte>();
        bytes.AddRange([0xFF, 0xD8]);
        bytes.AddRange(Segment(0xC2, [8, 0, 8, 0, 16, 1, 1, 0x11, 0]));
        bytes.AddRange(Segment(0xDA, [1, 1, 0x00, 0, 63, 0]));
        bytes.AddRange([0x01, 0x02, 0xFF, 0x00, 0x03]);
        bytes.AddRange(Segment(0xC4, [0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]));
        bytes.AddRange(Segment(0xDA, [1, 1, 0x00, 1, 5, 0]));
        bytes.AddRange([0x04, 0x05]);
        bytes.AddRange([0xFF, 0xD9]);

        Assert.True(JpegStructure.TryValidate(bytes.ToArray(), out int w, out int h, out string? error), error);
        Assert.Equal((16, 8), (w, h));
    }

    [Fact]
    public void RejectsTruncation()
    {
        byte[] jpeg = Encode(64, 48, 80, ChromaSubsampling.S420);

        foreach (int cut in new[] { 0, 1, 2, 3, 20, jpeg.Length / 2, jpeg.Length - 2, jpeg.Length - 1 })
        {
            Assert.False(JpegStructure.TryValidate(jpeg.AsSpan(0, cut), out int w, out int h, out string? error));
            Assert.NotNull(error);
            Assert.Equal((0, 0), (w, h));
            Assert.NotEqual(JpegScanStatus.Complete, JpegStructure.Scan(jpeg.AsSpan(0, cut), out _, out _, out _, out _));
        }
    }

    [Fact]
    public void TruncationsAtEveryLengthNeverThrowAndReportIncomplete()
    {
        byte[] jpeg = Encode(24, 16, 60, ChromaSubsampling.S420);

        for (int cut = 0; cut < jpeg.Length; cut++)
        {
            Assert.False(JpegStructure.TryValidate(jpeg.AsSpan(0, cut), out _, out _, out string? error));
            Assert.NotNull(error);

            // A prefix of a good JPEG is never "invalid", only incomplete: a stream splitter waits for more bytes.
            Assert.Equal(JpegScanStatus.Incomplete, JpegStructure.Scan(jpeg.AsSpan(0, cut), out _, out _, out _, out _));
        }
    }

    [Fact]
    public void RejectsTrailingGarbageButScanReportsTheLength()
    {
        byte[] jpeg = Encode(64, 48, 80, ChromaSubsampling.S420);
        byte[] padded = [.. jpeg, 0x00, 0x11];

        Assert.False(JpegStructure.TryValidate(padded, out _, out _, out string? error));
        Assert.Contains("Trailing", error, StringComparison.Ordinal);
        Assert.Equal(JpegScanStatus.Complete, JpegStructure.Scan(padded, out int length, out int w, out _, out _));
        Assert.Equal(jpeg.Length, length);
        Assert.Equal(64, w);

        // Two JPEGs back to back (as in an MJPEG stream) are not one JPEG.
        Assert.False(JpegStructure.TryValidate([.. jpeg, .. jpeg], out _, out _, out _));
    }

    [Fact]
    public void RejectsMissingSoi()
    {
        byte[] jpeg = Encode(64, 48, 80, ChromaSubsampling.S420);

        Assert.False(JpegStructure.TryValidate(jpeg.AsSpan(1), out _, out _, out string? error));
        Assert.Contains("SOI", error, StringComparison.Ordinal);
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        Assert.False(JpegStructure.TryValidate(png, out _, out _, out _));
    }

    [Fact]
    public void RejectsSegmentLengthThatRunsPastTheEnd()
    {
        byte[] jpeg = Encode(64, 48, 80, ChromaSubsampling.S420);

        // The first segment after SOI is APP0 (JFIF) with its length at bytes 4-5.
        Assert.Equal(0xE0, jpeg[3]);
        byte[] lying = (byte[])jpeg.Clone();
        lying[4] = 0xFF;
        lying[5] = 0xF0;
        Assert.False(JpegStructure.TryValidate(lying, out _, out _, out string? error));
        Assert.NotNull(error);

        lying[4] = 0;
        lying[5] = 1; // shorter than the length field itself
        Assert.False(JpegStructure.TryValidate(lying, out _, out _, out _));

        // A length one byte too long shifts the walk off the next marker.
        byte[] offByOne = (byte[])jpeg.Clone();
        offByOne[5]++;
        Assert.False(JpegStructure.TryValidate(offByOne, out _, out _, out _));
    }

    [Theory]
    [InlineData(0x12)]
    [InlineData(0xD8)]
    [InlineData(0xC8)]
    [InlineData(0xF5)]
    public void RejectsBadMarkerInScanData(byte marker)
    {
        byte[] jpeg = Encode(64, 48, 80, ChromaSubsampling.S420);
        int sos = FindMarker(jpeg, 0xDA);
        int scanStart = sos + 2 + ((jpeg[sos + 2] << 8) | jpeg[sos + 3]);
        int at = scanStart + ((jpeg.Length - scanStart) / 2);

        byte[] corrupt = (byte[])jpeg.Clone();
        corrupt[at] = 0xFF;
        corrupt[at + 1] = marker;

        Assert.False(JpegStructure.TryValidate(corrupt, out _, out _, out string? error));
        Assert.NotNull(error);
    }

    [Fact]
    public void RejectsUnsupportedFrameTypes()
    {
        // SOF3 (lossless) and SOF9 (arithmetic).
        foreach (byte sof in new byte[] { 0xC3, 0xC9 })
        {
            byte[] jpeg = MinimalJpeg(scan: [0x00], sofMarker: sof);
            Assert.False(JpegStructure.TryValidate(jpeg, out _, out _, out string? error));
            Assert.Contains("Unsupported", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RejectsStructuralNonsense()
    {
        // No scan at all.
        Assert.False(JpegStructure.TryValidate([0xFF, 0xD8, 0xFF, 0xD9], out _, out _, out _));

        // SOS before SOF.
        byte[] noFrame = [0xFF, 0xD8, .. Segment(0xDA, [1, 1, 0, 0, 63, 0]), 0x00, 0xFF, 0xD9];
        Assert.False(JpegStructure.TryValidate(noFrame, out _, out _, out _));

        // Zero height, 16-bit precision, four components.
        Assert.False(JpegStructure.TryValidate(MinimalJpeg([0x00], frame: [8, 0, 0, 0, 16, 1, 1, 0x11, 0]), out _, out _, out _));
        Assert.False(JpegStructure.TryValidate(MinimalJpeg([0x00], frame: [16, 0, 8, 0, 16, 1, 1, 0x11, 0]), out _, out _, out _));
        Assert.False(JpegStructure.TryValidate(
            MinimalJpeg([0x00], frame: [8, 0, 8, 0, 16, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0]), out _, out _, out _));

        // Bytes between segments that are not a marker.
        byte[] jpeg = MinimalJpeg([0x00]);
        byte[] gap = [.. jpeg[..2], 0x00, .. jpeg[2..]];
        Assert.False(JpegStructure.TryValidate(gap, out _, out _, out _));
    }

    [Fact]
    public void RandomCorruptionNeverThrows()
    {
        byte[] jpeg = Encode(48, 32, 70, ChromaSubsampling.S420);
        var random = new Random(1234);
        for (int trial = 0; trial < 2000; trial++)
        {
            byte[] copy = (byte[])jpeg.Clone();
            for (int k = 0; k < 3; k++)
            {
                copy[random.Next(copy.Length)] = (byte)random.Next(256);
            }

            JpegStructure.TryValidate(copy.AsSpan(0, random.Next(copy.Length + 1)), out _, out _, out _);
        }

        byte[] noise = new byte[4096];
        for (int trial = 0; trial < 200; trial++)
        {
            random.NextBytes(noise);
            noise[0] = 0xFF;
            noise[1] = 0xD8;
            JpegStructure.TryValidate(noise, out _, out _, out _);
        }
    }

    [Fact]
    public void ValidationDoesNotAllocate()
    {
        byte[] jpeg = Encode(320, 240, 80, ChromaSubsampling.S420);
        JpegStructure.TryValidate(jpeg, out _, out _, out _);
        JpegStructure.TryValidate(jpeg.AsSpan(1), out _, out _, out _);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            JpegStructure.TryValidate(jpeg, out _, out _, out _);
            JpegStructure.TryValidate(jpeg.AsSpan(0, jpeg.Length - 1), out _, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    internal static byte[] Encode(int width, int height, int quality, ChromaSubsampling subsampling)
    {
        using VideoFrame frame = TestFrames.Pattern(width, height);
        using var encoder = new JpegEncoder(new JpegOptions { Quality = quality, Subsampling = subsampling });
        byte[] buffer = new byte[encoder.MaxEncodedSize(width, height)];
        return buffer.AsSpan(0, encoder.Encode(frame, buffer)).ToArray();
    }

    private static int FindMarker(byte[] jpeg, byte marker)
    {
        for (int i = 0; i < jpeg.Length - 1; i++)
        {
            if (jpeg[i] == 0xFF && jpeg[i + 1] == marker)
            {
                return i;
            }
        }

        throw new InvalidOperationException("marker not found");
    }

    private static byte[] Segment(byte marker, byte[] body) =>
        [0xFF, marker, (byte)((body.Length + 2) >> 8), (byte)(body.Length + 2), .. body];

    private static byte[] MinimalJpeg(byte[] scan, byte sofMarker = 0xC0, byte[]? frame = null)
    {
        frame ??= [8, 0, 8, 0, 16, 1, 1, 0x11, 0];
        return
        [
            0xFF, 0xD8,
            .. Segment(0xDB, new byte[65]),
            .. Segment(sofMarker, frame),
            .. Segment(0xDA, [1, 1, 0x00, 0, 63, 0]),
            .. scan,
            0xFF, 0xD9,
        ];
    }
}
