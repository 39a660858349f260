using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SkiaSharp;
using SocketCam.Diagnostics;

namespace SocketCam.Display;

/// <summary>An image of R, G, B, A bytes (alpha not premultiplied), rows of <see cref="Width"/> * 4 bytes.</summary>
internal sealed record RgbaImage(byte[] Pixels, int Width, int Height)
{
    public int Stride => Width * 4;
}

/// <summary>
/// Anti-aliased text for the call window, drawn with SkiaSharp into <see cref="RgbaImage"/>s that the render thread
/// uploads as textures (SDL2 has no text). Any Unicode: each character is drawn with the sans-serif font if it has the
/// glyph, else with a font fontconfig finds for it (<see cref="SKFontManager.MatchCharacter(string, SKFontStyle, string[], int)"/>),
/// so Latin, Cyrillic, Greek, CJK and emoji show wherever some installed font has them. No shaping: scripts whose letters
/// join or reorder (Arabic, Indic) show their letters unjoined. One thread at a time (the render thread).
/// </summary>
internal sealed class TextPainter : IDisposable
{
    private const string Ellipsis = "\u2026";

    private readonly SKTypeface _regular;
    private readonly SKTypeface _bold;
    private readonly Dictionary<(int CodePoint, bool Bold), SKTypeface> _fallbacks = [];
    private readonly HashSet<SKTypeface> _owned = [];

    public TextPainter()
    {
        SkiaLibrary.EnsureAvailable();
        _regular = Own(SKFontManager.Default.MatchFamily("sans-serif", SKFontStyle.Normal) ?? SKTypeface.Default);
        _bold = Own(SKFontManager.Default.MatchFamily("sans-serif", SKFontStyle.Bold) ?? _regular);
    }

    /// <summary>The family names used for <paramref name="text"/>, one per run of characters drawn with the same font.</summary>
    public IReadOnlyList<string> FontsFor(string text, bool bold = false) => [.. Runs(text, bold).Select(r => r.Typeface.FamilyName)];

    /// <summary>Width of <paramref name="text"/> at <paramref name="size"/> pixels.</summary>
    public float Measure(string text, float size, bool bold = false)
    {
        float width = 0;
        foreach ((SKTypeface typeface, string run) in Runs(text, bold))
        {
            using SKFont font = Font(typeface, size);
            width += font.MeasureText(run);
        }

        return width;
    }

    /// <summary>
    /// <paramref name="text"/> shortened with "…" at a grapheme boundary until it is at most <paramref name="maxWidth"/>
    /// pixels wide at <paramref name="size"/> (just "…" if nothing else fits).
    /// </summary>
    public string Fit(string text, float size, float maxWidth, bool bold = false)
    {
        if (Measure(text, size, bold) <= maxWidth)
        {
            return text;
        }

        int[] starts = StringInfo.ParseCombiningCharacters(text);
        int low = 0, high = starts.Length - 1; // the most text elements kept so that it fits: in [low, high]
        while (low < high)
        {
            int keep = (low + high + 1) / 2;
            if (Measure(text[..starts[keep]].TrimEnd() + Ellipsis, size, bold) <= maxWidth)
            {
                low = keep;
            }
            else
            {
                high = keep - 1;
            }
        }

        return low == 0 ? Ellipsis : text[..starts[low]].TrimEnd() + Ellipsis;
    }

    /// <summary>
    /// A name label: white text on a translucent dark pill, <paramref name="size"/> pixels text, at most
    /// <paramref name="maxWidth"/> pixels wide (the text shortened with "…" to fit).
    /// </summary>
    public RgbaImage Pill(string text, float size, int maxWidth)
    {
        int padX = (int)MathF.Round(size * 0.6f);
        int height = (int)MathF.Ceiling(size * 1.6f);
        string shown = Fit(text, size, maxWidth - (2 * padX));
        int width = Math.Clamp((int)MathF.Ceiling(Measure(shown, size)) + (2 * padX), height, Math.Max(height, maxWidth));
        return Paint(width, height, canvas =>
        {
            using var background = new SKPaint { Color = new SKColor(0, 0, 0, 150), IsAntialias = true };
            canvas.DrawRoundRect(new SKRect(0, 0, width, height), height / 2f, height / 2f, background);
            DrawLine(canvas, shown, padX, height / 2f, size, bold: false, SKColors.White);
        });
    }

