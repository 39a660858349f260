using System.Buffers;
using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Tests.Codecs;

public sealed class JpegCodecTests
{
    [Theory]
    [InlineData(1280, 720, 80, ChromaSubsampling.S420, 8.0)]
    [InlineData(640, 480, 95, ChromaSubsampling.S444, 3.0)]
    [InlineData(333, 177, 80, ChromaSubsampling.S422, 8.0)]
    [InlineData(16, 16, 90, ChromaSubsampling.S420, 10.0)]
    public void RoundTripOfTestPatternIsClose(int width, int height, int quality, ChromaSubsampling subsampling, double maxError)
    {
        using VideoFrame original = TestFrames.Pattern(width, height);
        using var encoder = new JpegEncoder(new JpegOptions { Quality = quality, Subsampling = subsampling });
        using var decoder = new JpegDecoder();
        byte[] jpeg = new byte[encoder.MaxEncodedSize(width, height)];

        int length = encoder.Encode(original, jpeg);

        Assert.InRange(length, 100, jpeg.Length);
        using VideoFrame decoded = VideoFrame.Rent(width, height);
        decoder.Decode(jpeg.AsSpan(0, length), width, height, decoded);
        double error = TestFrames.MeanAbsoluteError(original, decoded);
        Assert.True(error < maxError, $"mean absolute error {error:0.00}");
    }

    [Fact]
    public void GrayscaleEncodingDecodesToGreyBgr()
    {
        using VideoFrame original = TestFrames.Pattern(64, 48);
        using var encoder = new JpegEncoder(new JpegOptions { Subsampling = ChromaSubsampling.Gray });
        using var decoder = new JpegDecoder();
        byte[] jpeg = new byte[encoder.MaxEncodedSize(64, 48)];
        int length = encoder.Encode(original, jpeg);

        using VideoFrame decoded = VideoFrame.Rent(64, 48);
        decoder.Decode(jpeg.AsSpan(0, length), 64, 48, decoded);

        ReadOnlySpan<byte> row = decoded.Row(20);
        Assert.Equal(row[0], row[1]);
        Assert.Equal(row[1], row[2]);
    }

    [Fact]
    public void EncodesFromAndDecodesIntoStridedFrames()
    {
        using VideoFrame packed = TestFrames.Pattern(120, 90);
        VideoFrame padded = TestFrames.Padded(120, 90);
        for (int y = 0; y < 90; y++)
        {
            packed.Row(y).CopyTo(padded.Buffer.AsSpan(padded.Offset + (y * padded.Stride)));
        }

        using var encoder = new JpegEncoder(new JpegOptions { Quality = 95, Subsampling = ChromaSubsampling.S444, FastDct = false });
        using var decoder = new JpegDecoder(fastUpsample: false);
        byte[] jpeg = new byte[encoder.MaxEncodedSize(120, 90)];
        int length = encoder.Encode(padded, jpeg);
        VideoFrame target = TestFrames.Padded(120, 90, padding: 30, offset: 11);
        byte[] before = (byte[])target.Buffer.Clone();

        decoder.Decode(jpeg.AsSpan(0, length), 120, 90, target);

        Assert.True(TestFrames.MeanAbsoluteError(packed, target) < 3.0);

        // Padding between rows and before the first pixel is untouched.
        Assert.True(target.Buffer.AsSpan(0, 11).SequenceEqual(before.AsSpan(0, 11)));
        for (int y = 0; y < 90; y++)
        {
            int padStart = 11 + (y * target.Stride) + 360;
            Assert.True(target.Buffer.AsSpan(padStart, 30).SequenceEqual(before.AsSpan(padStart, 30)));
        }
    }

