using System.Buffers.Binary;
using SocketCam.Media;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

/// <summary>
/// Audio over UDP (docs/PROTOCOL.md §2.0 "Audio"): the AUDIO and AUDIO_NACK layouts, read strictly, and the two halves
/// of its loss recovery: the receiver NACKs what a jump skipped (once at once, once more after 1.5 round trips, never
/// after 100 ms) and drops duplicates and strays; the sender resends what it still has, at most twice, within 200 ms.
/// </summary>
public sealed class UdpAudioTests
{
    private const ulong Session = UdpTesting.Session;

    [Fact]
    public void Audio_and_its_nack_round_trip_at_the_sizes_of_the_spec()
    {
        byte[] b = new byte[UdpWire.MaxDatagram];
        byte[] payload = [.. Enumerable.Range(0, UdpWire.MaxAudioPayload).Select(i => (byte)i)];
        var header = new UdpAudioHeader(uint.MaxValue, CodecId.Opus, 2, 960, (ushort)payload.Length, false, 1L << 40, -5);
        int n = UdpWire.WriteAudio(b, Session, header, payload);
        Assert.Equal(1176, n);
        Assert.Equal(UdpWire.MaxDatagram, n + DatagramSeal.Overhead); // a sealed AUDIO still fits
        Assert.True(UdpWire.TryReadPrefix(b.AsSpan(0, n), out DatagramType type, out ulong session));
        Assert.Equal((DatagramType.Audio, Session), (type, session));
        Assert.True(UdpWire.TryReadAudio(b.AsSpan(0, n), out UdpAudioHeader back, out ReadOnlySpan<byte> data));
        Assert.Equal(header, back);
        Assert.Equal(payload, data.ToArray());

        UdpWire.MarkAudioResent(b.AsSpan(0, n));
        Assert.True(UdpWire.TryReadAudio(b.AsSpan(0, n), out back, out _));
        Assert.True(back.Resent);

        uint[] ids = [.. Enumerable.Range(0, UdpWire.MaxAudioNackCount).Select(i => (uint)(i * 7))];
        n = UdpWire.WriteAudioNack(b, Session, ids);
        Assert.Equal(20 + (4 * 16), n);
        Assert.Equal(ids, NackedIds(b.AsSpan(0, n)));

        Assert.Throws<ArgumentOutOfRangeException>(() => UdpWire.WriteAudio(b, Session, header, new byte[UdpWire.MaxAudioPayload + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => UdpWire.WriteAudioNack(b, Session, new uint[17]));
    }

    [Theory]
    [InlineData("length says more than there is")]
    [InlineData("length says less than there is")]
    [InlineData("no payload")]
    [InlineData("not opus")]
    [InlineData("three channels")]
    [InlineData("odd sample count")]
    [InlineData("nack count zero")]
    [InlineData("nack count lies")]
    public void A_malformed_audio_datagram_is_refused_without_throwing(string lie)
    {
        byte[] b = new byte[UdpWire.MaxDatagram + 8];
        int n = UdpWire.WriteAudio(b, Session, new UdpAudioHeader(1, CodecId.Opus, 1, 960, 10, false, 1, 1), new byte[10]);
        bool nack = lie.StartsWith("nack", StringComparison.Ordinal);
        if (nack)
        {
            n = UdpWire.WriteAudioNack(b, Session, [1, 2]);
        }

        switch (lie)
        {
            case "length says more than there is": BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(24), 11); break;
            case "length says less than there is": n += 1; break;
            case "no payload": BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(24), 0); n = UdpWire.AudioHeaderSize; break;
            case "not opus": b[20] = (byte)CodecId.Jpeg; break;
            case "three channels": b[21] = 3; break;
            case "odd sample count": BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(22), 961); break;
            case "nack count zero": b[16] = 0; break;
            case "nack count lies": b[16] = 3; break;
        }

