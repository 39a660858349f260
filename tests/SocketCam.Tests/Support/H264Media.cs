using SocketCam.Codecs.H264;

namespace SocketCam.Tests.Support;

/// <summary>Real H.264 made by the real ffmpeg (libx264, no B-frames), and split by our splitter.</summary>
internal static class H264Media
{
    /// <summary>An Annex B stream of <paramref name="frames"/> testsrc2 pictures, a keyframe every <paramref name="gop"/>.</summary>
    public static async Task<byte[]> EncodeAsync(string directory, int width, int height, int frames, int gop = 30, string name = "out.264")
    {
        string path = Path.Combine(directory, name);
        await MediaTools.FfmpegAsync(
            "-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate=30", "-frames:v", frames.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", gop.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264", path);
        return await File.ReadAllBytesAsync(path);
    }

    /// <summary>The access units of a stream, copied out, with what Inspect found.</summary>
    public static async Task<List<(byte[] Unit, H264AccessUnitInfo Info)>> SplitAsync(byte[] stream, int maxUnitBytes = 4 * 1024 * 1024)
    {
        var splitter = new AnnexBAccessUnitSplitter(new MemoryStream(stream), maxUnitBytes);
        var units = new List<(byte[], H264AccessUnitInfo)>();
        while (true)
        {
            (ReadOnlyMemory<byte> unit, H264AccessUnitInfo info) = await splitter.ReadAccessUnitAsync(CancellationToken.None);
            if (unit.IsEmpty)
            {
                return units;
            }

            units.Add((unit.ToArray(), info));
        }
    }
}
