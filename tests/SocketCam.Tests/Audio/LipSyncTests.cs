using SocketCam.Audio;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Tests.Audio;

/// <summary>
/// Lip sync measured on the content: the sync sources flash and beep on the second of the clock, and the meter times
/// flashes shown and beeps played and pairs them.
/// </summary>
public sealed class LipSyncTests
{
    [Fact]
    public async Task The_sync_tone_beeps_from_the_first_sample_of_each_second_and_is_silent_otherwise()
    {
        var format = new AudioFormat(48_000, 1, 20_000);
        await using var source = new SyncToneSource(format);
        var pcm = new short[format.PacketValues];
        int seconds = 0;
        for (int p = 0; p < 500 && seconds < 2; p++)
        {
            // (A reader that falls behind, e.g. on a busy machine, skips ahead: so count the seconds that did begin.)
            long capture = await source.ReadAsync(pcm, CancellationToken.None);
            for (int i = 0; i < pcm.Length; i++)
            {
                long micros = capture + (i * 1_000_000L / 48_000);
                if (micros % 1_000_000 >= SyncToneSource.BeepMicros)
                {
                    Assert.Equal(0, pcm[i]);
                }
                else if (micros % 1_000_000 < 21 && i + 15 < pcm.Length)
                {
                    // The second's first sample: the beep is loud within a quarter of its 1 kHz period (12 samples).
                    Assert.Contains(pcm.AsSpan(i, 15).ToArray(), x => Math.Abs((int)x) > 10_000);
                    Assert.True(i == 0 || pcm[i - 1] == 0);
                    seconds++;
                }
            }
        }

        Assert.Equal(2, seconds);
    }

    [Fact]
    public async Task The_sync_picture_flashes_on_frames_captured_on_the_second()
    {
        await using var source = new SyncTestSource(64, 36, 30);
        int seconds = 0;
        for (int i = 0; i < 200 && seconds < 2; i++)
        {
            using VideoFrame frame = (await source.ReadFrameAsync(CancellationToken.None))!;
            double brightness = LipSyncMeter.Brightness(frame.Buffer.AsSpan(frame.Offset), frame.Width, frame.Height, frame.Stride);
            Assert.Equal(SyncTestSource.IsFlash(frame.CaptureMicros), brightness > 0.9);
            if (frame.CaptureMicros % 1_000_000 == 0)
            {
                Assert.True(brightness > 0.9); // the frame captured on the second is white
                seconds++;
            }
        }

        Assert.Equal(2, seconds);
    }

    [Fact]
    public void The_meter_pairs_each_beep_with_its_flash_and_reports_the_median_offset()
    {
        var meter = new LipSyncMeter();
        short[] quiet = new short[480];
        short[] beep = [.. Enumerable.Range(0, 480).Select(i => i < 240 ? (short)0 : (short)(16000 * Math.Sin(i / 7.6)))];
        Assert.Null(meter.Measure());
        for (int second = 1; second <= 5; second++)
        {
            long flash = second * 1_000_000L;
            meter.OnPicture(flash - 33_000, 0.1);
            meter.OnPicture(flash, 1.0);
            meter.OnPicture(flash + 33_000, 1.0); // still lit: not a new flash
            meter.OnPicture(flash + 100_000, 0.1);

            // The beep's block starts 30 ms after the flash, its sound 5 ms into the block: 35 ms (one outlier: 90).
            long block = flash + (second == 3 ? 85_000 : 30_000);
            meter.OnSound(quiet, 1, 48_000, block - 10_000);
            meter.OnSound(beep, 1, 48_000, block);
            meter.OnSound(beep, 1, 48_000, block + 10_000); // the same beep going on
            meter.OnSound(quiet, 1, 48_000, block + 120_000);
        }

        (double median, int pairs) = meter.Measure()!.Value;
        Assert.Equal(5, pairs);
        Assert.InRange(median, 35, 35.5); // 5 ms into the block, the first loud sample a few samples later
    }
}
