using System.CommandLine;
using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
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

    /// <summary>The command's --codec, when it has one: a source that already delivers that codec is passed through.</summary>
    public Option<CodecId>? Codec { get; set; }

    /// <summary>--bitrate, for --codec h264.</summary>
    public Option<int> Bitrate { get; } = CommonOptions.Range(
        new Option<int>("--bitrate")
        {
            HelpName = "KBPS",
            Description = "H.264 bitrate in kbit/s (default 0: from size and rate, about 1900 at 720p30)",
        },
        0,
        100_000);

    /// <summary>--keyint, for --codec h264.</summary>
    public Option<int> KeyframeInterval { get; } = CommonOptions.Range(
        new Option<int>("--keyint")
        {
            HelpName = "FRAMES",
            Description = "H.264 frames between keyframes (default 0: two seconds; joining or lagging viewers ask for one sooner)",
        },
        0,
        100_000);

    /// <summary>--intra-refresh, for --codec h264.</summary>
    public Option<bool> IntraRefresh { get; } = new("--intra-refresh")
    {
        Description = "H.264: refresh the picture a column at a time instead of whole keyframes (no big frames)",
    };

    /// <summary>The encoder options a command adds beside --codec and --quality.</summary>
    public void AddEncoderOptionsTo(Command command)
    {
        command.Options.Add(Bitrate);
        command.Options.Add(KeyframeInterval);
        command.Options.Add(IntraRefresh);
    }

    /// <summary>The encoder --codec asks for, with --quality/--subsampling (JPEG) or --bitrate/--keyint/--intra-refresh (H.264).</summary>
    public IFrameEncoder CreateEncoder(ParseResult r, Option<CodecId> codec, Option<string> subsampling)
    {
        double fps = r.GetValue(Fps);
        return CodecFactory.CreateEncoder(
            r.GetValue(codec),
            CommonOptions.Jpeg(r.GetValue(Quality), r.GetValue(subsampling)!),
            new H264Options { BitrateKbps = r.GetValue(Bitrate), KeyframeInterval = r.GetValue(KeyframeInterval), IntraRefresh = r.GetValue(IntraRefresh) },
            fps > 0 ? fps : 30);
    }

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
            Codec = Codec is null ? CodecId.Jpeg : r.GetValue(Codec),
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
