using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace SocketCam.Media;

/// <summary>A picture size, parsed from "1280x720" or a common name ("720p", "1080p", "vga").</summary>
public readonly record struct FrameSize(int Width, int Height)
{
    private static readonly (string Name, FrameSize Size)[] Aliases =
    [
        ("qvga", new FrameSize(320, 240)),
        ("vga", new FrameSize(640, 480)),
        ("svga", new FrameSize(800, 600)),
        ("360p", new FrameSize(640, 360)),
        ("480p", new FrameSize(854, 480)),
        ("540p", new FrameSize(960, 540)),
        ("720p", new FrameSize(1280, 720)),
        ("hd", new FrameSize(1280, 720)),
        ("1080p", new FrameSize(1920, 1080)),
        ("fhd", new FrameSize(1920, 1080)),
        ("1440p", new FrameSize(2560, 1440)),
        ("2160p", new FrameSize(3840, 2160)),
        ("4k", new FrameSize(3840, 2160)),
    ];

    /// <summary>Parses "WxH" (1..8192 each) or an alias; throws <see cref="FormatException"/> with the accepted forms.</summary>
    public static FrameSize Parse(string text)
    {
        if (TryParse(text, out FrameSize size))
        {
            return size;
        }

        throw new FormatException(
            $"Invalid frame size '{text}': use WIDTHxHEIGHT (each 1..{FrameLimits.MaxDimension}, e.g. 1280x720) or one of {string.Join(", ", Aliases.Select(a => a.Name))}.");
    }

    public static bool TryParse([NotNullWhen(true)] string? text, out FrameSize size)
    {
        size = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        ReadOnlySpan<char> span = text.AsSpan().Trim();
        foreach ((string name, FrameSize alias) in Aliases)
        {
            if (span.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                size = alias;
                return true;
            }
        }

        int x = span.IndexOfAny('x', 'X');
        if (x <= 0
            || !int.TryParse(span[..x], NumberStyles.None, CultureInfo.InvariantCulture, out int width)
            || !int.TryParse(span[(x + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int height)
            || width is < 1 or > FrameLimits.MaxDimension
            || height is < 1 or > FrameLimits.MaxDimension)
        {
            return false;
        }

        size = new FrameSize(width, height);
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Width}x{Height}");
}
