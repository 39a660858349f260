using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Tests.Codecs;

/// <summary>libx264 and libavcodec through our P/Invoke, on the real test pattern.</summary>
public sealed class H264CodecTests
{
    private static List<(byte[] Data, FrameFlags Flags)> EncodePattern(int width, int height, int frames, H264Options? options = null, Action<int, X264Encoder>? before = null)
    {
        var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });
        using var encoder = new X264Encoder(options);
        var units = new List<(byte[], FrameFlags)>();
        byte[] buffer = new byte[encoder.MaxEncodedSize(width, height)];
        try
        {
            for (int i = 0; i < frames; i++)
            {
                using VideoFrame frame = source.ReadFrameAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult()!;
                before?.Invoke(i, encoder);
                int length = encoder.Encode(frame, buffer);
                Assert.True(length > 0, $"frame {i} gave no access unit");
                units.Add((buffer[..length], encoder.LastFrameFlags));
            }
        }
        finally
        {
            source.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return units;
    }

    [Fact]
    public void A_720p_pattern_round_trips_close_to_the_original_one_picture_per_access_unit()
    {
        var units = EncodePattern(1280, 720, 10);
        using var decoder = new H264Decoder();
        using VideoFrame original = TestFrames.Pattern(1280, 720, index: 9);
        using VideoFrame decoded = VideoFrame.Rent(1280, 720);

        Assert.Equal(FrameFlags.Keyframe, units[0].Flags);
        Assert.All(units.Skip(1), u => Assert.Equal(FrameFlags.None, u.Flags));
        Assert.Equal([0, 0, 0, 1], units[0].Data[..4]); // Annex B
        foreach (var (data, _) in units)
        {
            decoder.Decode(data, 1280, 720, decoded);
        }

        // After a few frames the rate control has settled (the first keyframe is held to the one-frame VBV).
        double error = TestFrames.MeanAbsoluteError(original, decoded);
        Assert.True(error < 6, $"mean absolute error {error:0.00}");
        Assert.Equal(0, decoder.Errors);
        Assert.Equal(10, decoder.PicturesDecoded);
    }

    [Fact]
    public void Keyframes_come_at_the_interval_and_on_request_and_only_then()
    {
        var units = EncodePattern(320, 240, 25, new H264Options { KeyframeInterval = 10 }, (i, e) =>
        {
            if (i == 4)
            {
                e.RequestKeyframe();
            }
        });

        int[] keyframes = units.Select((u, i) => (u, i)).Where(x => x.u.Flags == FrameFlags.Keyframe).Select(x => x.i).ToArray();
        // x264 counts the interval from the last IDR, so the requested one at 4 moves the next periodic one to 14.
        Assert.Equal([0, 4, 14, 24], keyframes);
    }

    [Fact]
    public void A_decoder_started_at_a_keyframe_decodes_every_later_frame_without_errors()
    {
        var units = EncodePattern(320, 240, 30, new H264Options { KeyframeInterval = 10 });
        using var decoder = new H264Decoder();

        foreach (var (data, _) in units.Skip(10))
        {
            using VideoFrame? picture = decoder.DecodeToI420(data);
            Assert.NotNull(picture);
        }

        Assert.Equal(0, decoder.Errors);
        Assert.Equal(20, decoder.PicturesDecoded);
    }

    [Fact]
    public void A_frame_whose_reference_is_missing_is_reported_as_an_error()
    {
        // The negative control of the delivery tests: skipping a frame the next one needs must not go unnoticed.
        var units = EncodePattern(320, 240, 8, new H264Options { KeyframeInterval = 100 });
        using var decoder = new H264Decoder();

        for (int i = 0; i < units.Count; i++)
        {
            if (i == 3)
            {
                continue;
            }

            try
            {
                decoder.DecodeToI420(units[i].Data)?.Dispose();
            }
            catch (InvalidDataException)
            {
            }
        }

        Assert.True(decoder.Errors > 0, "skipping a reference frame was not reported");
    }

    [Fact]
    public void Garbage_is_an_error_never_a_crash()
    {
        using var decoder = new H264Decoder();
        var random = new Random(19);
        byte[] junk = new byte[4096];
        for (int i = 0; i < 200; i++)
        {
            random.NextBytes(junk);
            junk[0] = 0;
            junk[1] = 0;
            junk[2] = 0;
            junk[3] = 1;
            try
            {
                decoder.DecodeToI420(junk.AsSpan(0, random.Next(1, junk.Length)))?.Dispose();
            }
            catch (InvalidDataException)
            {
            }
        }

        // Still a working decoder afterwards.
        decoder.Reset();
        var units = EncodePattern(64, 48, 2);
        using VideoFrame? picture = decoder.DecodeToI420(units[0].Data);
        Assert.NotNull(picture);
    }

    [Fact]
    public void The_factory_makes_h264_encoders_and_decoders_and_an_odd_size_is_one_clear_error()
    {
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.H264);
        using IFrameDecoder decoder = CodecFactory.CreateDecoder(CodecId.H264);
        Assert.Equal(CodecId.H264, encoder.Codec);
        Assert.Equal(CodecId.H264, decoder.Codec);
        using VideoFrame odd = VideoFrame.Rent(33, 17);
        ArgumentException error = Assert.Throws<ArgumentException>(() => encoder.Encode(odd, new byte[encoder.MaxEncodedSize(33, 17)]));
        Assert.Contains("even picture size", error.Message);
    }
}
