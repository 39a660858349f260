using SocketCam.Codecs.H264;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Codecs.H264;

/// <summary>The NAL walker, Inspect and the access-unit splitter on real libx264 output and on hostile bytes.</summary>
public sealed class AnnexBTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-h264-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_splitter_finds_every_frame_ffprobe_counts_with_keyframes_at_the_gop()
    {
        byte[] stream = await H264Media.EncodeAsync(_directory, 320, 240, 45, gop: 15);
        int expected = await MediaTools.CountFramesAsync(Path.Combine(_directory, "out.264"));
        Assert.Equal(45, expected);

        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(stream);

        Assert.Equal(expected, units.Count);
        Assert.Equal([0, 15, 30], units.Select((u, i) => (u, i)).Where(x => x.u.Info.IsIdr).Select(x => x.i));
        Assert.All(units.Where(u => u.Info.IsIdr), u => Assert.Equal((true, 320, 240), (u.Info.HasParameterSets, u.Info.Width, u.Info.Height)));
        Assert.All(units.Where(u => !u.Info.IsIdr), u => Assert.Equal(0, u.Info.Width));
        // Nothing lost or added: the units are the stream, back to back.
        Assert.Equal(stream, units.SelectMany(u => u.Unit).ToArray());
    }

    [Fact]
    public async Task Frame_cropping_gives_the_real_size()
    {
        // 180 is not a multiple of 16: the SPS codes 192 lines and crops 12.
        byte[] stream = await H264Media.EncodeAsync(_directory, 320, 180, 2);
        H264AccessUnitInfo first = (await H264Media.SplitAsync(stream))[0].Info;
        Assert.Equal((320, 180), (first.Width, first.Height));
    }

    [Fact]
    public async Task A_high_profile_4_4_4_sps_is_read_through_its_chroma_fields()
    {
        string path = Path.Combine(_directory, "hi444.264");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=200x100:rate=30", "-frames:v", "1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", "-f", "h264", path);
        H264AccessUnitInfo info = AnnexB.Inspect(await File.ReadAllBytesAsync(path));
        Assert.Equal((true, 200, 100), (info.IsIdr, info.Width, info.Height));
    }

    [Fact]
    public void The_walker_handles_3_and_4_byte_start_codes_and_trailing_zeros()
    {
        byte[] unit = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x41, 0x9A, 0x00, 0x00, 0, 0, 0, 1, 0x06, 0x05];
        var nals = new List<NalUnit>();
        foreach (NalUnit nal in AnnexB.NalUnits(unit))
        {
            nals.Add(nal);
        }

        Assert.Equal([new NalUnit(4, 2, 9), new NalUnit(9, 2, 1), new NalUnit(17, 2, 6)], nals);
        Assert.Equal(3, AnnexB.Inspect(unit).NalCount);
        Span<byte> prefixed = stackalloc byte[AnnexB.LengthPrefixedSize(unit)];
        AnnexB.WriteLengthPrefixed(unit, prefixed);
        Assert.Equal([0, 0, 0, 2, 0x09, 0xF0, 0, 0, 0, 2, 0x41, 0x9A, 0, 0, 0, 2, 0x06, 0x05], prefixed.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0x41, 0, 0, 1, 0x41, 0x80 }, "start code")]
    [InlineData(new byte[] { 0, 0, 1, 0xC1, 0x80 }, "forbidden_zero_bit")]
    [InlineData(new byte[] { 0, 0, 1, 0, 0, 1, 0x41, 0x80 }, "empty")]
    [InlineData(new byte[] { 0, 0, 1, 0x09, 0xF0 }, "no slice")]
    [InlineData(new byte[] { 0, 0, 1, 0x65, 0x88 }, "without an SPS")]
    public void Unacceptable_units_are_refused_with_a_reason(byte[] unit, string reason)
    {
        var ex = Assert.Throws<InvalidDataException>(() => AnnexB.Inspect(unit));
        Assert.Contains(reason, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void More_than_256_nal_units_are_refused()
    {
        byte[] unit = [.. Enumerable.Range(0, 257).SelectMany(_ => new byte[] { 0, 0, 1, 0x41, 0x80 })];
        Assert.Contains("256", Assert.Throws<InvalidDataException>(() => AnnexB.Inspect(unit)).Message);
    }

    [Fact]
    public async Task Hostile_bytes_only_ever_give_InvalidDataException()
    {
        byte[] stream = await H264Media.EncodeAsync(_directory, 320, 180, 3);
        List<(byte[] Unit, H264AccessUnitInfo Info)> units = await H264Media.SplitAsync(stream);
        byte[] idr = units[0].Unit;
        var random = new Random(19);
        int refused = 0;
        for (int round = 0; round < 4000; round++)
        {
            byte[] input = (round % 4) switch
            {
                // Random bytes behind a start code.
                0 => [0, 0, 1, .. RandomBytes(random, random.Next(0, 300))],
                // Truncated anywhere.
                1 => idr[..random.Next(0, idr.Length)],
                // A real unit with bytes flipped (a lying SPS, lengths, types).
                2 => Mutate(idr, random, 1 + random.Next(8), limit: 40),
                // A random SPS then a PPS and an IDR.
                _ => [0, 0, 1, 0x67, .. RandomBytes(random, random.Next(0, 40)), 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x65, 0x88],
            };
            try
            {
                H264AccessUnitInfo info = AnnexB.Inspect(input);
                Assert.InRange(info.Width, 0, AnnexB.MaxDimension);
                Assert.InRange(info.Height, 0, AnnexB.MaxDimension);
            }
            catch (InvalidDataException ex)
            {
                Assert.DoesNotContain('\n', ex.Message);
                refused++;
            }
        }

        Assert.True(refused > 1000, $"only {refused} refused");

        // The splitter over garbage and damaged streams: no exception, bounded, and it resynchronises.
        byte[] damaged = [.. RandomBytes(random, 5000), .. stream, .. RandomBytes(random, 3000), .. stream];
        List<(byte[] Unit, H264AccessUnitInfo Info)> found = await H264Media.SplitAsync(damaged);
        Assert.True(found.Count(u => u.Info.IsIdr) >= 1, "no keyframe found after the garbage");
        for (int round = 0; round < 50; round++)
        {
            await H264Media.SplitAsync(Mutate(stream, random, 50, limit: stream.Length));
        }
    }

    [Fact]
    public async Task A_unit_over_the_cap_is_dropped_and_the_buffer_stays_bounded()
    {
        byte[] stream = await H264Media.EncodeAsync(_directory, 320, 240, 10, gop: 5);
        List<(byte[] Unit, H264AccessUnitInfo Info)> all = await H264Media.SplitAsync(stream);
        int cap = Math.Max(64, all.Where(u => !u.Info.IsIdr).Max(u => u.Unit.Length));
        Assert.True(all[0].Unit.Length > cap);

        var splitter = new AnnexBAccessUnitSplitter(new MemoryStream([.. stream, 0, 0, 1, 0x41, 0x80, .. new byte[200_000].Select((_, i) => (byte)(i % 7 == 0 ? 0 : 0x41))]), cap);
        int kept = 0;
        while (!(await splitter.ReadAccessUnitAsync(CancellationToken.None)).AccessUnit.IsEmpty)
        {
            kept++;
        }

        Assert.Equal(all.Count(u => u.Unit.Length <= cap), kept);
        // The keyframes over the cap and the 200 KB slice at the end.
        Assert.Equal(all.Count(u => u.Unit.Length > cap) + 1, splitter.DroppedUnits);
        Assert.True(splitter.BufferCapacity <= 4 * (cap + 64 * 1024), $"buffer {splitter.BufferCapacity}");
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        byte[] bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(byte[] source, Random random, int flips, int limit)
    {
        byte[] copy = [.. source];
        for (int i = 0; i < flips; i++)
        {
            copy[random.Next(Math.Min(limit, copy.Length))] = (byte)random.Next(256);
        }

        return copy;
    }
}
