using SkiaSharp;
using SocketCam.Diagnostics;
using SocketCam.Display;

namespace SocketCam.Tests.Display;

/// <summary>The call window's text: SkiaSharp's anti-aliased type, a font for every script installed, names cleaned first.</summary>
public sealed class TextPainterTests
{
    [Fact]
    public void SkiaSharps_native_library_loads_and_a_missing_one_is_one_line_naming_the_package()
    {
        SkiaLibrary.EnsureAvailable();
        Assert.True(SkiaLibrary.IsLoadable("libSkiaSharp"));
        Assert.False(SkiaLibrary.IsLoadable("libSkiaSharp-no-such-version.so.9"));
        var error = new NativeDependencyException(SkiaLibrary.MissingMessage);
        Assert.Contains("sudo apt-get install libfontconfig1", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_label_is_anti_aliased_white_text_on_a_translucent_pill()
    {
        using var painter = new TextPainter();
        RgbaImage pill = painter.Pill("Ana", 20, 400);
        Assert.Equal(32, pill.Height); // 1.6 x the text size
        var alphas = new HashSet<int>();
        var greys = new HashSet<int>();
        for (int i = 0; i < pill.Pixels.Length; i += 4)
        {
            alphas.Add(pill.Pixels[i + 3]);
            if (pill.Pixels[i + 3] > 0)
            {
                greys.Add(pill.Pixels[i]);
            }
        }

        // The pill's corners are transparent, its inside translucent (150), the letters opaque; the edges in between.
        Assert.Contains(0, alphas);
        Assert.Contains(150, alphas);
        Assert.Contains(255, alphas);
        Assert.True(greys.Count > 10, $"only {greys.Count} grey levels: not anti-aliased");
        Assert.Contains(255, greys);
    }

    [Theory]
    [InlineData("Борис")]     // Cyrillic: DejaVu has it
    [InlineData("Ζωή")]       // Greek
    [InlineData("李雷")]       // CJK: another font (Noto Sans CJK, fonts-noto-cjk)
    [InlineData("Bartłomiej")]
    public void Every_character_is_drawn_with_a_font_that_has_it(string name)
    {
        using var painter = new TextPainter();
        foreach (System.Text.Rune rune in name.EnumerateRunes())
        {
            string family = Assert.Single(painter.FontsFor(rune.ToString()));
            using SKTypeface typeface = SKTypeface.FromFamilyName(family);
            using var font = new SKFont(typeface);
            Assert.True(font.ContainsGlyph(rune.Value), $"'{rune}' is drawn with {family}, which lacks it");
        }

        Assert.True(painter.Measure(name, 20) > 10 * name.Length / 2);
    }

    [Fact]
    public void Cjk_characters_come_out_as_their_own_glyphs_not_missing_boxes()
    {
        using var painter = new TextPainter();
        Assert.Contains(painter.FontsFor("Li 李雷"), f => f.Contains("CJK", StringComparison.Ordinal));
        // Two missing-glyph boxes would be the same picture; two real ideographs are not.
        RgbaImage li = painter.Line("李", 24, 200, SKColors.White);
        RgbaImage lei = painter.Line("雷", 24, 200, SKColors.White);
        Assert.Equal((li.Width, li.Height), (lei.Width, lei.Height));
        Assert.NotEqual(li.Pixels, lei.Pixels);
        Assert.True(li.Pixels.Where((_, i) => i % 4 == 3).Count(a => a > 128) > 20);
    }

    [Fact]
    public void A_name_too_long_for_its_tile_is_cut_with_an_ellipsis_between_graphemes()
    {
        using var painter = new TextPainter();
        string name = "Maximiliane Wolfeschlegelsteinhausenbergerdorff";
        string fitted = painter.Fit(name, 20, 150);
        Assert.EndsWith("\u2026", fitted, StringComparison.Ordinal);
        Assert.StartsWith(fitted[..^1], name, StringComparison.Ordinal);
        Assert.True(painter.Measure(fitted, 20) <= 150);
        Assert.Equal("Ana", painter.Fit("Ana", 20, 150));
        Assert.Equal("\u2026", painter.Fit("李雷", 20, 5));
        RgbaImage pill = painter.Pill(name, 20, 160);
        Assert.True(pill.Width <= 160);
    }

    [Theory]
    [InlineData("Ana", "A")]
    [InlineData("ana maria lópez", "AL")]
    [InlineData("  zoë  ", "Z")]
    [InlineData("李雷", "李")]
    [InlineData("", "?")]
    public void Initials_are_the_first_and_last_words_first_letters(string name, string initials) =>
        Assert.Equal(initials, TextPainter.Initials(name));

    [Theory]
    [InlineData("Ana", "Ana")]
    [InlineData("  Zoë\t\tSmith \r\n", "Zoë Smith")]
    [InlineData("Eve\u0007\u001b[31mred\u001b[0m", "Eve [31mred [0m")]
    [InlineData("<script>alert(1)</script>", "<script>alert(1)</script>")]
    [InlineData("\u202Eevil\u202C\u200B", "evil")]               // direction override, zero-width space: gone
    [InlineData("👩\u200D💻 dev", "👩\u200D💻 dev")]              // the joiner an emoji sequence needs: kept
    [InlineData("line\u2028break", "line break")]
    [InlineData("\u0000\u0001", "#7")]
    public void Names_are_cleaned_to_plain_printable_text(string name, string shown) =>
        Assert.Equal(shown, CallGridWindow.CleanName(name, "#7"));

    [Fact]
    public void A_lone_surrogate_becomes_the_replacement_character() =>
        Assert.Equal("bad \uFFFD half", CallGridWindow.CleanName("bad \uD800 half", "?")); // (not a theory: xunit's data would mangle it)

    [Fact]
    public void A_long_name_is_cut_at_the_limit_without_splitting_a_surrogate_pair()
    {
        string name = new string('a', CallGridWindow.MaxNameLength - 1) + "😀😀";
        string clean = CallGridWindow.CleanName(name, "?");
        Assert.Equal(CallGridWindow.MaxNameLength - 1, clean.Length);
        Assert.Equal(CallGridWindow.MaxNameLength, CallGridWindow.CleanName(new string('b', 500), "?").Length);
    }
}
