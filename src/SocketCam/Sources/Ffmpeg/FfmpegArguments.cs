using System.Globalization;

namespace SocketCam.Sources.Ffmpeg;

/// <summary>What ffmpeg writes to its standard output for us.</summary>
internal enum FfmpegOutput
{
    /// <summary>Concatenated JPEGs (`-f mjpeg`): a camera's own JPEGs copied through, or JPEGs ffmpeg made (lavfi).</summary>
    Mjpeg,

    /// <summary>
    /// An H.264 Annex B stream (`-f h264`): a file's or camera's own H.264 copied through (`-c:v copy`), SPS and PPS put
    /// before each IDR by the muxer's own h264_mp4toannexb.
    /// </summary>
    H264,

    /// <summary>YUV4MPEG2 4:2:0 (`-f yuv4mpegpipe`): decoded pictures with a header giving size, rate and range.</summary>
    Y4m,
}

/// <summary>Builds ffmpeg command lines for each kind of source (REFERENCE: "ffmpeg as a capture process").</summary>
internal static class FfmpegArguments
{
    public static List<string> Build(SourceSpec spec, SourceOptions options, FfmpegOutput output)
    {
        var args = new List<string> { "-loglevel", "error" };
        AddInput(args, spec, options, output);
        args.AddRange(["-map", "0:v:0", "-an", "-sn", "-dn"]);
        if (output == FfmpegOutput.H264)
        {
            // As it is: no filter (a copy cannot be scaled or resampled). The raw h264 muxer inserts h264_mp4toannexb
            // itself (Annex B, SPS and PPS before each IDR); naming it with -bsf:v breaks -stream_loop in ffmpeg 5.1
            // ("A non-NULL packet sent after an EOF" at the first loop, then nothing).
            args.AddRange(["-c:v", "copy", "-f", "h264", "pipe:1"]);
            return args;
        }

        List<string> filters = Filters(spec, options, output);
        if (filters.Count > 0)
        {
            args.AddRange(["-vf", string.Join(',', filters)]);
        }

        if (output == FfmpegOutput.Mjpeg)
        {
            if (spec.Kind == SourceKind.Camera)
            {
                // The camera's JPEGs as they are; mjpeg2jpeg adds the Huffman tables many cameras leave out.
                args.AddRange(["-c:v", "copy", "-bsf:v", "mjpeg2jpeg"]);
            }
            else
            {
                args.AddRange(["-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", Qscale(options.Quality)]);
            }

            args.AddRange(["-f", "mjpeg", "pipe:1"]);
        }
        else
        {
            args.AddRange(["-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "pipe:1"]);
        }

        return args;
    }

    private static void AddInput(List<string> args, SourceSpec spec, SourceOptions options, FfmpegOutput output)
    {
        switch (spec.Kind)
        {
            case SourceKind.Camera:
                args.AddRange(["-fflags", "nobuffer", "-flags", "low_delay", "-f", "v4l2"]);
                if (output is FfmpegOutput.Mjpeg or FfmpegOutput.H264)
                {
                    args.AddRange(["-input_format", output == FfmpegOutput.H264 ? "h264" : "mjpeg"]);
                }

                if (options.Size is { } size)
                {
                    args.AddRange(["-video_size", size.ToString()]);
                }

                if (options.Fps is > 0 and { } fps)
                {
                    args.AddRange(["-framerate", Number(fps)]);
                }

                args.AddRange(["-i", spec.Argument]);
                break;
            case SourceKind.Lavfi:
                if (options.Paced)
                {
                    args.Add("-re");
                }

                args.AddRange(["-fflags", "nobuffer", "-probesize", "32", "-analyzeduration", "0", "-f", "lavfi", "-i", spec.Argument]);
                break;
            case SourceKind.File:
                // No -re: FfmpegSource paces files itself, so a paused room does not make ffmpeg burst to catch up.
                if (options.Loop)
                {
                    args.AddRange(["-stream_loop", "-1"]);
                }

                args.AddRange(["-i", spec.Argument]);
                break;
            case SourceKind.Screen:
                string display = spec.Argument.Length > 0 ? spec.Argument : Environment.GetEnvironmentVariable("DISPLAY") ?? ":0";
                args.AddRange(["-fflags", "nobuffer", "-f", "x11grab", "-framerate", Number(options.Fps is > 0 and { } f ? f : 30), "-i", display]);
                break;
            default:
                throw new ArgumentException($"{spec} is not an ffmpeg source.", nameof(spec));
        }
    }

    private static List<string> Filters(SourceSpec spec, SourceOptions options, FfmpegOutput output)
    {
        var filters = new List<string>();
        if (spec.Kind != SourceKind.Camera && options.Size is { } size)
        {
            // 4:2:0 needs even sizes.
            filters.Add(string.Create(CultureInfo.InvariantCulture, $"scale={size.Width & ~1}:{size.Height & ~1}"));
        }
        else if (output == FfmpegOutput.Y4m || spec.Kind != SourceKind.Camera)
        {
            filters.Add("scale=trunc(iw/2)*2:trunc(ih/2)*2");
        }

        if (spec.Kind is SourceKind.File or SourceKind.Lavfi && options.Fps is > 0 and { } fps)
        {
            filters.Add("fps=" + Number(fps));
        }

        return filters;
    }

    /// <summary>Our 1-100 quality as ffmpeg's MJPEG qscale (2 best .. 31 worst).</summary>
    private static string Qscale(int quality) => Math.Clamp(2 + ((100 - quality) / 8), 2, 31).ToString(CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
