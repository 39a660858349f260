using SocketCam.Media;

namespace SocketCam.Tests.Media;

public sealed class YuvRangeTests
{
    [Fact]
    public void Video_range_ends_map_to_full_range_ends()
    {
        byte[] luma = [0, 16, 126, 235, 255];
        YuvRange.ExpandLuma(luma);
        Assert.Equal([0, 0, 128, 255, 255], luma);

        byte[] chroma = [16, 128, 240];
        YuvRange.ExpandChroma(chroma);
        Assert.Equal([0, 128, 255], chroma);
    }

    [Fact]
    public void The_vector_path_agrees_with_the_scalar_table_for_every_value()
    {
        // 256 values repeated past a vector width (SIMD) plus a tail of 7 (table), each compared with the table result.
        byte[] values = [.. Enumerable.Range(0, 256 * 3 + 7).Select(i => (byte)i)];
        byte[] luma = values.ToArray();
        byte[] chroma = values.ToArray();
        YuvRange.ExpandLuma(luma);
        YuvRange.ExpandChroma(chroma);
        for (int i = 0; i < values.Length; i++)
        {
            byte[] one = [values[i]];
            YuvRange.ExpandLuma(one);
            Assert.Equal(one[0], luma[i]);
            one[0] = values[i];
            YuvRange.ExpandChroma(one);
            Assert.Equal(one[0], chroma[i]);
        }

        Assert.Equal(Math.Round((200 - 16) * 255 / 219.0), luma[200], 0);
    }
}