    /// <summary>One line of text in <paramref name="colour"/> on transparent, at most <paramref name="maxWidth"/> pixels wide.</summary>
    public RgbaImage Line(string text, float size, int maxWidth, SKColor colour)
    {
        string shown = Fit(text, size, maxWidth);
        int width = Math.Max(1, (int)MathF.Ceiling(Measure(shown, size)));
        int height = (int)MathF.Ceiling(size * 1.5f);
        return Paint(width, height, canvas => DrawLine(canvas, shown, 0, height / 2f, size, bold: false, colour));
    }

    /// <summary>A filled circle of <paramref name="diameter"/> pixels in <paramref name="colour"/> with <paramref name="initials"/> centred in white.</summary>
    public RgbaImage Avatar(string initials, int diameter, SKColor colour)
    {
        diameter = Math.Max(2, diameter);
        float size = diameter * (initials.Length > 2 ? 0.3f : 0.38f);
        string shown = Fit(initials, size, diameter * 0.8f, bold: true);
        return Paint(diameter, diameter, canvas =>
        {
            using var fill = new SKPaint { Color = colour, IsAntialias = true };
            canvas.DrawCircle(diameter / 2f, diameter / 2f, diameter / 2f, fill);
            float x = (diameter - Measure(shown, size, bold: true)) / 2f;
            DrawLine(canvas, shown, x, diameter / 2f, size, bold: true, SKColors.White);
        });
    }

    /// <summary>
    /// What rounds a rectangle's corners: a square of 2 x <paramref name="radius"/> pixels in <paramref name="colour"/> with
    /// a transparent, anti-aliased circle cut out; each quarter covers one corner.
    /// </summary>
    public static RgbaImage CornerMask(int radius, SKColor colour)
    {
        int side = 2 * Math.Max(1, radius);
        return Paint(side, side, canvas =>
        {
            canvas.Clear(colour);
            using var hole = new SKPaint { BlendMode = SKBlendMode.Clear, IsAntialias = true };
            canvas.DrawCircle(side / 2f, side / 2f, side / 2f, hole);
        });
    }

    /// <summary>
    /// Up to two initials: the first text element (a letter with its marks, an ideograph, an emoji) of the first and the
    /// last word, upper-cased; "?" for a name without any.
    /// </summary>
    public static string Initials(string name)
    {
        string[] words = name.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
        {
            return "?";
        }

        string first = StringInfo.GetNextTextElement(words[0]);
        string result = words.Length > 1 ? first + StringInfo.GetNextTextElement(words[^1]) : first;
        return result.ToUpperInvariant();
    }

    public void Dispose()
    {
        foreach (SKTypeface typeface in _owned)
        {
            typeface.Dispose();
        }

        _owned.Clear();
        _fallbacks.Clear();
    }

    private static SKFont Font(SKTypeface typeface, float size) => new(typeface, size)
    {
        Edging = SKFontEdging.Antialias, // grey-scale: the texture is blended over any picture, so no LCD sub-pixels
        Subpixel = true,
        Hinting = SKFontHinting.Slight,
    };

