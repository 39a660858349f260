namespace SocketCam.Diagnostics;

/// <summary>
/// Lip sync measured on the content, not on timestamps: when a flash reached the screen and when a beep reached the
/// speaker, on this machine's clock (`--source sync` and `--audio sync` make both at the same instants, once a second).
/// Each beep is paired with the flash nearest to it (within half a second); the offset is beep minus flash, positive
/// when the sound comes after the picture (ITU-R BT.1359 accepts -45 to +125 ms). Thread-safe: pictures and sound
/// arrive on different threads.
/// </summary>
internal sealed class LipSyncMeter
{
    private const int Kept = 64;
    private const double Bright = 0.6;
    private const double Dim = 0.3;
    private const int Loud = 8000;   // about -12 dBFS: a beep, not Opus's faint pre-echo before it
    private const int Quiet = 1500;
    private readonly Lock _lock = new();
    private readonly Queue<long> _flashes = new();
    private readonly Queue<long> _beeps = new();
    private bool _lit;
    private bool _sounding;

    /// <summary>A picture was presented at <paramref name="presentedMicros"/>; <paramref name="brightness"/> 0 (black) .. 1 (white).</summary>
    public void OnPicture(long presentedMicros, double brightness)
    {
        lock (_lock)
        {
            if (!_lit && brightness > Bright)
            {
                _lit = true;
                Add(_flashes, presentedMicros);
            }
            else if (_lit && brightness < Dim)
            {
                _lit = false;
            }
        }
    }

    /// <summary>A block of sound (interleaved) whose first sample plays at <paramref name="firstSampleMicros"/>.</summary>
    public void OnSound(ReadOnlySpan<short> block, int channels, int sampleRate, long firstSampleMicros)
    {
        int peak = 0;
        int onset = -1;
        for (int k = 0; k < block.Length; k++)
        {
            int a = Math.Abs((int)block[k]);
            peak = Math.Max(peak, a);
            if (onset < 0 && a > Loud)
            {
                onset = k / channels;
            }
        }

        lock (_lock)
        {
            if (!_sounding && onset >= 0)
            {
                _sounding = true;
                Add(_beeps, firstSampleMicros + (onset * 1_000_000L / sampleRate));
            }
            else if (_sounding && peak < Quiet)
            {
                _sounding = false;
            }
        }
    }

    /// <summary>The median offset (ms, beep minus flash) and how many beeps had a flash to pair with; null before two pairs.</summary>
    public (double MedianMs, int Pairs)? Measure()
    {
        var offsets = new List<double>();
        lock (_lock)
        {
            foreach (long beep in _beeps)
            {
                long nearest = long.MaxValue;
                foreach (long flash in _flashes)
                {
                    if (Math.Abs(beep - flash) < Math.Abs(nearest))
                    {
                        nearest = beep - flash;
                    }
                }

                if (Math.Abs(nearest) < 500_000)
                {
                    offsets.Add(nearest / 1000.0);
                }
            }
        }

        if (offsets.Count < 2)
        {
            return null;
        }

        offsets.Sort();
        return (offsets[offsets.Count / 2], offsets.Count);
    }

    /// <summary>Brightness (0..1) of a BGR24 picture from an 8x8 grid of its green samples: cheap enough for every frame.</summary>
    public static double Brightness(ReadOnlySpan<byte> pixels, int width, int height, int stride)
    {
        long sum = 0;
        for (int gy = 0; gy < 8; gy++)
        {
            int y = ((2 * gy) + 1) * height / 16;
            for (int gx = 0; gx < 8; gx++)
            {
                int x = ((2 * gx) + 1) * width / 16;
                sum += pixels[(y * stride) + (x * 3) + 1];
            }
        }

        return sum / (64 * 255.0);
    }

    private static void Add(Queue<long> times, long micros)
    {
        if (times.Count == Kept)
        {
            times.Dequeue();
        }

        times.Enqueue(micros);
    }
}
