using SocketCam.Codecs;
using SocketCam.Media;

namespace SocketCam.Tests.Codecs;

public sealed class RawCodecTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 5)]
    [InlineData(640, 480)]
    public void RoundTripIsExact(int width, int height)
    {
        using VideoFrame original = TestFrames.Pattern(width, height, index: 3);
        using var encoder = new RawEncoder();
        using var decoder = new RawDecoder();
        byte[] payload = new byte[encoder.MaxEncodedSize(width, height)];

        int length = encoder.Encode(original, payload);

        Assert.Equal(width * height * 3, length);
        using VideoFrame decoded = VideoFrame.Rent(width, height);
        decoder.Decode(payload, width, height, decoded);
        Assert.True(TestFrames.PixelsEqual(original, decoded));
    }

    [Fact]
    public void StridedFramesArePackedAndUnpacked()
    {
        VideoFrame padded = TestFrames.Padded(13, 11);
        using var encoder = new RawEncoder();
        using var decoder = new RawDecoder();
        byte[] payload = new byte[13 * 11 * 3];

        encoder.Encode(padded, payload);
        for (int y = 0; y < 11; y++)
        {
            Assert.True(padded.Row(y).SequenceEqual(payload.AsSpan(y * 39, 39)));
        }

        VideoFrame target = TestFrames.Padded(13, 11, padding: 4, offset: 0);
        decoder.Decode(payload, 13, 11, target);
        Assert.True(TestFrames.PixelsEqual(padded, target));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1)]
    public void DecoderRejectsPayloadOfWrongLength(int delta)
    {
        using var decoder = new RawDecoder();
        using VideoFrame target = VideoFrame.Rent(10, 10);
        byte[] payload = new byte[300 + delta];

        if (delta == 0)
        {
            decoder.Decode(payload, 10, 10, target);
        }
        else
        {
            Assert.Throws<InvalidDataException>(() => decoder.Decode(payload, 10, 10, target));
        }
    }

    [Fact]
    public void EncoderRejectsSmallDestination()
    {
        using VideoFrame frame = VideoFrame.Rent(10, 10);
        using var encoder = new RawEncoder();

        Assert.Throws<ArgumentException>(() => encoder.Encode(frame, new byte[299]));
    }
}
