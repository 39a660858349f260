namespace SocketCam.Sources;

/// <summary>
/// Renders the static part of the test pattern, one row at a time (rows are independent, so rendering can run in parallel).
/// The tile is split into horizontal bands, top to bottom: colour bars, ramps, fine patterns with a zone plate, and
/// circles over a noisy texture. Everything is integer maths from (x, y), so the picture is deterministic.
/// </summary>
internal sealed class PatternPainter
{
    // 75% colour bars (B, G, R), SMPTE order.
    private static readonly byte[] Bars =
    [
        191, 191, 191, 0, 191, 191, 191, 191, 0, 0, 191, 0,
        191, 0, 191, 0, 0, 191, 191, 0, 0, 16, 16, 16,
    ];

    // Band boundaries in 1024ths of the tile height. The fine patterns and circles cost JPEG the most; these
    // proportions give about testsrc2's encoding cost (roughly 60-70 KB per 720p frame at quality 80).
    private const int FineStart = 500;
    private const int FineEnd = 560;

    private readonly int _width;
    private readonly int _height;
    private readonly int[] _cosine = new int[1024];
    private readonly int _zoneCenterX;
    private readonly int _zoneCenterY;
    private readonly int _zoneK;
    private readonly int _circleCenterY;
    private readonly int _circleRadius;

    public PatternPainter(int width, int height)
    {
        _width = width;
        _height = height;
        for (int i = 0; i < _cosine.Length; i++)
        {
            _cosine[i] = (int)Math.Round(127 * Math.Cos(i * 2 * Math.PI / _cosine.Length));
        }

        int bandTop = BandStart(FineStart);
        int bandBottom = BandStart(FineEnd);
        _zoneCenterX = width * 7 / 8;
        _zoneCenterY = (bandTop + bandBottom) / 2;
        int radius = Math.Max(1, Math.Max(width / 8, (bandBottom - bandTop) / 2));

        // Ring frequency grows with radius and reaches about half the Nyquist frequency at the zone plate's edge.
        _zoneK = Math.Max(1, 32768 / radius);

        int circlesTop = BandStart(FineEnd);
        _circleCenterY = (circlesTop + height) / 2;
        _circleRadius = Math.Max(1, Math.Min(width / 6, (height - circlesTop) / 2) - 1);
    }

    public void RenderRow(Span<byte> row, int y)
    {
        int band = (int)((long)y * 1024 / _height);
        switch (band)
        {
            case < 340:
                ColourBars(row, band);
                break;
            case < 390:
                GreyRamp(row);
                break;
            case < 440:
                GreySteps(row);
                break;
            case < FineStart:
                HueRamp(row, band - 440);
                break;
            case < FineEnd:
                FinePatterns(row, y);
                break;
            default:
                Circles(row, y);
                break;
        }
    }

    private int BandStart(int band) => (int)(((long)band * _height + 1023) / 1024);

    private void ColourBars(Span<byte> row, int band)
    {
        // Lower third: narrow reversed bars, as in SMPTE bars, for more vertical edges.
        bool reverse = band >= 255;
        int bars = reverse ? 16 : 8;

        // Brightness falls slowly down the band, so the bars are not flat blocks.
        int gain = 256 - (band % 255 / 3);
        for (int x = 0; x < _width; x++)
        {
            int bar = (int)((long)x * bars / _width);
            int colour = reverse ? 7 - (bar % 8) : bar;
            int i = x * 3;
            row[i] = (byte)(Bars[colour * 3] * gain >> 8);
            row[i + 1] = (byte)(Bars[(colour * 3) + 1] * gain >> 8);
            row[i + 2] = (byte)(Bars[(colour * 3) + 2] * gain >> 8);
        }
    }

    private void GreyRamp(Span<byte> row)
    {
        for (int x = 0; x < _width; x++)
        {
            byte v = (byte)(_width == 1 ? 128 : x * 255 / (_width - 1));
            row[x * 3] = v;
            row[(x * 3) + 1] = v;
            row[(x * 3) + 2] = v;
        }
    }

    private void GreySteps(Span<byte> row)
    {
        for (int x = 0; x < _width; x++)
        {
            byte v = (byte)((int)((long)x * 16 / _width) * 17);
            row[x * 3] = v;
            row[(x * 3) + 1] = v;
            row[(x * 3) + 2] = v;
        }
    }

