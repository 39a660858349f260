namespace SocketCam.Display;

/// <summary>A rectangle in window pixels.</summary>
internal readonly record struct PixelRect(int X, int Y, int Width, int Height)
{
    public bool IsEmpty => Width <= 0 || Height <= 0;
}

/// <summary>Aspect-ratio fitting: where a picture goes in a window so it is as large as possible and never stretched.</summary>
internal static class Letterbox
{
    /// <summary>
    /// The largest rectangle with the picture's aspect ratio that fits in the output, centred (black bars fill the rest:
    /// above and below for a wide picture in a tall window, left and right otherwise). Empty when either size is empty.
    /// </summary>
    public static PixelRect Fit(int pictureWidth, int pictureHeight, int outputWidth, int outputHeight)
    {
        if (pictureWidth <= 0 || pictureHeight <= 0 || outputWidth <= 0 || outputHeight <= 0)
        {
            return default;
        }

        int width, height;
        // Compare the aspect ratios exactly (cross-multiplied, in 64 bits): no rounding decides which side touches.
        if ((long)outputWidth * pictureHeight <= (long)outputHeight * pictureWidth)
        {
            width = outputWidth;
            height = RoundedRatio(outputWidth, pictureHeight, pictureWidth);
        }
        else
        {
            height = outputHeight;
            width = RoundedRatio(outputHeight, pictureWidth, pictureHeight);
        }

        // A picture far thinner than the window still gets one pixel rather than vanishing.
        width = Math.Clamp(width, 1, outputWidth);
        height = Math.Clamp(height, 1, outputHeight);
        return new PixelRect((outputWidth - width) / 2, (outputHeight - height) / 2, width, height);
    }

    /// <summary>a * b / c rounded to the nearest integer (halves up), for positive values.</summary>
    private static int RoundedRatio(long a, long b, long c) => (int)(((2 * a * b) + c) / (2 * c));
}
