using SocketCam.Display.Sdl;
using SocketCam.Sources;

namespace SocketCam.Display;

/// <summary>
/// Text for the window's overlay, drawn as filled rectangles (SDL2 has no text): the test pattern's 5x7 digits and
/// symbols plus the capital letters and a few marks. Lower case is shown as upper case; anything else as a space.
/// </summary>
internal static class OverlayFont
{
    public const int GlyphWidth = PatternFont.GlyphWidth;
    public const int GlyphHeight = PatternFont.GlyphHeight;
    public const int Advance = PatternFont.Advance;

    /// <summary>A..Z, then '-', '/', '%'; seven rows each, bit 4 is the leftmost column.</summary>
    private static ReadOnlySpan<byte> Letters =>
    [
        0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, // A
        0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, // B
        0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, // C
        0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, // D
        0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, // E
        0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, // F
        0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, // G
        0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, // H
        0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, // I
        0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, // J
        0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, // K
        0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, // L
        0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, // M
        0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, // N
        0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, // O
        0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, // P
        0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, // Q
        0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, // R
        0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, // S
        0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, // T
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, // U
        0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, // V
        0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, // W
        0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, // X
        0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, // Y
        0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, // Z
        0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, // -
        0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10, // /
        0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, // %
    ];

    /// <summary>Width in pixels of <paramref name="length"/> characters at <paramref name="scale"/> (no trailing gap).</summary>
    public static int TextWidth(int length, int scale) => length == 0 ? 0 : ((length * Advance) - 1) * scale;

    /// <summary>Row <paramref name="row"/> (0..6) of the glyph for <paramref name="c"/> as 5 bits.</summary>
    public static int RowBits(char c, int row)
    {
        char upper = char.ToUpperInvariant(c);
        return upper switch
        {
            >= '0' and <= '9' => PatternFont.RowBits((byte)(upper - '0'), row),
            ':' => PatternFont.RowBits(PatternFont.Colon, row),
            '.' => PatternFont.RowBits(PatternFont.Dot, row),
            '#' => PatternFont.RowBits(PatternFont.Hash, row),
            >= 'A' and <= 'Z' => Letters[((upper - 'A') * GlyphHeight) + row],
            '-' => Letters[(26 * GlyphHeight) + row],
            '/' => Letters[(27 * GlyphHeight) + row],
            '%' => Letters[(28 * GlyphHeight) + row],
            _ => 0,
        };
    }

    /// <summary>
    /// Appends one rectangle per lit pixel run of <paramref name="text"/> at (<paramref name="x"/>, <paramref name="y"/>),
    /// each font pixel <paramref name="scale"/> window pixels wide; runs of lit pixels in a row become one rectangle.
    /// </summary>
    public static void AppendText(List<SdlRect> rects, string text, int x, int y, int scale)
    {
        for (int i = 0; i < text.Length; i++)
        {
            int left = x + (i * Advance * scale);
            for (int row = 0; row < GlyphHeight; row++)
            {
                int bits = RowBits(text[i], row);
                int col = 0;
                while (col < GlyphWidth)
                {
                    if ((bits & (0x10 >> col)) == 0)
                    {
                        col++;
                        continue;
                    }

                    int start = col;
                    while (col < GlyphWidth && (bits & (0x10 >> col)) != 0)
                    {
                        col++;
                    }

                    rects.Add(new SdlRect(left + (start * scale), y + (row * scale), (col - start) * scale, scale));
                }
            }
        }
    }
}
