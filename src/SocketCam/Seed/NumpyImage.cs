namespace SocketCam.Seed;

/// <summary>
/// A numpy uint8 image read from a pickle: <see cref="Channels"/> is 3 (BGR, OpenCV's order) or 1 (grayscale);
/// <see cref="Pixels"/> holds exactly Height × Width × Channels bytes in C order.
/// </summary>
internal readonly ref struct NumpyImage
{
    public NumpyImage(int height, int width, int channels, ReadOnlySpan<byte> pixels)
    {
        Height = height;
        Width = width;
        Channels = channels;
        Pixels = pixels;
    }

    public int Height { get; }

    public int Width { get; }

    public int Channels { get; }

    public ReadOnlySpan<byte> Pixels { get; }
}