    private static unsafe RgbaImage Paint(int width, int height, Action<SKCanvas> draw)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Transparent);
            draw(canvas);
        }

        // SDL blends straight (not premultiplied) alpha: convert while copying out.
        byte[] pixels = new byte[width * height * 4];
        fixed (byte* destination = pixels)
        {
            using SKPixmap pixmap = bitmap.PeekPixels();
            if (!pixmap.ReadPixels(info.WithAlphaType(SKAlphaType.Unpremul), (nint)destination, width * 4))
            {
                throw new InvalidOperationException("Skia could not read back a text image.");
            }
        }

        return new RgbaImage(pixels, width, height);
    }

    /// <summary>Draws one line starting at <paramref name="x"/>, its body centred on <paramref name="middle"/>.</summary>
    private void DrawLine(SKCanvas canvas, string text, float x, float middle, float size, bool bold, SKColor colour)
    {
        using var paint = new SKPaint { Color = colour, IsAntialias = true };
        using SKFont primary = Font(bold ? _bold : _regular, size);
        SKFontMetrics metrics = primary.Metrics;
        float baseline = middle - ((metrics.Ascent + metrics.Descent) / 2f);
        foreach ((SKTypeface typeface, string run) in Runs(text, bold))
        {
            using SKFont font = Font(typeface, size);
            canvas.DrawText(run, x, baseline, SKTextAlign.Left, font, paint);
            x += font.MeasureText(run);
        }
    }

    /// <summary>Splits <paramref name="text"/> into runs drawn with one font each; marks and joiners stay with what they follow.</summary>
    private List<(SKTypeface Typeface, string Text)> Runs(string text, bool bold)
    {
        var runs = new List<(SKTypeface, string)>();
        SKTypeface primary = bold ? _bold : _regular;
        SKTypeface? current = null;
        var run = new StringBuilder();
        foreach (Rune rune in text.EnumerateRunes())
        {
            SKTypeface typeface = current is not null && Joins(rune) ? current : TypefaceFor(rune.Value, primary, bold);
            if (!ReferenceEquals(typeface, current) && run.Length > 0)
            {
                runs.Add((current!, run.ToString()));
                run.Clear();
            }

            current = typeface;
            run.Append(rune.ToString());
        }

        if (run.Length > 0)
        {
            runs.Add((current!, run.ToString()));
        }

        return runs;
    }

    /// <summary>Combining marks, variation selectors and zero-width joiners: drawn with the font of the character before.</summary>
    private static bool Joins(Rune rune) => Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.Format;

    private SKTypeface TypefaceFor(int codePoint, SKTypeface primary, bool bold)
    {
        if (HasGlyph(primary, codePoint))
        {
            return primary;
        }

        if (!_fallbacks.TryGetValue((codePoint, bold), out SKTypeface? typeface))
        {
            SKTypeface? match = SKFontManager.Default.MatchCharacter(primary.FamilyName, bold ? SKFontStyle.Bold : SKFontStyle.Normal, null, codePoint);
            typeface = match is not null && HasGlyph(match, codePoint) ? Own(match) : primary; // none has it: the primary's "missing" box
            _fallbacks[(codePoint, bold)] = typeface;
        }

        return typeface;
    }

    private static bool HasGlyph(SKTypeface typeface, int codePoint)
    {
        using var font = new SKFont(typeface);
        return font.ContainsGlyph(codePoint);
    }

    private SKTypeface Own(SKTypeface typeface)
    {
        _owned.Add(typeface);
        return typeface;
    }
}

/// <summary>Checks once that SkiaSharp's native library loads, so a missing one gives one clear line instead of DllNotFoundException.</summary>
internal static class SkiaLibrary
{
    public const string MissingMessage =
        "SkiaSharp's native library (libSkiaSharp.so, which needs fontconfig) could not be loaded: install fontconfig (sudo apt-get install libfontconfig1) and check that the program's runtimes/ folder is complete, or do without a window.";

    private static readonly Lazy<bool> Available = new(() =>
    {
        try
        {
            using var bitmap = new SKBitmap(1, 1);
            return bitmap.Width == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException or InvalidOperationException)
        {
            return false;
        }
    });

    /// <summary>Throws <see cref="NativeDependencyException"/> when libSkiaSharp.so cannot be used. Call it before any Skia call.</summary>
    public static void EnsureAvailable()
    {
        if (!Available.Value)
        {
            throw new NativeDependencyException(MissingMessage);
        }
    }

    /// <summary>Whether <paramref name="libraryName"/> loads the way SkiaSharp's P/Invoke stubs load theirs (tests).</summary>
    internal static bool IsLoadable(string libraryName) =>
        NativeLibrary.TryLoad(libraryName, typeof(SKBitmap).Assembly, null, out _);
}
