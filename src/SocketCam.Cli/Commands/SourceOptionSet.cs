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
    /// <param name="many">--source may be given several times (publish: one track per source).</param>
    public SourceOptionSet(string defaultSpec = SourceFactory.PatternSpec, double defaultFps = 30, bool many = false)
    {
        Source = CommonOptions.Source(defaultSpec);
        Sources = many ? CommonOptions.Sources(defaultSpec) : null;
        Fps = CommonOptions.Fps(defaultFps);
    }

    public Option<string> Source { get; }

    /// <summary>The repeatable --source (null unless <c>many</c>).</summary>
    public Option<string[]>? Sources { get; }

    /// <summary>The --source option to add to the command: the repeatable one when there is one.</summary>
    public Option SourceOption => (Option?)Sources ?? Source;

    /// <summary>Every --source given, in order (one for commands that take one).</summary>
    public IReadOnlyList<string> Specs(ParseResult r) => Sources is null ? [r.GetValue(Source)!] : r.GetValue(Sources)!;

    public Option<bool> Loop { get; } = CommonOptions.Loop();

    public Option<bool> NoPassthrough { get; } = CommonOptions.NoPassthrough();

    public Option<FrameSize> Size { get; } = CommonOptions.Size();

    public Option<double> Fps { get; }

    public Option<int> Quality { get; } = CommonOptions.Quality();

    /// <summary>
    /// Opens --source with what the user gave explicitly (--size/--fps left at their defaults keep a file's or camera's
    /// own size and rate). Returns the source and, for `auto`, a note saying which source was picked.
    /// </summary>
    public Task<(IFrameSource Source, string? Note)> OpenAsync(ParseResult r, int maxFrameBytes, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        OpenSpecAsync(Specs(r)[0], r, maxFrameBytes, loggers, cancellationToken);

    /// <summary>Opens one source spec with the shaping options the user gave (shared by all sources of one command).</summary>
    public async Task<(IFrameSource Source, string? Note)> OpenSpecAsync(string text, ParseResult r, int maxFrameBytes, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        (SourceSpec spec, string? note) = SourceFactory.Resolve(text);
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

    /// <summary>What a track from this spec is (§4.4 source), for `publish` with several sources.</summary>
    public static Protocol.TrackSource TrackSourceOf(string text) => SourceFactory.Resolve(text).Spec.Kind switch
    {
        SourceKind.Camera => Protocol.TrackSource.Camera,
        SourceKind.Screen => Protocol.TrackSource.Screen,
        SourceKind.File => Protocol.TrackSource.File,
        SourceKind.Pattern or SourceKind.Sync or SourceKind.Image or SourceKind.Lavfi => Protocol.TrackSource.Synthetic,
        _ => Protocol.TrackSource.Unknown,
    };
}
