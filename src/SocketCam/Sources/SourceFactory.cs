using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Sources.Ffmpeg;

namespace SocketCam.Sources;

/// <summary>Turns a `--source` spec into an open source (see <see cref="SourceSpec"/>).</summary>
internal static class SourceFactory
{
    public const string PatternSpec = "pattern";

    /// <summary>The `--source` default of `serve`: the first camera when there is one, else the test pattern.</summary>
    public const string AutoSpec = "auto";

    /// <summary>Resolves `auto` to a concrete spec and says why.</summary>
    public static (SourceSpec Spec, string? Note) Resolve(string text)
    {
        if (!string.Equals(text, AutoSpec, StringComparison.OrdinalIgnoreCase))
        {
            return (SourceSpec.Parse(text), null);
        }

        string? camera = CameraDevices.List().FirstOrDefault();
        return camera is null
            ? (new SourceSpec(SourceKind.Pattern, ""), "no camera found (/dev/video*): using the built-in test pattern; pick one with --source")
            : (new SourceSpec(SourceKind.Camera, camera), $"using the first camera, {camera}; pick another with --source");
    }

    /// <summary>
    /// Opens the source; ffmpeg sources start ffmpeg and wait for the first frame, so a missing ffmpeg, camera, file or
    /// display is reported here as one line.
    /// </summary>
    public static async Task<IFrameSource> OpenAsync(SourceSpec spec, SourceOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        ILogger logger = loggers.CreateLogger("SocketCam.Source");
        switch (spec.Kind)
        {
            case SourceKind.Pattern:
                FrameSize size = options.Size ?? new FrameSize(1280, 720);
                return new TestPatternSource(new TestPatternOptions { Width = size.Width, Height = size.Height, Fps = options.Fps ?? 30 });
            case SourceKind.Sync:
                FrameSize syncSize = options.Size ?? new FrameSize(640, 360);
                return new SyncTestSource(syncSize.Width, syncSize.Height, options.Fps ?? 30);
            case SourceKind.Image:
                return await ImageSource.OpenAsync(spec.Argument, options, logger, cancellationToken);
            case SourceKind.Seed:
                return await SeedTcpSource.OpenAsync(Transport.StreamEndpoint.Parse(spec.Argument, 1, null, null, [Seed.SeedClient.Scheme]), options.MaxFrameBytes, logger, cancellationToken);
            default:
                var source = new FfmpegSource(spec, options, logger);
                try
                {
                    await source.OpenAsync(cancellationToken);
                    return source;
                }
                catch
                {
                    await source.DisposeAsync();
                    throw;
                }
        }
    }
}
