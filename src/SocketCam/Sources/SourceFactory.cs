using SocketCam.Media;

namespace SocketCam.Sources;

/// <summary>Turns a `--source` spec into a source. Today: `pattern` (the built-in test pattern).</summary>
internal static class SourceFactory
{
    public const string PatternSpec = "pattern";

    public static IFrameSource Create(string spec, FrameSize size, double fps)
    {
        string kind = spec.Split(':', 2)[0].ToLowerInvariant();
        return kind switch
        {
            PatternSpec or "testpattern" => new TestPatternSource(new TestPatternOptions { Width = size.Width, Height = size.Height, Fps = fps }),
            _ => throw new ArgumentException($"Unknown source '{spec}': this build supports --source pattern."),
        };
    }
}
