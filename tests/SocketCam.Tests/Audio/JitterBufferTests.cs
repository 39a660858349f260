using SocketCam.Audio;
using SocketCam.Audio.Opus;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Audio;

/// <summary>
/// The receiving side's jitter buffer with real Opus packets and arrival times given by the test (no clock is read):
/// order restored, losses rebuilt by FEC or concealed, delay bounded, late and corrupt packets harmless.
/// </summary>
public sealed class JitterBufferTests
{
    private const int Packet = 960;
    private const long PacketMicros = 20_000;
    private static readonly List<byte[]> Tone = Encode(WavAnalysis.Sine(440, 48_000, Packet * 200));

    [Fact]
    public void Packets_out_of_order_play_in_order_without_concealment()
    {
        using var buffer = new JitterBuffer(1);
        // Arrivals swapped in pairs (1,0,3,2,...), each within its 20 ms.
        var played = new List<short>();
        for (int i = 0; i < 100; i += 2)
        {
            Push(buffer, i + 1, arrivalJitterMicros: 5_000);
            Push(buffer, i, arrivalJitterMicros: 5_000);
            played.AddRange(PullMs(buffer, 40));
        }

        played.AddRange(PullMs(buffer, 200));
        JitterStats s = buffer.Stats;
        Assert.Equal(100, s.Received);
        Assert.Equal(0, s.Concealed + s.Recovered + s.Late);
        Assert.True(s.Decoded >= 95, $"decoded {s.Decoded} of 100");
        short[] sound = played.SkipWhile(x => x == 0).ToArray();
        Assert.Equal(440, WavAnalysis.DominantFrequency(sound, 48_000), 0);
    }

    [Fact]
    public void A_single_loss_is_rebuilt_from_fec_and_two_in_a_row_are_concealed_then_rebuilt()
    {
        using var buffer = new JitterBuffer(1);
        var lost = new HashSet<int> { 30, 60, 61 };
        for (int i = 0; i < 100; i++)
        {
            if (!lost.Contains(i))
            {
                Push(buffer, i);
            }

            // Two packets ahead: the receiver always has the next one when it needs to make up a lost one.
            if (i >= 2)
            {
                PullMs(buffer, 20);
            }
        }

        PullMs(buffer, 200);
        JitterStats s = buffer.Stats;
        Assert.Equal(97, s.Received);
        Assert.Equal(2, s.Recovered); // 30 from 31's FEC, 61 from 62's
        Assert.Equal(1, s.Concealed); // 60: 61 is lost too, so PLC
        Assert.InRange(s.ConcealedShare, 0.029, 0.031);
    }

    [Fact]
    public void A_burst_never_builds_more_than_the_maximum_delay_and_late_packets_are_dropped()
    {
        using var buffer = new JitterBuffer(1);
        for (int i = 0; i < 100; i++)
        {
            Push(buffer, i); // all at once: the network held them and let go
        }

        JitterStats s = buffer.Stats;
        Assert.InRange(s.BufferedMs, 0, JitterBuffer.MaxDelayMs);
        Assert.True(s.Dropped >= 100 - (JitterBuffer.MaxDelayMs / 20), $"dropped {s.Dropped}");

        PullMs(buffer, 60);
        Push(buffer, 3); // long gone
        Assert.Equal(1, buffer.Stats.Late);
    }

    [Fact]
    public void Garbage_from_a_peer_is_one_concealed_packet_and_muting_plays_silence()
    {
        using var buffer = new JitterBuffer(1);
        for (int i = 0; i < 10; i++)
        {
            byte[] data = i == 4 ? [0x03, 0x00] : Tone[i];
            buffer.Push(i, Packet, i * PacketMicros, i * PacketMicros, data);
        }

        PullMs(buffer, 200);
        Assert.Equal(1, buffer.Stats.Corrupt);
        Assert.Equal(1, buffer.Stats.Concealed);

        buffer.Muted = true;
        for (int i = 10; i < 20; i++)
        {
            Push(buffer, i);
        }

        short[] muted = PullMs(buffer, 100);
        Assert.All(muted, x => Assert.Equal(0, x));
    }