        Assert.False(nack ? UdpWire.TryReadAudioNack(b.AsSpan(0, n), out _) : UdpWire.TryReadAudio(b.AsSpan(0, n), out _, out _));
    }

    [Fact]
    public void A_gap_is_nacked_at_once_and_once_more_after_a_round_trip_then_given_up()
    {
        var sent = new List<uint[]>();
        var receiver = new UdpAudioReceiver(d => sent.Add(NackedIds(d)), Session, recovery: true) { RttMicros = 4_000 };
        long t = 1_000_000;
        Assert.True(Accept(receiver, 10, t));
        Assert.True(Accept(receiver, 11, t += 20_000));
        Assert.True(Accept(receiver, 14, t += 60_000)); // 12 and 13 lost
        uint[] first = Assert.Single(sent);
        Assert.Equal([12u, 13u], first);

        receiver.Tick(t + 1_000); // before 1.5 round trips: nothing again
        Assert.Single(sent);
        Assert.True(Accept(receiver, 12, t + 3_000)); // a resend brings 12 back
        receiver.Tick(t + 7_000);
        Assert.Equal(2, sent.Count);
        Assert.Equal([13u], sent[1]);
        receiver.Tick(t + 20_000); // asked twice: no third time
        Assert.Equal(2, sent.Count);
        receiver.Tick(t + 101_000);

        UdpAudioStats stats = receiver.Stats;
        Assert.Equal(2, stats.Missed);
        Assert.Equal(1, stats.Recovered);
        Assert.Equal(1, stats.GaveUp);
        Assert.Equal(3, stats.Nacked);
        Assert.Equal(4, stats.Received);
    }

    [Fact]
    public void Duplicates_strays_and_a_restart_are_told_apart()
    {
        var sent = new List<uint[]>();
        var receiver = new UdpAudioReceiver(d => sent.Add(NackedIds(d)), Session, recovery: true);
        long t = 5_000_000;
        Assert.True(Accept(receiver, 1000, t));
        Assert.False(Accept(receiver, 1000, t + 1)); // the same again (a resend crossing the original)
        Assert.False(Accept(receiver, 1000 + 5000, t + 2)); // a stray far ahead cannot move the window
        Assert.False(Accept(receiver, 900, t + 3)); // behind by more than the 64 remembered: dropped like a duplicate
        Assert.True(Accept(receiver, 1001, t + 4));
        Assert.True(Accept(receiver, 1200, t + 5)); // a jump of 199: a restart, nothing asked for
        Assert.Empty(sent);
        Assert.True(Accept(receiver, 7, t + 2_000_000)); // silence for 2 s, then a new sender: taken
        Assert.False(Accept(receiver, 7 + 0x8000_0000u, t + 2_000_001)); // half the id space away (int.MinValue): a stray, no overflow
        UdpAudioStats stats = receiver.Stats;
        Assert.Equal((2L, 2L, 4L), (stats.Duplicates, stats.Strays, stats.Received));

        var quiet = new UdpAudioReceiver(d => sent.Add(NackedIds(d)), Session, recovery: false);
        Assert.True(Accept(quiet, 1, t));
        Assert.True(Accept(quiet, 5, t + 1));
        quiet.Tick(t + 50_000);
        Assert.Empty(sent); // without loss recovery nothing is NACKed
    }

    [Fact]
    public void The_sender_resends_what_it_still_has_at_most_twice_and_within_200_ms()
    {
        var wire = new List<byte[]>();
        var sender = new UdpAudioSender(d => wire.Add(d.ToArray()), Session);
        long t = 1_000_000;
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(UdpWire.AudioHeaderSize + 3, sender.Send(Info(i, t), 1, [1, 2, (byte)i], t + (i * 20_000)));
        }

        Assert.Equal(40, wire.Count);
        Assert.True(UdpWire.TryReadAudio(wire[39], out UdpAudioHeader last, out _));
        Assert.Equal(39u, last.PacketId);
        Assert.False(last.Resent);

        long now = t + (39 * 20_000) + 1_000;
        byte[] nack = new byte[UdpWire.MaxDatagram];
        int n = UdpWire.WriteAudioNack(nack, Session, [39, 38, 2, 1000]); // 2 is gone (32 kept), 1000 never sent
        Assert.Equal(2, sender.OnNack(nack.AsSpan(UdpWire.AudioNackFixedSize, n - UdpWire.AudioNackFixedSize), now));
        Assert.True(UdpWire.TryReadAudio(wire[40], out UdpAudioHeader resent, out ReadOnlySpan<byte> payload));
        Assert.True(resent.Resent);
        Assert.Equal(39u, resent.PacketId);
        Assert.Equal([1, 2, 39], payload.ToArray());

        UdpWire.WriteAudioNack(nack, Session, [39]);
        Assert.Equal(1, sender.OnNack(nack.AsSpan(UdpWire.AudioNackFixedSize, 4), now));
        Assert.Equal(0, sender.OnNack(nack.AsSpan(UdpWire.AudioNackFixedSize, 4), now)); // twice is all
        UdpWire.WriteAudioNack(nack, Session, [28]);
        Assert.Equal(0, sender.OnNack(nack.AsSpan(UdpWire.AudioNackFixedSize, 4), now)); // sent 221 ms ago: too late to help
        Assert.Equal(3, sender.Resent);
        Assert.Equal(0, sender.Send(Info(41, t), 1, new byte[UdpWire.MaxAudioPayload + 1], now)); // too large: not sent
        Assert.Equal(1, sender.TooLarge);
    }

    private static FrameInfo Info(long sequence, long capture) => new(TrackKind.Audio, CodecId.Opus, FrameFlags.Keyframe, 960, 0, sequence, capture);

    private static bool Accept(UdpAudioReceiver receiver, uint id, long now)
    {
        byte[] b = new byte[UdpWire.MaxDatagram];
        int n = UdpWire.WriteAudio(b, Session, new UdpAudioHeader(id, CodecId.Opus, 1, 960, 3, false, id, now), [1, 2, 3]);
        return receiver.Accept(b.AsSpan(0, n), now, out _, out _) == AudioArrival.New;
    }

    private static uint[] NackedIds(ReadOnlySpan<byte> datagram)
    {
        Assert.True(UdpWire.TryReadAudioNack(datagram, out ReadOnlySpan<byte> ids));
        uint[] back = new uint[ids.Length / 4];
        for (int i = 0; i < back.Length; i++)
        {
            back[i] = UdpWire.AudioNackId(ids, i);
        }

        return back;
    }
}
