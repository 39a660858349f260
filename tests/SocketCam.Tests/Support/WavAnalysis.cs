using System.Buffers.Binary;

namespace SocketCam.Tests.Support;

/// <summary>What the audio tests measure in real output: WAV files read back, tone power (Goertzel), level, gaps.</summary>
internal static class WavAnalysis
{
    /// <summary>A 16-bit PCM WAV's samples (the first channel) and rate; the header is checked, not trusted blindly.</summary>
    public static (short[] Samples, int Rate) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length >= 44, $"{path}: {bytes.Length} bytes is no WAV");
        Assert.Equal("RIFF", System.Text.Encoding.ASCII.GetString(bytes, 0, 4));
        Assert.Equal("WAVE", System.Text.Encoding.ASCII.GetString(bytes, 8, 4));
        int channels = 0, rate = 0;
        // Chunks one after another (ffmpeg adds a LIST chunk before the data).
        for (int at = 12; at + 8 <= bytes.Length;)
        {
            string id = System.Text.Encoding.ASCII.GetString(bytes, at, 4);
            int size = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4)), (uint)(bytes.Length - at - 8));
            if (id == "fmt ")
            {
                channels = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 10));
                rate = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 12));
                Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 22)));
            }
            else if (id == "data")
            {
                Assert.True(channels > 0, $"{path}: data before fmt");
                return (Channel(bytes.AsSpan(at + 8, size), channels), rate);
            }

            at += 8 + size + (size & 1);
        }

        throw new Xunit.Sdk.XunitException($"{path}: no data chunk");
    }

    /// <summary>Raw interleaved s16le (what SDL's disk audio driver writes), first channel.</summary>
    public static short[] Channel(ReadOnlySpan<byte> interleaved, int channels)
    {
        int n = interleaved.Length / (2 * channels);
        var samples = new short[n];
        for (int i = 0; i < n; i++)
        {
            samples[i] = BinaryPrimitives.ReadInt16LittleEndian(interleaved[(i * 2 * channels)..]);
        }

        return samples;
    }

    /// <summary>RMS level in dB relative to full scale.</summary>
    public static double LevelDbfs(ReadOnlySpan<short> samples)
    {
        double sum = 0;
        foreach (short s in samples)
        {
            sum += (double)s * s;
        }

        return 10 * Math.Log10(Math.Max(1e-12, sum / Math.Max(1, samples.Length)) / (32768.0 * 32768.0));
    }

    /// <summary>Power of one frequency in the samples (Goertzel), normalised by length.</summary>
    public static double Power(ReadOnlySpan<short> samples, int rate, double frequency)
    {
        double w = 2 * Math.PI * frequency / rate;
        double coeff = 2 * Math.Cos(w);
        double s1 = 0, s2 = 0;
        foreach (short x in samples)
        {
            double s0 = x + (coeff * s1) - s2;
            s2 = s1;
            s1 = s0;
        }

        return ((s1 * s1) + (s2 * s2) - (coeff * s1 * s2)) / samples.Length;
    }

    /// <summary>The strongest frequency between <paramref name="from"/> and <paramref name="to"/> Hz, in 5 Hz steps.</summary>
    public static double DominantFrequency(ReadOnlySpan<short> samples, int rate, double from = 100, double to = 2000)
    {
        double best = from, bestPower = -1;
        for (double f = from; f <= to; f += 5)
        {
            double p = Power(samples, rate, f);
            if (p > bestPower)
            {
                bestPower = p;
                best = f;
            }
        }

        return best;
    }

    /// <summary>The longest run of near-silence (|x| below <paramref name="threshold"/>) in ms.</summary>
    public static double LongestQuietMs(ReadOnlySpan<short> samples, int rate, int threshold = 50)
    {
        int run = 0, longest = 0;
        foreach (short x in samples)
        {
            run = Math.Abs((int)x) < threshold ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        return longest * 1000.0 / rate;
    }

    /// <summary>A sine wave as the sources make it: <paramref name="amplitude"/> of full scale.</summary>
    public static short[] Sine(double frequency, int rate, int count, double amplitude = 0.125, int offset = 0)
    {
        var pcm = new short[count];
        for (int i = 0; i < count; i++)
        {
            pcm[i] = (short)Math.Round(amplitude * 32767 * Math.Sin(2 * Math.PI * frequency * (i + offset) / rate));
        }

        return pcm;
    }
}
