using System.Globalization;
using System.Text.RegularExpressions;
using SocketCam.Ffmpeg;

namespace SocketCam.Sources;

/// <summary>One pixel format a camera offers, with its sizes (as ffmpeg's v4l2 -list_formats prints them).</summary>
internal sealed record CameraFormat(bool Compressed, string Name, string Description, IReadOnlyList<string> Sizes);

/// <summary>V4L2 cameras: /dev/video* and, through ffmpeg, their formats and sizes.</summary>
internal static partial class CameraDevices
{
    /// <summary>Video devices in numeric order (/dev/video0, /dev/video1, ...).</summary>
    public static IReadOnlyList<string> List(string directory = "/dev")
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        return Directory.EnumerateFileSystemEntries(directory, "video*")
            .Select(path => (path, number: int.TryParse(Path.GetFileName(path).AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1))
            .Where(d => d.number >= 0)
            .OrderBy(d => d.number)
            .Select(d => d.path)
            .ToList();
    }

    /// <summary>Asks ffmpeg for the formats of <paramref name="device"/>; empty when it reports none (not a capture device).</summary>
    public static async Task<IReadOnlyList<CameraFormat>> ListFormatsAsync(string device, CancellationToken cancellationToken)
    {
        // ffmpeg prints the list at info level and then fails ("Immediate exit requested"): both are expected.
        await using FfmpegProcess ffmpeg = FfmpegProcess.Start(["-loglevel", "info", "-f", "v4l2", "-list_formats", "all", "-i", device]);
        await ffmpeg.WaitForExitAsync(cancellationToken);
        return ParseFormats(ffmpeg.RecentErrorLines);
    }

    /// <summary>
    /// Parses lines such as <c>[video4linux2,v4l2 @ 0x55] Compressed:       mjpeg :          Motion-JPEG : 640x480 1280x720</c>.
    /// </summary>
    public static IReadOnlyList<CameraFormat> ParseFormats(IEnumerable<string> lines)
    {
        var formats = new List<CameraFormat>();
        foreach (string line in lines)
        {
            Match m = FormatLine().Match(line);
            if (m.Success)
            {
                string[] sizes = m.Groups["sizes"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                formats.Add(new CameraFormat(m.Groups["kind"].Value == "Compressed", m.Groups["name"].Value.Trim(), m.Groups["desc"].Value.Trim(), sizes));
            }
        }

        return formats;
    }

    // The description may itself contain colons ("YUYV 4:2:2"); the sizes are the digits after the last " : ".
    [GeneratedRegex(@"(?<kind>Raw|Compressed)\s*:\s*(?<name>\S+)\s*:\s*(?<desc>.*?)\s*:(?<sizes>[\d\sx{},-]*)$")]
    private static partial Regex FormatLine();
}
