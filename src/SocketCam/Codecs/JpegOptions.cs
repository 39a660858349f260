namespace SocketCam.Codecs;

/// <summary>How frames are compressed to JPEG.</summary>
public sealed record JpegOptions
{
    private readonly int _quality = 80;
    private readonly ChromaSubsampling _subsampling = ChromaSubsampling.S420;

    /// <summary>
    /// JPEG quality, 1 (smallest) to 100 (best). Default 80: visually close to the source for camera video at about a
    /// third of the size of quality 95, and what most IP cameras and OpenCV tutorials use.
    /// </summary>
    public int Quality
    {
        get => _quality;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 100);
            _quality = value;
        }
    }

    /// <summary>
    /// Chroma subsampling. Default <see cref="ChromaSubsampling.S420"/>: the smallest and fastest colour mode, the same
    /// as webcams' own MJPEG and every video codec; use 4:4:4 for sharp coloured text (screen capture).
    /// </summary>
    public ChromaSubsampling Subsampling
    {
        get => _subsampling;
        init
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown chroma subsampling.");
            }

            _subsampling = value;
        }
    }

    /// <summary>
    /// Use the fast integer DCT. Default true: about 10-20% faster encoding, and the loss of accuracy is invisible at
    /// quality 90 and below (libjpeg-turbo's own advice).
    /// </summary>
    public bool FastDct { get; init; } = true;
}
