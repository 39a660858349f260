using System.CommandLine;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Cli.Commands;

/// <summary>
/// The options that choose and shape a source (--source, --loop, --no-passthrough, --size, --fps, --quality), shared by
/// serve, publish and bench, and the one place that turns them into an open source.
/// </summary>
internal sealed class SourceOptionSet
{
    public SourceOptionSet(string defaultSpec = SourceFactory.PatternSpec, double defaultFps = 30)
    {
        Source = CommonOptions.Source(defaultSpec);
        Fps = CommonOptions.Fps(defaultFps);
    }

    public Option<string> Source { get; }

    public Option<bool> Loop { get; } = CommonOptions.Loop();

    public Option<bool> NoPassthrough { get; } = CommonOptions.NoPassthrough();

    public Option<FrameSize> Size { get; } = CommonOptions.Size();

    public Option<double> Fps { get; }

    public Option<int> Quality { get; } = CommonOptions.Quality();

    /// <summary>
    /// Opens --source with what the user gave explicitly (--size/--fps left at their defaults keep a file's or camera's
    /// own size and rate). Returns the source and, for `auto`, a note saying which source was picked.
    /// </summary>
    public async Task<(IFrameSource Source, string? Note)> OpenAsync(ParseResult r, int maxFrameBytes, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        (SourceSpec spec, string? note) = SourceFactory.Resolve(r.GetValue(Source)!);
        bool explicitSize = r.GetResult(Size) is { Implicit: false };
        bool explicitFps = r.GetResult(Fps) is { Implicit: false };
        var options = new SourceOptions
        {
            Size = explicitSize || spec.Kind == SourceKind.Pattern ? r.GetValue(Size) : null,
            Fps = explicitFps || spec.Kind is SourceKind.Pattern ? r.GetValue(Fps) : null,
            Loop = r.GetValue(Loop),
            Passthrough = !r.GetValue(NoPassthrough),
            Quality = r.GetValue(Quality),
            MaxFrameBytes = maxFrameBytes,
        };
        if (options.Loop && spec.Kind != SourceKind.File)
        {
            throw new ArgumentException("--loop applies to file: sources only.");
        }

        return (await SourceFactory.OpenAsync(spec, options, loggers, cancellationToken), note);
    }
}
