using SocketCam.Media;

namespace SocketCam.Sources;

internal enum SourceKind
{
    Pattern,
    Camera,
    File,
    Screen,
    Image,
    Lavfi,
    Seed,
    Sync,
}

/// <summary>
/// A parsed `--source` value: `pattern`, `camera[:N|:/dev/videoN]`, `file:PATH`, `screen[:DISPLAY]`, `image:PATH`,
/// `lavfi:GRAPH`, `seed+tcp://HOST:PORT` (a seed tutorial server), `auto` (the first camera, else the pattern), or a bare
/// path to a video file or an image.
/// </summary>
internal sealed record SourceSpec(SourceKind Kind, string Argument)
{
    public const string Help =
        "pattern (built-in test pattern), sync (a flash each second, with --audio sync for lip-sync checks), camera / camera:N / camera:/dev/videoN (V4L2 webcam), file:PATH (any video ffmpeg reads), "
        + "screen / screen:DISPLAY (X11), image:PATH (a still JPEG/PNG/...), lavfi:GRAPH (ffmpeg filter source, e.g. lavfi:testsrc2=size=1280x720:rate=30), "
        + "seed+tcp://HOST:PORT (a seed tutorial's Python server: pickled frames, read safely)";

    public static SourceSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (PathSource(text) is { } byPath)
        {
            return byPath;
        }

        string[] parts = text.Split(':', 2);
        string kind = parts[0].Trim().ToLowerInvariant();
        string argument = parts.Length > 1 ? parts[1] : "";
        switch (kind)
        {
            case "pattern" or "testpattern":
                return new SourceSpec(SourceKind.Pattern, "");
            case "sync":
                return new SourceSpec(SourceKind.Sync, "");
            case "camera" or "webcam" or "v4l2":
                return new SourceSpec(SourceKind.Camera, CameraDevice(argument));
            case "screen" or "x11":
                return new SourceSpec(SourceKind.Screen, argument);
            case "file" or "image" or "lavfi" when argument.Length == 0:
                throw new ArgumentException($"--source {kind}: needs {(kind == "lavfi" ? "a filter graph, e.g. lavfi:testsrc2=size=1280x720:rate=30" : "a path, e.g. " + kind + ":/path/to/file")}.");
            case "file":
                return new SourceSpec(SourceKind.File, ExistingFile(argument, "file"));
            case "image":
                return new SourceSpec(SourceKind.Image, ExistingFile(argument, "image"));
            case "lavfi":
                return new SourceSpec(SourceKind.Lavfi, argument);
            case Seed.SeedClient.Scheme:
                // Parsed now so a bad address is reported before anything starts.
                return new SourceSpec(SourceKind.Seed, Transport.StreamEndpoint.Parse(text.Trim(), 1, null, null, [Seed.SeedClient.Scheme]).ToString());
            default:
                throw new ArgumentException($"Unknown source '{text}': use {Help}.");
        }
    }

    public override string ToString() => Kind switch
    {
        SourceKind.Pattern => "pattern",
        SourceKind.Sync => "sync",
        SourceKind.Screen when Argument.Length == 0 => "screen",
        SourceKind.Seed => Argument,
        _ => $"{Kind.ToString().ToLowerInvariant()}:{Argument}",
    };

    /// <summary>`camera` → /dev/video0, `camera:2` → /dev/video2, `camera:/dev/video1` as is.</summary>
    private static string CameraDevice(string argument)
    {
        if (argument.Length == 0)
        {
            return "/dev/video0";
        }

        if (int.TryParse(argument, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) && index < 256)
        {
            return $"/dev/video{index}";
        }

        if (argument.StartsWith("/dev/", StringComparison.Ordinal))
        {
            return argument;
        }

        throw new ArgumentException($"--source camera:{argument}: use camera, camera:N or camera:/dev/videoN.");
    }

    /// <summary>Still-image extensions: a path with one of these is an image: source, any other path a file: source.</summary>
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pnm", ".ppm"];

    /// <summary>
    /// A bare path needs no prefix (`--source clip.mp4`, `--source photo.png`, `--source /dev/video2`): an existing file
    /// is a file or image source by its extension, a /dev/video node a camera. A path-like value that names nothing is one
    /// line saying so, rather than "unknown source".
    /// </summary>
    private static SourceSpec? PathSource(string text)
    {
        string path = text.Trim();
        if (path.StartsWith("/dev/video", StringComparison.Ordinal))
        {
            return new SourceSpec(SourceKind.Camera, path);
        }

        bool looksLikePath = path.Contains('/', StringComparison.Ordinal) || Path.HasExtension(path);
        if (path.Contains("://", StringComparison.Ordinal) || !looksLikePath && !File.Exists(path))
        {
            return null;
        }

        if (File.Exists(path))
        {
            string full = Path.GetFullPath(path);
            return ImageExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase)
                ? new SourceSpec(SourceKind.Image, full)
                : new SourceSpec(SourceKind.File, full);
        }

        // "file:x.mp4", "image:a.png", "lavfi:testsrc2=size=640x360" have an extension-like dot too: only prefix-less
        // values that are not a known kind are treated as paths.
        string kind = path.Split(':', 2)[0].ToLowerInvariant();
        return kind is "file" or "image" or "lavfi" or "camera" or "webcam" or "v4l2" or "screen" or "x11" or "pattern" or "testpattern" or "sync"
            ? null
            : throw new ArgumentException($"--source {path}: no such file (a video file, an image, or one of: {Help}).");
    }

    private static string ExistingFile(string path, string kind)
    {
        string full = Path.GetFullPath(path);
        return File.Exists(full) ? full : throw new ArgumentException($"--source {kind}:{path}: no such file.");
    }
}

/// <summary>How a source should produce frames; only what the user asked for explicitly is forced on ffmpeg.</summary>
internal sealed record SourceOptions
{
    /// <summary>Frame size the user asked for; null keeps the source's own (the pattern uses 1280x720).</summary>
    public FrameSize? Size { get; init; }

    /// <summary>Frame rate the user asked for; null keeps the source's own (the pattern and stills use 30).</summary>
    public double? Fps { get; init; }

    /// <summary>False for --fps 0: read as fast as the consumer takes frames (files and lavfi graphs).</summary>
    public bool Paced => Fps is not 0;

    /// <summary>Play a file: source again from the start when it ends (`--loop`).</summary>
    public bool Loop { get; init; }

    /// <summary>Pass a camera's (or lavfi graph's) JPEGs through instead of decoding to raw and re-encoding; default on.</summary>
    public bool Passthrough { get; init; } = true;

    /// <summary>
    /// The codec frames will be sent in (`--codec`); default JPEG. With H.264 (and <see cref="Passthrough"/>), a file whose
    /// video is already H.264 without B-frames, or a camera offering H.264, is passed through without re-encoding.
    /// </summary>
    public Media.CodecId Codec { get; init; } = Media.CodecId.Jpeg;

    /// <summary>JPEG quality for JPEGs ffmpeg makes in pass-through mode (lavfi), 1-100; default 80.</summary>
    public int Quality { get; init; } = 80;

    /// <summary>Largest JPEG accepted from ffmpeg; default 16 MiB.</summary>
    public int MaxFrameBytes { get; init; } = FrameLimits.DefaultMaxFrameBytes;
}
