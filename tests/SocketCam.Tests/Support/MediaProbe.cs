using System.Globalization;
using SocketCam.Codecs;
using SocketCam.Ffmpeg;

namespace SocketCam.Tests.Support;

/// <summary>What ffprobe reports about a recording's first video stream.</summary>
internal sealed record ProbeResult(string Codec, int Frames, int Width, int Height);

/// <summary>Reads recordings back with the real ffprobe and ffmpeg, the way a user's player would.</summary>
internal static class MediaProbe
{
    /// <summary>ffprobe -count_frames: the codec and the number of frames it really decodes.</summary>
    public static async Task<ProbeResult> ProbeAsync(string path, string? format = null)
    {
        List<string> args = ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=codec_name,nb_read_frames,width,height", "-of", "csv=p=0"];
        if (format is not null)
        {
            args.AddRange(["-f", format]);
        }

        args.Add(path);
        (int code, string output, string errors) = await RunAsync(FfmpegTool.Ffprobe, args);
        Assert.True(code == 0, $"ffprobe {path} exited with {code}: {errors}");
        string[] fields = output.Trim().Split(',');
        Assert.True(fields.Length == 4, $"ffprobe {path} printed '{output.Trim()}' {errors}");
        return new ProbeResult(
            fields[0],
            int.Parse(fields[3], CultureInfo.InvariantCulture),
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            int.Parse(fields[2], CultureInfo.InvariantCulture));
    }

    /// <summary>The presentation times (seconds) of every video packet, in presentation order.</summary>
    public static async Task<List<double>> PacketTimesAsync(string path)
    {
        (int code, string output, string errors) = await RunAsync(FfmpegTool.Ffprobe,
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path]);
        Assert.True(code == 0, $"ffprobe {path} exited with {code}: {errors}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => double.Parse(l.TrimEnd(','), CultureInfo.InvariantCulture))
            .Order()];
    }

    /// <summary>Every stream of a file as ffprobe names it: (codec_type, codec_name, channels or 0, sample_rate or 0).</summary>
    public static async Task<List<(string Type, string Codec, int Channels, int SampleRate)>> StreamsAsync(string path)
    {
        (int code, string output, string errors) = await RunAsync(FfmpegTool.Ffprobe,
            ["-v", "error", "-show_entries", "stream=codec_type,codec_name,channels,sample_rate", "-of", "json", path]);
        Assert.True(code == 0, $"ffprobe {path} exited with {code}: {errors}");
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var streams = new List<(string, string, int, int)>();
        foreach (System.Text.Json.JsonElement s in json.RootElement.GetProperty("streams").EnumerateArray())
        {
            streams.Add((
                s.GetProperty("codec_type").GetString()!,
                s.GetProperty("codec_name").GetString()!,
                s.TryGetProperty("channels", out var c) ? c.GetInt32() : 0,
                s.TryGetProperty("sample_rate", out var r) ? int.Parse(r.GetString()!, CultureInfo.InvariantCulture) : 0));
        }

        return streams;
    }

    /// <summary>
    /// Where a stream's packets start and end (seconds on the file's clock): the first packet's time and the last one's
    /// time plus its duration (or the average interval). <paramref name="stream"/> is ffprobe's selector (v:0, a:0).
    /// </summary>
    public static async Task<(double Start, double End, int Packets)> StreamSpanAsync(string path, string stream)
    {
        (int code, string output, string errors) = await RunAsync(FfmpegTool.Ffprobe,
            ["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", path]);
        Assert.True(code == 0, $"ffprobe {path} exited with {code}: {errors}");
        var packets = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(',', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 0 && f[0] != "N/A")
            .Select(f => (Pts: double.Parse(f[0], CultureInfo.InvariantCulture), Duration: f.Length > 1 && f[1] != "N/A" ? double.Parse(f[1], CultureInfo.InvariantCulture) : 0))
            .OrderBy(p => p.Pts)
            .ToList();
        Assert.True(packets.Count > 0, $"{path} has no packets in stream {stream}");
        // A video packet copied into Matroska may carry no duration: the last frame lasts as long as the average one.
        double last = packets[^1].Duration > 0 || packets.Count < 2 ? packets[^1].Duration : (packets[^1].Pts - packets[0].Pts) / (packets.Count - 1);
        return (packets[0].Pts, packets[^1].Pts + last, packets.Count);
    }

    /// <summary>Decodes the first audio stream to 48 kHz mono 16-bit PCM with ffmpeg (what a player would play).</summary>
    public static async Task<short[]> DecodeAudioAsync(string path)
    {
        (int code, byte[] output, string errors) = await MediaTools.RunAsync(FfmpegTool.Ffmpeg,
            "-v", "error", "-i", path, "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "s16le", "-");
        Assert.True(code == 0, $"ffmpeg could not decode the audio of {path}: {errors}");
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, short>(output).ToArray();
    }

    /// <summary>Decodes the whole file with ffmpeg (-f null) and counts the frames it produced; returns its error output too.</summary>
    public static async Task<(int ExitCode, int Frames, string Errors)> DecodeMjpegAsync(string path)
    {
        (int code, string output, string errors) = await RunAsync(FfmpegTool.Ffmpeg, ["-v", "error", "-f", "mjpeg", "-i", path, "-f", "framemd5", "-"]);
        int frames = output.Split('\n').Count(l => l.Length > 0 && !l.StartsWith('#'));
        return (code, frames, errors.Trim());
    }

    /// <summary>Splits a concatenated-JPEG file the way a player would: whole JPEGs, then whatever is left at the end.</summary>
    public static (List<int> Lengths, int TrailingBytes) SplitJpegs(byte[] file)
    {
        var lengths = new List<int>();
        int offset = 0;
        while (offset < file.Length)
        {
            JpegScanStatus status = JpegStructure.Scan(file.AsSpan(offset), out int length, out _, out _, out string? error);
            if (status != JpegScanStatus.Complete)
            {
                Assert.True(status == JpegScanStatus.Incomplete, $"invalid JPEG data at byte {offset}: {error}");
                break;
            }

            lengths.Add(length);
            offset += length;
        }

        return (lengths, file.Length - offset);
    }

    private static async Task<(int Code, string Output, string Errors)> RunAsync(string tool, List<string> args)
    {
        (int code, byte[] output, string errors) = await MediaTools.RunAsync(tool, [.. args]);
        return (code, System.Text.Encoding.UTF8.GetString(output), errors.Trim());
    }
}
