using System.Globalization;
using SocketCam.Ffmpeg;

namespace SocketCam.Sources.Ffmpeg;

/// <summary>What ffprobe says about a file's first video stream: enough to tell whether it can be passed through.</summary>
internal sealed record VideoStreamInfo(string Codec, int HasBFrames, string PixelFormat, double Fps)
{
    /// <summary>
    /// Why the stream cannot be sent as it is for <c>--codec h264</c>, or null when it can: H.264, no B-frames (the live
    /// path sends frames in display order, which is decode order only without them), 8-bit 4:2:0.
    /// </summary>
    public string? H264PassthroughRefusal() =>
        Codec != "h264" ? $"its video is {Codec}, not H.264"
        : HasBFrames > 0 ? "it has B-frames (decode order is not display order)"
        : PixelFormat is not ("yuv420p" or "yuvj420p") ? $"its pictures are {PixelFormat}, not 8-bit 4:2:0"
        : null;
}

/// <summary>Runs ffprobe on a file (once, when a file source opens).</summary>
internal static class VideoProbe
{
    /// <summary>The first video stream's codec, B-frames, pixel format and rate; null without ffprobe or a video stream.</summary>
    public static async Task<VideoStreamInfo?> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        if (!FfmpegTool.IsAvailable(FfmpegTool.Ffprobe))
        {
            return null;
        }

        await using FfmpegProcess probe = FfmpegProcess.Start(
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,has_b_frames,pix_fmt,avg_frame_rate,r_frame_rate",
                "-of", "default=noprint_wrappers=1", "file:" + path],
            tool: FfmpegTool.Ffprobe);
        string output = await new StreamReader(probe.Output).ReadToEndAsync(cancellationToken);
        if (await probe.WaitForExitAsync(cancellationToken) != 0)
        {
            return null;
        }

        return Parse(output);
    }

    /// <summary>Reads ffprobe's key=value lines; null when there is no codec name (no video stream).</summary>
    internal static VideoStreamInfo? Parse(string output)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                fields[line[..equals]] = line[(equals + 1)..];
            }
        }

        if (!fields.TryGetValue("codec_name", out string? codec) || codec.Length == 0)
        {
            return null;
        }

        int bFrames = int.TryParse(fields.GetValueOrDefault("has_b_frames"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int b) ? b : 0;
        double fps = Rate(fields.GetValueOrDefault("avg_frame_rate"));
        if (fps <= 0)
        {
            fps = Rate(fields.GetValueOrDefault("r_frame_rate"));
        }

        return new VideoStreamInfo(codec, bFrames, fields.GetValueOrDefault("pix_fmt") ?? "", fps);
    }

    /// <summary>"30000/1001" → 29.97; 0 for "0/0", nonsense or an implausible rate.</summary>
    private static double Rate(string? text)
    {
        string[] parts = (text ?? "").Split('/');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double numerator)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double denominator)
            && denominator > 0)
        {
            double rate = numerator / denominator;
            return rate is > 0 and <= 1000 ? rate : 0;
        }

        return 0;
    }
}