    [Fact]
    public void Pauses_in_speech_are_stretched_but_do_not_count_as_lateness()
    {
        using var buffer = new JitterBuffer(1);
        var pcm = new short[480];
        long sequence = 0;
        long capture = 0;
        for (int spurt = 0; spurt < 5; spurt++)
        {
            // Ten packets on time, pulled in step; then a second of DTX silence: nothing arrives, the sequence goes on.
            for (int k = 0; k < 10; k++)
            {
                buffer.Push(sequence, Packet, capture, capture + 1_000, Tone[(int)sequence]);
                sequence++;
                capture += PacketMicros;
                buffer.Pull(pcm);
                buffer.Pull(pcm);
            }

            for (int k = 0; k < 100; k++)
            {
                buffer.Pull(pcm);
            }

            capture += 1_000_000;
        }

        JitterStats s = buffer.Stats;
        Assert.True(s.Expanded > 0, s.ToString()); // each pause was stretched by PLC at first ...
        Assert.True(s.TargetMs <= 25, s.ToString()); // ... without raising the delay for the next talk spurt
    }

    [Fact]
    public void A_lone_packet_from_before_a_pause_is_dropped_not_played_late_with_the_next_talk_spurt()
    {
        using var buffer = new JitterBuffer(1);
        var pcm = new short[480];
        long sequence = 0;
        long capture = 0;
        for (int k = 0; k < 20; k++)
        {
            // Arrivals jitter by 40 ms: the delay adapts up (to about 60 ms).
            buffer.Push(sequence, Packet, capture, capture + (k % 2 == 0 ? 1_000 : 41_000), Tone[(int)sequence]);
            sequence++;
            capture += PacketMicros;
            buffer.Pull(pcm);
            buffer.Pull(pcm);
        }

        PullMs(buffer, 500); // the pause: drained, stretched, then silent
        Assert.True(buffer.Stats.TargetMs > 40, buffer.Stats.ToString());

        // 400 ms into the pause, one lone packet (DTX's comfort-noise refresh): less than the delay, so it waits.
        buffer.Push(sequence, Packet, capture + 400_000, capture + 401_000, Tone[(int)sequence]);
        sequence++;
        PullMs(buffer, 500);
        long spurt = capture + 1_000_000;
        long dropped = buffer.Stats.Dropped;
        for (int k = 0; k < 5; k++)
        {
            buffer.Push(sequence, Packet, spurt + (k * PacketMicros), spurt + (k * PacketMicros) + 1_000, Tone[(int)sequence]);
            sequence++;
        }

        Assert.Equal(dropped + 1, buffer.Stats.Dropped);
        for (int i = 0; i < 100 && !buffer.Pull(pcm); i++)
        {
        }

        // What plays is the new talk spurt, not a packet from 600 ms before it.
        Assert.True(buffer.PlayheadCaptureMicros >= spurt, $"playing sound captured at {buffer.PlayheadCaptureMicros}, the spurt began at {spurt}");
    }

    private static void Push(JitterBuffer buffer, int sequence, long arrivalJitterMicros = 0) =>
        buffer.Push(sequence, Packet, sequence * PacketMicros, (sequence * PacketMicros) + arrivalJitterMicros, Tone[sequence]);

    private static short[] PullMs(JitterBuffer buffer, int ms)
    {
        var pcm = new short[48 * ms];
        for (int i = 0; i < ms / 10; i++)
        {
            buffer.Pull(pcm.AsSpan(i * 480, 480));
        }

        return pcm;
    }

    private static List<byte[]> Encode(short[] pcm)
    {
        using var encoder = new OpusEncoder(new AudioOptions { Dtx = false });
        var packets = new List<byte[]>();
        var bytes = new byte[OpusEncoder.MaxPacketBytes];
        for (int i = 0; i + Packet <= pcm.Length; i += Packet)
        {
            packets.Add(bytes[..encoder.Encode(pcm.AsSpan(i, Packet), bytes)]);
        }

        return packets;
    }
}
