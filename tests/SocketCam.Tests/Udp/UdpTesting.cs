using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

/// <summary>Frames, their datagrams and a generic read-then-rewrite for the UDP tests.</summary>
internal static class UdpTesting
{
    public const ulong Session = 0x1122334455667788;

    public static byte[] Bytes(int length, int seed = 1)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static VideoFrameHeader JpegHeader(long sequence = 7) => new(CodecId.Jpeg, 1280, 720, sequence, 1_700_000_000_000_000 + sequence);

    /// <summary>All datagrams of a frame, copied out of the pooled buffer, in send order.</summary>
    public static byte[][] Datagrams(uint frameId, byte[] data, int group, VideoFrameHeader? header = null)
    {
        using FragmentedFrame frame = FrameFragmenter.Fragment(Session, frameId, header ?? JpegHeader(frameId), data, group);
        return [.. Enumerable.Range(0, frame.Count).Select(i => frame[i].ToArray())];
    }

    public static ushort IndexOf(byte[] datagram)
    {
        Assert.True(UdpWire.TryReadFragment(datagram, int.MaxValue, out FragmentHeader header, out _));
        return header.Index;
    }

    /// <summary>
    /// Reads a datagram with the reader its prefix names and writes what it read again. Null when a reader refuses it.
    /// Also checks that no other type's reader accepts it.
    /// </summary>
    public static byte[]? ReadAndRewrite(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadPrefix(d, out DatagramType type, out ulong session))
        {
            return null;
        }

        byte[] buffer = new byte[2048];
        int n;
        switch (type)
        {
            case DatagramType.Hello when UdpWire.TryReadHello(d, out UdpHello hello):
                n = UdpWire.WriteHello(buffer, session, hello);
                n = Math.Max(n, d.Length); // the writer pads to 256; a longer HELLO was padded further by its sender
                break;
            case DatagramType.Welcome when UdpWire.TryReadWelcome(d, out UdpWelcome welcome):
                n = UdpWire.WriteWelcome(buffer, session, welcome);
                break;
            case DatagramType.Refuse when UdpWire.TryReadRefuse(d, out UdpRefuse refuse):
                n = UdpWire.WriteRefuse(buffer, session, refuse, UdpWire.MaxDatagram);
                break;
            case DatagramType.Fragment when UdpWire.TryReadFragment(d, int.MaxValue, out FragmentHeader header, out ReadOnlySpan<byte> payload):
                n = UdpWire.WriteFragment(buffer, session, header, payload);
                break;
            case DatagramType.Nack when UdpWire.TryReadNack(d, out UdpNack nack):
                n = UdpWire.WriteNack(buffer, session, nack);
                break;
            case DatagramType.Audio when UdpWire.TryReadAudio(d, out UdpAudioHeader audio, out ReadOnlySpan<byte> sound):
                n = UdpWire.WriteAudio(buffer, session, audio, sound);
                break;
            case DatagramType.AudioNack when UdpWire.TryReadAudioNack(d, out ReadOnlySpan<byte> ids):
                uint[] list = new uint[ids.Length / 4];
                for (int i = 0; i < list.Length; i++)
                {
                    list[i] = UdpWire.AudioNackId(ids, i);
                }

                n = UdpWire.WriteAudioNack(buffer, session, list);
                break;
            case DatagramType.KeyframeRequest when UdpWire.TryReadKeyframeRequest(d, out byte reason):
                n = UdpWire.WriteKeyframeRequest(buffer, session, reason);
                break;
            case DatagramType.Report when UdpWire.TryReadReport(d, out UdpReport report):
                n = UdpWire.WriteReport(buffer, session, report);
                break;
            case DatagramType.Ping when UdpWire.TryReadPing(d, out PingMessage ping):
                n = PingRoundTrip.Write(buffer, session, ping, PingRoundTrip.Read(d));
                break;
            case DatagramType.Pong when UdpWire.TryReadPong(d, out PongMessage pong):
                n = UdpWire.WritePong(buffer, session, pong);
                break;
            case DatagramType.Signal when UdpWire.TryReadSignal(d, out SignalMessage signal):
                n = UdpWire.WriteSignal(buffer, session, signal);
                break;
            case DatagramType.Bye when UdpWire.TryReadBye(d, out CloseMessage bye):
                n = UdpWire.WriteBye(buffer, session, bye);
                break;
            default:
                return null;
        }