    [Fact]
    public void EncoderRejectsDestinationSmallerThanTjBufSize()
    {
        using VideoFrame frame = TestFrames.Pattern(320, 240);
        using var encoder = new JpegEncoder();
        int required = encoder.MaxEncodedSize(320, 240);

        // Much larger than the actual JPEG, still smaller than tjBufSize: NOREALLOC would corrupt the heap in 2.1.5.
        byte[] destination = new byte[required - 1];

        var error = Assert.Throws<ArgumentException>(() => encoder.Encode(frame, destination));
        Assert.Contains("MaxEncodedSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EncoderWritesIntoASliceOfALargerBuffer()
    {
        using VideoFrame frame = TestFrames.Pattern(160, 120);
        using var encoder = new JpegEncoder();
        byte[] buffer = new byte[encoder.MaxEncodedSize(160, 120) + 100];
        buffer.AsSpan().Fill(0xAA);

        int length = encoder.Encode(frame, buffer.AsSpan(50));

        Assert.Equal(0xFF, buffer[50]);
        Assert.Equal(0xD8, buffer[51]);
        Assert.True(buffer.AsSpan(0, 50).IndexOfAnyExcept((byte)0xAA) < 0);
        Assert.True(JpegStructure.TryValidate(buffer.AsSpan(50, length), out int w, out int h, out string? error), error);
        Assert.Equal((160, 120), (w, h));
    }

    [Fact]
    public void EncoderSteadyStateDoesNotAllocate()
    {
        using VideoFrame frame = TestFrames.Pattern(320, 240);
        using var encoder = new JpegEncoder();
        byte[] destination = new byte[encoder.MaxEncodedSize(320, 240)];
        encoder.Encode(frame, destination);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            encoder.Encode(frame, destination);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void DecoderRejectsTruncatedJpeg()
    {
        (byte[] jpeg, int length) = Encode(320, 240);
        using var decoder = new JpegDecoder();
        using VideoFrame target = VideoFrame.Rent(320, 240);

        foreach (int cut in new[] { 1, 2, 10, 100, length / 2, length - 2, length - 1 })
        {
            Assert.Throws<InvalidDataException>(() => decoder.Decode(jpeg.AsSpan(0, cut), 320, 240, target));
        }

        // The decoder still works after failures.
        decoder.Decode(jpeg.AsSpan(0, length), 320, 240, target);
    }

    [Fact]
    public void DecoderRejectsGarbageAndEmptyPayloads()
    {
        using var decoder = new JpegDecoder();
        using VideoFrame target = VideoFrame.Rent(64, 64);
        byte[] garbage = new byte[5000];
        new Random(42).NextBytes(garbage);

        Assert.Throws<InvalidDataException>(() => decoder.Decode(garbage, 64, 64, target));
        Assert.Throws<InvalidDataException>(() => decoder.Decode([], 64, 64, target));
        Assert.Throws<InvalidDataException>(() => decoder.Decode([0xFF, 0xD8, 0xFF, 0xD9], 64, 64, target));
    }

    [Fact]
    public void DecoderSurvivesCorruptedScanData()
    {
        (byte[] jpeg, int length) = Encode(320, 240);
        using var decoder = new JpegDecoder();
        using VideoFrame target = VideoFrame.Rent(320, 240);
        var random = new Random(7);

        // Random byte flips either decode to a damaged picture or throw InvalidDataException; nothing else.
        for (int trial = 0; trial < 200; trial++)
        {
            byte[] copy = jpeg.AsSpan(0, length).ToArray();
            for (int k = 0; k < 5; k++)
            {
                copy[random.Next(2, copy.Length)] = (byte)random.Next(256);
            }

            try
            {
                decoder.Decode(copy, 320, 240, target);
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Theory]
    [InlineData(321, 240)]
    [InlineData(320, 241)]
    [InlineData(160, 120)]
    public void DecoderRejectsWrongDeclaredSize(int declaredWidth, int declaredHeight)
    {
        (byte[] jpeg, int length) = Encode(320, 240);
        using var decoder = new JpegDecoder();
        using VideoFrame target = VideoFrame.Rent(declaredWidth, declaredHeight);

        var error = Assert.Throws<InvalidDataException>(() => decoder.Decode(jpeg.AsSpan(0, length), declaredWidth, declaredHeight, target));
        Assert.Contains("320x240", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DecoderRejectsDeclaredSizeBeyondLimits()
    {
        (byte[] jpeg, int length) = Encode(32, 32);
        using var decoder = new JpegDecoder();
        using VideoFrame target = VideoFrame.Rent(32, 32);

        Assert.Throws<InvalidDataException>(() => decoder.Decode(jpeg.AsSpan(0, length), FrameLimits.MaxDimension + 1, 32, target));
        Assert.Throws<InvalidDataException>(() => decoder.Decode(jpeg.AsSpan(0, length), 0, 32, target));
    }

    [Fact]
    public void FactoryCreatesJpegAndRawCodecs()
    {
        using IFrameEncoder jpeg = CodecFactory.CreateEncoder(CodecId.Jpeg, new JpegOptions { Quality = 50 });
        using IFrameEncoder raw = CodecFactory.CreateEncoder(CodecId.RawBgr24);
        using IFrameDecoder jpegDecoder = CodecFactory.CreateDecoder(CodecId.Jpeg);
        using IFrameDecoder rawDecoder = CodecFactory.CreateDecoder(CodecId.RawBgr24);

        Assert.Equal(CodecId.Jpeg, jpeg.Codec);
        Assert.Equal(CodecId.RawBgr24, raw.Codec);
        Assert.Equal(CodecId.Jpeg, jpegDecoder.Codec);
        Assert.Equal(CodecId.RawBgr24, rawDecoder.Codec);
        Assert.Throws<ArgumentOutOfRangeException>(() => CodecFactory.CreateEncoder((CodecId)99));
    }

    [Fact]
    public void OptionsValidateQuality()
    {
        Assert.Equal(80, new JpegOptions().Quality);
        Assert.Equal(ChromaSubsampling.S420, new JpegOptions().Subsampling);
        Assert.True(new JpegOptions().FastDct);
        Assert.Throws<ArgumentOutOfRangeException>(() => new JpegOptions { Quality = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new JpegOptions { Quality = 101 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new JpegOptions { Subsampling = (ChromaSubsampling)9 });
    }

    [Fact]
    public void DisposedEncoderThrowsObjectDisposed()
    {
        using VideoFrame frame = TestFrames.Pattern(32, 32);
        var encoder = new JpegEncoder();
        byte[] destination = new byte[encoder.MaxEncodedSize(32, 32)];
        encoder.Dispose();
        encoder.Dispose();

        Assert.Throws<ObjectDisposedException>(() => encoder.Encode(frame, destination));
    }

    private static (byte[] Jpeg, int Length) Encode(int width, int height)
    {
        using VideoFrame frame = TestFrames.Pattern(width, height);
        using var encoder = new JpegEncoder();
        byte[] jpeg = ArrayPool<byte>.Shared.Rent(encoder.MaxEncodedSize(width, height));
        return (jpeg, encoder.Encode(frame, jpeg));
    }
}
