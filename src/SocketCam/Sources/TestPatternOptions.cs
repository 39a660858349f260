using SocketCam.Media;

namespace SocketCam.Sources;

/// <summary>Settings for the built-in moving test pattern.</summary>
public sealed record TestPatternOptions
{
    private readonly int _width = 1280;
    private readonly int _height = 720;
    private readonly double _fps = 30;

    /// <summary>Frame width in pixels, 1..8192. Default 1280 (720p, the usual webcam size).</summary>
    public int Width
    {
        get => _width;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, FrameLimits.MaxDimension);
            _width = value;
        }
    }

    /// <summary>Frame height in pixels, 1..8192. Default 720.</summary>
    public int Height
    {
        get => _height;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, FrameLimits.MaxDimension);
            _height = value;
        }
    }

    /// <summary>Frames per second, 0..10000. Default 30 (a webcam's rate); 0 means unpaced: a frame whenever one is asked for.</summary>
    public double Fps
    {
        get => _fps;
        init
        {
            if (!double.IsFinite(value) || value < 0 || value > 10_000)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Fps must be between 0 (unpaced) and 10000.");
            }

            _fps = value;
        }
    }
}