        Assert.Equal(1, AcceptingReaders(d));
        return buffer[..n];
    }

    /// <summary>How many of the readers accept the datagram (a valid one: exactly its own).</summary>
    public static int AcceptingReaders(ReadOnlySpan<byte> d) =>
        (UdpWire.TryReadHello(d, out _) ? 1 : 0) + (UdpWire.TryReadWelcome(d, out _) ? 1 : 0) + (UdpWire.TryReadRefuse(d, out _) ? 1 : 0)
        + (UdpWire.TryReadFragment(d, int.MaxValue, out _, out _) ? 1 : 0) + (UdpWire.TryReadNack(d, out UdpNack _) ? 1 : 0)
        + (UdpWire.TryReadReport(d, out _) ? 1 : 0) + (UdpWire.TryReadPing(d, out _) ? 1 : 0) + (UdpWire.TryReadPong(d, out _) ? 1 : 0)
        + (UdpWire.TryReadSignal(d, out _) ? 1 : 0) + (UdpWire.TryReadBye(d, out _) ? 1 : 0)
        + (UdpWire.TryReadAudio(d, out _, out _) ? 1 : 0) + (UdpWire.TryReadAudioNack(d, out _) ? 1 : 0)
        + (UdpWire.TryReadKeyframeRequest(d, out _) ? 1 : 0);

    /// <summary>Offsets of the reserved bytes of a type (receivers ignore them; writers write 0).</summary>
    public static int[] ReservedOffsets(DatagramType type) => type switch
    {
        DatagramType.Welcome => [6, 7, 38, 39],
        DatagramType.Nack => [6, 7, 22, 23],
        DatagramType.Report => [6, 7, 36, 37, 38, 39],
        DatagramType.Pong => [6, 7, 20, 21, 22, 23],
        DatagramType.Signal => [6, 7, 17],
        DatagramType.Audio => [6, 7, 27],
        DatagramType.AudioNack => [6, 7, 17, 18, 19],
        DatagramType.KeyframeRequest => [6, 7, 17, 18, 19],
        _ => [6, 7],
    };

    /// <summary>One valid datagram of every type, and the offsets of its reserved bytes (receivers ignore them).</summary>
    public static IEnumerable<(string Name, byte[] Datagram, int[] Reserved)> Samples()
    {
        int[] prefix = [6, 7];
        byte[] b = new byte[UdpWire.MaxDatagram];
        yield return ("hello", b[..UdpWire.WriteHello(b, 0, new UdpHello(42, 1, PeerRole.Viewer, "main", "s3cret", "socketcam/1.0 view"))], prefix);
        yield return ("welcome", b[..UdpWire.WriteWelcome(b, Session, new UdpWelcome(42, 123_456_789, 16 << 20, UdpWire.FragmentPayload))], [.. prefix, 38, 39]);
        yield return ("refuse", b[..UdpWire.WriteRefuse(b, 0, new UdpRefuse(42, ErrorCode.RoomBusy, "room 'main' already has a publisher"), 256)], prefix);
        yield return ("fragment", Datagrams(9, Bytes(3000), 2)[1], prefix);
        yield return ("parity", Datagrams(9, Bytes(3000), 2)[2], prefix);
        yield return ("raw fragment", Datagrams(3, Bytes(4 * 2 * 3), 0, new VideoFrameHeader(CodecId.RawBgr24, 4, 2, 1, 2))[0], prefix);
        yield return ("nack", b[..UdpWire.WriteNack(b, Session, 77, [1, 5, 600])], [.. prefix, 22, 23]);
        yield return ("report", b[..UdpWire.WriteReport(b, Session, new UdpReport(1000, 50, 30, 2, 12_345))], [.. prefix, 36, 37, 38, 39]);
        yield return ("ping", b[..PingRoundTrip.Write(b, Session, new PingMessage(3, -5), 12_345)], prefix);
        yield return ("pong", b[..UdpWire.WritePong(b, Session, new PongMessage(3, -5, 99))], [.. prefix, 20, 21, 22, 23]);
        yield return ("signal", b[..UdpWire.WriteSignal(b, Session, new SignalMessage(false, "ffmpeg exited: déjà vu"))], [.. prefix, 17]);
        yield return ("audio", b[..UdpWire.WriteAudio(b, Session, new UdpAudioHeader(5, CodecId.Opus, 1, 960, 40, false, 77, -3), Bytes(40))], [.. prefix, 27]);
        yield return ("resent audio", b[..UdpWire.WriteAudio(b, Session, new UdpAudioHeader(6, CodecId.Opus, 2, 480, 3, true, 78, 9), Bytes(3))], [.. prefix, 27]);
        yield return ("audio nack", b[..UdpWire.WriteAudioNack(b, Session, [1, 2, uint.MaxValue])], [.. prefix, 17, 18, 19]);
        yield return ("keyframe request", b[..UdpWire.WriteKeyframeRequest(b, Session, UdpWire.KeyframeReasonFrameLost)], [.. prefix, 17, 18, 19]);
        yield return ("h264 fragment", Datagrams(4, Bytes(2000), 0, new VideoFrameHeader(CodecId.H264, 64, 48, 1, 2))[1], prefix);
        yield return ("bye", b[..UdpWire.WriteBye(b, Session, new CloseMessage(ErrorCode.IdleTimeout, "nothing heard for 5 s"))], prefix);
    }
}
