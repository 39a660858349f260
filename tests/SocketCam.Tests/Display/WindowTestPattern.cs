using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// What a window showing the built-in test pattern must look like, checked on a screenshot. The pattern scrolls vertically,
/// so the checks use what stays put: the colour bars' columns (left to right: grey, yellow, cyan, green, magenta, red, blue,
/// black, across the top quarter of the scrolling tile) and the dark text box with white digits in the top-left corner.
/// </summary>
internal static class WindowTestPattern
{
    // Which channels are lit (R, G, B) in each 75% bar, left to right (PatternPainter.Bars).
    private static readonly (bool R, bool G, bool B)[] Bars =
    [
        (true, true, true), (true, true, false), (false, true, true), (false, true, false),
        (true, false, true), (true, false, false), (false, false, true), (false, false, false),
    ];

    private static readonly string[] BarNames = ["grey", "yellow", "cyan", "green", "magenta", "red", "blue", "black"];

    /// <summary>
    /// Asserts that <paramref name="picture"/> (where the video sits in the screenshot) shows a
    /// <paramref name="patternWidth"/>x<paramref name="patternHeight"/> test pattern, scaled to fit.
    /// </summary>
    public static void AssertShown(RgbImage shot, (int X, int Y, int Width, int Height) picture, int patternWidth, int patternHeight)
    {
        string? mismatch = Mismatch(shot, picture, patternWidth, patternHeight);
        Assert.True(mismatch is null, mismatch);
    }

    /// <summary>Why <paramref name="shot"/> does not show the pattern at <paramref name="picture"/>, or null when it does.</summary>
    public static string? Mismatch(RgbImage shot, (int X, int Y, int Width, int Height) picture, int patternWidth, int patternHeight)
    {
        if (picture.X + picture.Width > shot.Width || picture.Y + picture.Height > shot.Height)
        {
            return $"the screenshot is {shot.Width}x{shot.Height}, smaller than the picture {picture}";
        }

        for (int bar = 0; bar < Bars.Length; bar++)
        {
            // The middle of the bar's column, mapped from pattern pixels to screen pixels.
            int x = picture.X + ((((2 * bar) + 1) * patternWidth / 16) * picture.Width / patternWidth);
            int matching = 0;
            for (int y = picture.Y; y < picture.Y + picture.Height; y++)
            {
                (int r, int g, int b) = shot[x, y];
                if (Is(r, Bars[bar].R) && Is(g, Bars[bar].G) && Is(b, Bars[bar].B))
                {
                    matching++;
                }
            }

            // The bars fill a quarter of the pattern's height (wherever the scroll has put them); allow for edges and JPEG.
            if (matching < picture.Height * 12 / 100)
            {
                return $"the {BarNames[bar]} bar's column (x={x}) has {matching} of {picture.Height} pixels of that colour";
            }
        }

        // The counter/clock box: 24,24,24 behind white 5x7 digits, at (2, 2) and 75x20 pattern pixels for a 240-line pattern.
        int scale = Math.Clamp(patternHeight / 180, 1, 4);
        int boxX = 2 * scale, boxY = 2 * scale, boxWidth = 75 * scale, boxHeight = 20 * scale;
        int dark = 0, bright = 0, total = 0;
        for (int py = boxY; py < boxY + boxHeight; py++)
        {
            for (int px = boxX; px < boxX + boxWidth; px++)
            {
                (int r, int g, int b) = shot[picture.X + (px * picture.Width / patternWidth), picture.Y + (py * picture.Height / patternHeight)];
                total++;
                dark += Math.Max(r, Math.Max(g, b)) < 70 ? 1 : 0;
                bright += Math.Min(r, Math.Min(g, b)) > 170 ? 1 : 0;
            }
        }

        // Mostly dark with white text (the moving white square may cross it: a quarter of the box at most).
        return dark < total * 40 / 100 ? $"the text box is not dark: {dark} of {total} pixels"
            : bright < total * 3 / 100 ? $"the text box has no white digits: {bright} of {total} pixels"
            : null;
    }

    /// <summary>How many pixels differ by more than a little (JPEG noise aside) between two screenshots of the same size.</summary>
    public static int DifferentPixels(RgbImage a, RgbImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        int different = 0;
        for (int i = 0; i < a.Pixels.Length; i += 3)
        {
            int d = Math.Abs(a.Pixels[i] - b.Pixels[i]) + Math.Abs(a.Pixels[i + 1] - b.Pixels[i + 1]) + Math.Abs(a.Pixels[i + 2] - b.Pixels[i + 2]);
            different += d > 30 ? 1 : 0;
        }

        return different;
    }

    private static bool Is(int value, bool lit) => lit ? value > 100 : value < 60;
}
