using SocketCam.Diagnostics;
using SocketCam.Ffmpeg;

namespace SocketCam.Recording;

/// <summary>What a recording file holds.</summary>
public enum RecordingFormat
{
    /// <summary>Concatenated JPEGs (.mjpeg): append-only, written by SocketCam itself, survives being killed at any moment.</summary>
    Mjpeg,

    /// <summary>Matroska (.mkv): the same JPEGs with their capture timestamps, muxed by ffmpeg (stream copy, no re-encoding).</summary>
    Matroska,

    /// <summary>MP4 (.mp4): H.264 encoded by ffmpeg's libx264, with the frames' capture timestamps.</summary>
    Mp4,
}

/// <summary>Names, file extensions and ffmpeg needs of the recording formats.</summary>
internal static class RecordingFormats
{
    /// <summary>The format a file name asks for by its extension (.mjpeg/.mjpg, .mkv, .mp4); anything else is an <see cref="ArgumentException"/>.</summary>
    public static RecordingFormat FromPath(string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".mjpeg" or ".mjpg" => RecordingFormat.Mjpeg,
            ".mkv" => RecordingFormat.Matroska,
            ".mp4" => RecordingFormat.Mp4,
            _ => throw new ArgumentException($"--record '{path}': the file name must end in .mjpeg (or .mjpg), .mkv or .mp4."),
        };
    }

    /// <summary>Parses mjpeg, mkv or mp4 (as given to --record-format).</summary>
    public static bool TryParse(string text, out RecordingFormat format)
    {
        switch (text.ToLowerInvariant())
        {
            case "mjpeg" or "mjpg":
                format = RecordingFormat.Mjpeg;
                return true;
            case "mkv" or "matroska":
                format = RecordingFormat.Matroska;
                return true;
            case "mp4":
                format = RecordingFormat.Mp4;
                return true;
            default:
                format = default;
                return false;
        }
    }

    public static string Name(RecordingFormat format) => format switch
    {
        RecordingFormat.Mjpeg => "mjpeg",
        RecordingFormat.Matroska => "mkv",
        RecordingFormat.Mp4 => "mp4",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>The file extension, with its dot.</summary>
    public static string Extension(RecordingFormat format) => "." + Name(format);

    /// <summary>Whether writing the format needs the ffmpeg program.</summary>
    public static bool NeedsFfmpeg(RecordingFormat format) => format != RecordingFormat.Mjpeg;

    /// <summary>Fails with a one-line <see cref="NativeDependencyException"/> when the format needs ffmpeg and it is missing.</summary>
    public static void EnsureTools(RecordingFormat format)
    {
        if (NeedsFfmpeg(format) && !FfmpegTool.IsAvailable())
        {
            throw new NativeDependencyException(
                $"ffmpeg was not found: .{Name(format)} recordings need it: install it (sudo apt-get install ffmpeg), or record to .mjpeg.");
        }
    }
}