    private void HueRamp(Span<byte> row, int level)
    {
        // Saturation rises down the band (level 0..59).
        int saturation = 96 + (level * 160 / 60);
        for (int x = 0; x < _width; x++)
        {
            int hue = (int)((long)x * 1536 / _width);
            int sector = hue >> 8;
            int f = hue & 255;
            int r, g, b;
            switch (sector)
            {
                case 0: r = 255; g = f; b = 0; break;
                case 1: r = 255 - f; g = 255; b = 0; break;
                case 2: r = 0; g = 255; b = f; break;
                case 3: r = 0; g = 255 - f; b = 255; break;
                case 4: r = f; g = 0; b = 255; break;
                default: r = 255; g = 0; b = 255 - f; break;
            }

            int i = x * 3;
            row[i] = (byte)(255 - ((255 - b) * saturation >> 8));
            row[i + 1] = (byte)(255 - ((255 - g) * saturation >> 8));
            row[i + 2] = (byte)(255 - ((255 - r) * saturation >> 8));
        }
    }

    private void FinePatterns(Span<byte> row, int y)
    {
        int dy = y - _zoneCenterY;
        long dy2 = (long)dy * dy;
        for (int x = 0; x < _width; x++)
        {
            int segment = (int)((long)x * 8 / _width);
            int i = x * 3;
            int v;
            switch (segment)
            {
                case 0: v = ((x ^ y) & 1) * 255; break; // 1-pixel checkerboard
                case 1: v = (((x >> 1) ^ (y >> 1)) & 1) * 255; break; // 2-pixel checkerboard
                case 2: v = ((x >> 1) & 1) * 255; break; // 2-pixel vertical lines
                case 3: v = ((y >> 1) & 1) * 255; break; // 2-pixel horizontal lines
                case 4: v = ((x + y) / 8 & 1) * 255; break; // diagonal stripes
                case 5:
                    // Coloured 8-pixel checkerboard.
                    bool odd = (((x >> 3) ^ (y >> 3)) & 1) != 0;
                    row[i] = odd ? (byte)200 : (byte)40;
                    row[i + 1] = odd ? (byte)60 : (byte)180;
                    row[i + 2] = odd ? (byte)30 : (byte)220;
                    continue;
                default:
                    // Zone plate: concentric rings whose frequency rises with radius (stresses any codec).
                    long dx = x - _zoneCenterX;
                    long r2 = (dx * dx) + dy2;
                    v = 128 + _cosine[(int)((r2 * _zoneK) >> 8) & 1023];
                    break;
            }

            row[i] = (byte)v;
            row[i + 1] = (byte)v;
            row[i + 2] = (byte)v;
        }
    }

    private void Circles(Span<byte> row, int y)
    {
        int dy = y - _circleCenterY;
        int radius = _circleRadius;
        int ring = Math.Max(2, (radius + 3) / 4); // four rings exactly, no sliver at the edge
        for (int x = 0; x < _width; x++)
        {
            // Background: a smooth blue gradient.
            int b = 90 + (x * 60 / _width) + (y * 40 / _height);
            int g = 50;
            int r = 35;

            int which = (int)((long)x * 3 / _width);
            int centerX = (_width * ((2 * which) + 1)) / 6;
            int dx = x - centerX;
            int d2 = (dx * dx) + (dy * dy);
            if (d2 <= radius * radius)
            {
                int d = (int)Math.Sqrt(d2);
                bool light = (d / ring & 1) == 0;
                switch (which)
                {
                    case 0: // red and white rings
                        (b, g, r) = light ? (235, 235, 235) : (40, 40, 220);
                        break;
                    case 1: // a radial gradient disc with a dark rim
                        int t = d * 255 / radius;
                        (b, g, r) = d > radius - (ring / 4) ? (10, 10, 10) : (t, 255 - t, 128 + (t / 2));
                        break;
                    default: // green and black rings with a deterministic pseudo-random texture
                        int noise = Noise(x, y);
                        (b, g, r) = light ? (60 + noise, 200 + noise, 60 + noise) : (20, 20, 20);
                        break;
                }
            }

            int i = x * 3;
            row[i] = Clamp(b);
            row[i + 1] = Clamp(g);
            row[i + 2] = Clamp(r);
        }
    }

    private static int Noise(int x, int y)
    {
        uint h = ((uint)x * 0x9E3779B1u) ^ ((uint)y * 0x85EBCA77u);
        h ^= h >> 15;
        h *= 0x2C1B3C6Du;
        h ^= h >> 12;
        return (int)(h & 7) - 4;
    }

    private static byte Clamp(int value) => (byte)Math.Clamp(value, 0, 255);
}
