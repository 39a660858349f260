using System.Buffers.Binary;
using System.Text;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

public sealed class UdpWireTests
{
    private const ulong Session = UdpTesting.Session;

    [Fact]
    public void Every_type_round_trips_with_the_sizes_of_the_spec()
    {
        byte[] b = new byte[UdpWire.MaxDatagram];

        var hello = new UdpHello(0xDEADBEEF01, UdpWire.HelloFlagNoRecovery, PeerRole.Publisher, "cam-1.a_b", "tøken", "socketcam/1.0 publish");
        int n = UdpWire.WriteHello(b, 0, hello);
        Assert.Equal(UdpWire.MinHelloSize, n);
        Assert.True(UdpWire.TryReadHello(b.AsSpan(0, n), out UdpHello helloBack));
        Assert.Equal(hello, helloBack);
        Assert.True(helloBack.NoLossRecovery);

        var noToken = new UdpHello(1, 0, PeerRole.Viewer, "main", null, string.Empty);
        n = UdpWire.WriteHello(b, 0, noToken);
        Assert.True(UdpWire.TryReadHello(b.AsSpan(0, n), out helloBack));
        Assert.Equal(noToken, helloBack);
        Assert.False(helloBack.NoLossRecovery);

        // The longest fields make a HELLO longer than the minimum: no padding then.
        var big = new UdpHello(2, 0, PeerRole.Viewer, new string('r', 64), new string('t', 255), new string('a', 64));
        n = UdpWire.WriteHello(b, 0, big);
        Assert.Equal(26 + 65 + 256 + 65, n);
        Assert.True(UdpWire.TryReadHello(b.AsSpan(0, n), out helloBack));
        Assert.Equal(big, helloBack);

        var welcome = new UdpWelcome(0xDEADBEEF01, -123, 16 << 20, UdpWire.FragmentPayload);
        Assert.Equal(40, UdpWire.WriteWelcome(b, Session, welcome));
        Assert.True(UdpWire.TryReadWelcome(b.AsSpan(0, 40), out UdpWelcome welcomeBack));
        Assert.Equal(welcome, welcomeBack);
        Assert.True(UdpWire.TryReadPrefix(b.AsSpan(0, 40), out DatagramType type, out ulong session));
        Assert.Equal((DatagramType.Welcome, Session), (type, session));

        var refuse = new UdpRefuse(9, ErrorCode.Unauthorized, "wrong token");
        n = UdpWire.WriteRefuse(b, 0, refuse, 256);
        Assert.Equal(28 + 11, n);
        Assert.True(UdpWire.TryReadRefuse(b.AsSpan(0, n), out UdpRefuse refuseBack));
        Assert.Equal(refuse, refuseBack);

        ushort[] indexes = [.. Enumerable.Range(0, UdpWire.MaxNackCount).Select(i => (ushort)(i * 3))];
        n = UdpWire.WriteNack(b, Session, uint.MaxValue, indexes);
        Assert.Equal(24 + (2 * 574), n);
        Assert.True(UdpWire.TryReadNack(b.AsSpan(0, n), out UdpNack nack));
        Assert.Equal(uint.MaxValue, nack.FrameId);
        Assert.Equal(indexes, nack.Indexes);
        Assert.True(UdpWire.TryReadNack(b.AsSpan(0, n), out uint frameId, out ReadOnlySpan<byte> raw));
        Assert.Equal(uint.MaxValue, frameId);
        Assert.Equal(indexes[573], UdpWire.NackIndex(raw, 573));

        var report = new UdpReport(100, 5, 30, 1, 4000);
        Assert.Equal(40, UdpWire.WriteReport(b, Session, report));
        Assert.True(UdpWire.TryReadReport(b.AsSpan(0, 40), out UdpReport reportBack));
        Assert.Equal(report, reportBack);

        var ping = new PingMessage(uint.MaxValue, long.MinValue);
        Assert.Equal(32, UdpWire.WritePing(b, Session, ping));
        Assert.True(UdpWire.TryReadPing(b.AsSpan(0, 32), out PingMessage pingBack));
        Assert.Equal(ping, pingBack);
        Assert.Equal(0u, PingRoundTrip.Read(b.AsSpan(0, 32)));
        Assert.Equal(32, PingRoundTrip.Write(b, Session, ping, 4321));
        Assert.True(UdpWire.TryReadPing(b.AsSpan(0, 32), out pingBack));
        Assert.Equal((ping, 4321u), (pingBack, PingRoundTrip.Read(b.AsSpan(0, 32))));

        var pong = new PongMessage(7, 1, long.MaxValue);
        Assert.Equal(40, UdpWire.WritePong(b, Session, pong));
        Assert.True(UdpWire.TryReadPong(b.AsSpan(0, 40), out PongMessage pongBack));
        Assert.Equal(pong, pongBack);

        foreach (var signal in new[] { new SignalMessage(true, string.Empty), new SignalMessage(false, "camera gone") })
        {
            n = UdpWire.WriteSignal(b, Session, signal);
            Assert.Equal(20 + Encoding.UTF8.GetByteCount(signal.Text), n);
            Assert.True(UdpWire.TryReadSignal(b.AsSpan(0, n), out SignalMessage signalBack));
            Assert.Equal(signal, signalBack);
        }

        var bye = new CloseMessage(ErrorCode.ServerShutdown, "bye");
        n = UdpWire.WriteBye(b, Session, bye);
        Assert.Equal(23, n);
        Assert.True(UdpWire.TryReadBye(b.AsSpan(0, n), out CloseMessage byeBack));
        Assert.Equal(bye, byeBack);
    }

    [Fact]
    public void Fragment_round_trips_and_reads_exactly_the_fields()
    {
        byte[] payload = UdpTesting.Bytes(UdpWire.FragmentPayload);
        var header = new FragmentHeader(5, 1, 3, 2, CodecId.Jpeg, 8192, 1, UdpWire.FragmentPayload, 3000, -1, long.MaxValue);
        byte[] b = new byte[UdpWire.MaxDatagram];
        int n = UdpWire.WriteFragment(b, Session, header, payload);
        Assert.Equal(UdpWire.MaxDatagram - DatagramSeal.Overhead, n); // room left for an encrypted session's seal
        Assert.True(UdpWire.TryReadFragment(b.AsSpan(0, n), 3000, out FragmentHeader back, out ReadOnlySpan<byte> payloadBack));
        Assert.Equal(header, back);
        Assert.Equal(payload, payloadBack.ToArray());
        Assert.Equal(FragmentReadResult.TooLarge, UdpWire.ReadFragment(b.AsSpan(0, n), 2999, out _, out _));
    }

    [Fact]
    public void Refuse_never_exceeds_the_hello_and_cuts_text_on_a_character_boundary()
    {
        byte[] b = new byte[UdpWire.MaxDatagram];
        string text = string.Concat(Enumerable.Repeat("é€😀", 200)) + "\nend";
        for (int max = 28; max <= 400; max++)
        {
            int n = UdpWire.WriteRefuse(b, 0, new UdpRefuse(1, ErrorCode.Malformed, text), max);
            Assert.InRange(n, max - 3, max);
            Assert.True(UdpWire.TryReadRefuse(b.AsSpan(0, n), out UdpRefuse back));
            Assert.StartsWith(back.Text, text, StringComparison.Ordinal);
        }

        // Control characters become spaces and the text stops at 1024 bytes.
        int full = UdpWire.WriteRefuse(b, 0, new UdpRefuse(1, ErrorCode.Malformed, "a\r\nb" + new string('x', 2000)), UdpWire.MaxDatagram);
        Assert.Equal(28 + 1024, full);
        Assert.True(UdpWire.TryReadRefuse(b.AsSpan(0, full), out UdpRefuse cut));
        Assert.StartsWith("a  b", cut.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Signal_and_bye_text_is_made_printable_and_cut_to_1024_bytes()
    {
        byte[] b = new byte[UdpWire.MaxDatagram];
        int n = UdpWire.WriteSignal(b, Session, new SignalMessage(false, "line1\r\n\u001b[31m" + new string('€', 400)));
        Assert.True(n <= 20 + 1024);
        Assert.True(UdpWire.TryReadSignal(b.AsSpan(0, n), out SignalMessage signal));
        Assert.StartsWith("line1   [31m€", signal.Text, StringComparison.Ordinal);
        n = UdpWire.WriteBye(b, Session, new CloseMessage(ErrorCode.Normal, new string('z', 5000)));
        Assert.Equal(20 + 1024, n);
        Assert.True(UdpWire.TryReadBye(b.AsSpan(0, n), out _));
    }

    [Fact]
    public void Every_truncation_and_every_extension_is_refused()
    {
        foreach ((string name, byte[] datagram, _) in UdpTesting.Samples())
        {
            Assert.NotNull(UdpTesting.ReadAndRewrite(datagram));
            for (int length = 0; length < datagram.Length; length++)
            {
                Assert.True(UdpTesting.AcceptingReaders(datagram.AsSpan(0, length)) == 0, $"{name} truncated to {length} was accepted");
            }

            byte[] longer = [.. datagram, 0xAB];
            Assert.True(UdpTesting.AcceptingReaders(longer) == 0, $"{name} with a byte more was accepted");
        }
    }

    [Fact]
    public void A_corrupted_byte_is_refused_or_reads_as_exactly_what_it_says()
    {
        foreach ((string name, byte[] datagram, int[] reserved) in UdpTesting.Samples())
        {
            Assert.Equal(UdpTesting.ReservedOffsets((DatagramType)datagram[5]), reserved);
            int headerLength = Math.Min(datagram.Length, 64);
            for (int offset = 0; offset < headerLength; offset++)
            {
                foreach (byte flip in new byte[] { 0x01, 0x02, 0x10, 0x80, 0xFF })
                {
                    byte[] corrupted = (byte[])datagram.Clone();
                    corrupted[offset] ^= flip;
                    byte[]? rewritten = UdpTesting.ReadAndRewrite(corrupted);
                    if (offset < 5)
                    {
                        // (Another type byte may give another valid layout, e.g. SIGNAL and BYE: then it must read as that.)
                        Assert.True(rewritten is null, $"{name}: magic/version byte {offset} ^ {flip:X2} accepted");
                        continue;
                    }

                    if (rewritten is null)
                    {
                        continue;
                    }

                    // Accepted: then it is canonical, i.e. the reader took every byte at face value (reserved ones aside).
                    byte[] expected = (byte[])corrupted.Clone();
                    foreach (int r in UdpTesting.ReservedOffsets((DatagramType)corrupted[5]))
                    {
                        expected[r] = 0;
                    }

                    Assert.True(expected.AsSpan().SequenceEqual(rewritten), $"{name}: byte {offset} ^ {flip:X2} read as something else");
                }
            }
        }
    }

    [Fact]
    public void Specific_deviations_are_refused()
    {
        byte[] b = new byte[UdpWire.MaxDatagram];
        int n = UdpWire.WriteHello(b, 0, new UdpHello(1, 0, PeerRole.Viewer, "main", null, "agent"));
        byte[] hello = b[..n];
        Assert.False(UdpWire.TryReadHello(With(hello, h => h[255] = 1), out _));                       // padding not zero
        Assert.False(UdpWire.TryReadHello(With(hello, h => h[15] = 1), out _));                        // session id not 0
        Assert.False(UdpWire.TryReadHello(With(hello, h => h[25] = 3), out _));                        // role
        Assert.False(UdpWire.TryReadHello(With(hello, h => h[27] = (byte)'/'), out _));                // room character
        Assert.False(UdpWire.TryReadHello(With(hello, h => h[26] = 0), out _));                        // empty room
        Assert.Equal((byte)'a', hello[33]);
        Assert.False(UdpWire.TryReadHello(With(hello, h => h[33] = 0x07), out _));                     // control character in the agent
        Assert.True(UdpWire.TryReadHello(With(hello, h => h[33] = (byte)'A'), out _));
        n = UdpWire.WriteHello(b, 0, new UdpHello(1, 0, PeerRole.Viewer, "main", "x", "agent"));
        Assert.Equal((byte)'x', b[32]);
        Assert.False(UdpWire.TryReadHello(With(b[..n], h => h[32] = 0xC3), out _));                    // token: bad UTF-8
        Assert.True(UdpWire.TryReadHello([.. hello, .. new byte[UdpWire.MaxDatagram - hello.Length]], out _));
        Assert.False(UdpWire.TryReadHello([.. hello, .. new byte[UdpWire.MaxDatagram - hello.Length + 1]], out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => UdpWire.WriteHello(b, 5, new UdpHello(1, 0, PeerRole.Viewer, "main", null, "a")));

        n = UdpWire.WriteWelcome(b, Session, new UdpWelcome(1, 2, 3, UdpWire.FragmentPayload));
        Assert.False(UdpWire.TryReadWelcome(With(b[..n], w => w[37] ^= 1), out _));                   // fragment payload not 1124

        n = UdpWire.WriteSignal(b, Session, new SignalMessage(true, "ok"));
        Assert.False(UdpWire.TryReadSignal(With(b[..n], s => s[16] = 2), out _));                      // state
        Assert.False(UdpWire.TryReadSignal(With(b[..n], s => s[20] = (byte)'\n'), out _));             // control character
        Assert.False(UdpWire.TryReadSignal(With(b[..n], s => s[20] = 0xFF), out _));                   // bad UTF-8

        n = UdpWire.WriteNack(b, Session, 1, [1]);
        Assert.False(UdpWire.TryReadNack(With(b[..n], x => x[21] = 0), out UdpNack _));                // count 0
        Assert.Throws<ArgumentOutOfRangeException>(() => UdpWire.WriteNack(b, Session, 1, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => UdpWire.WriteNack(b, Session, 1, new ushort[575]));

        n = UdpWire.WriteReport(b, Session, new UdpReport(10, 10, 0, 0, 0));
        Assert.False(UdpWire.TryReadReport(With(b[..n], r => r[23] = 11), out _));                     // more lost than expected
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(1124, 2)]
    [InlineData(1125, 2)]
    [InlineData(50_000, 4)]
    public void Fragment_reader_checks_counts_indexes_and_lengths(int total, int group)
    {
        byte[][] datagrams = UdpTesting.Datagrams(1, UdpTesting.Bytes(total), group);
        int dataCount = UdpWire.DataCount(total);
        Assert.Equal(dataCount + UdpWire.ParityCount(dataCount, group), datagrams.Length);
        foreach (byte[] d in datagrams)
        {
            Assert.True(UdpWire.TryReadFragment(d, total, out FragmentHeader h, out _));
            Assert.False(UdpWire.TryReadFragment(With(d, x => BinaryPrimitives.WriteUInt16BigEndian(x.AsSpan(22), (ushort)(dataCount + 1))), int.MaxValue, out _, out _));
            Assert.False(UdpWire.TryReadFragment(With(d, x => BinaryPrimitives.WriteUInt16BigEndian(x.AsSpan(20), (ushort)datagrams.Length)), int.MaxValue, out _, out _));
            Assert.False(UdpWire.TryReadFragment(With(d, x => BinaryPrimitives.WriteUInt16BigEndian(x.AsSpan(30), (ushort)(h.PayloadLength + 1))), int.MaxValue, out _, out _));
            Assert.False(UdpWire.TryReadFragment(With(d, x => x[25] = 4), int.MaxValue, out _, out _)); // 3 is H.264 (issue 19); 4 is no video codec
            Assert.False(UdpWire.TryReadFragment(With(d, x => BinaryPrimitives.WriteUInt16BigEndian(x.AsSpan(26), 8193)), int.MaxValue, out _, out _));
            Assert.False(UdpWire.TryReadFragment(With(d, x => BinaryPrimitives.WriteUInt16BigEndian(x.AsSpan(28), 0)), int.MaxValue, out _, out _));
        }
    }

    [Fact]
    public void Raw_fragments_must_announce_width_times_height_times_three()
    {
        byte[] d = UdpTesting.Datagrams(1, UdpTesting.Bytes(10 * 10 * 3), 0, new VideoFrameHeader(CodecId.RawBgr24, 10, 10, 0, 0))[0];
        Assert.True(UdpWire.TryReadFragment(d, int.MaxValue, out _, out _));
        Assert.False(UdpWire.TryReadFragment(With(d, x => x[27] = 11), int.MaxValue, out _, out _));
        Assert.Throws<ArgumentException>(() => FrameFragmenter.Fragment(1, 1, new VideoFrameHeader(CodecId.RawBgr24, 10, 10, 0, 0), new byte[299], 0));
    }

    [Fact]
    public void Random_junk_never_throws_and_is_never_accepted_by_two_readers()
    {
        var random = new Random(1234);
        using var reassembler = new FrameReassembler(1 << 20);
        byte[] buffer = new byte[1300];
        for (int i = 0; i < 20_000; i++)
        {
            int length = random.Next(0, buffer.Length + 1);
            Span<byte> d = buffer.AsSpan(0, length);
            random.NextBytes(d);
            if (length >= 16 && random.Next(2) == 0)
            {
                // A valid prefix of a random type, so the junk reaches the field checks.
                BinaryPrimitives.WriteUInt32BigEndian(d, UdpWire.Magic);
                d[4] = UdpWire.Version;
                d[5] = (byte)Enum.GetValues<DatagramType>()[random.Next(10)];
            }

            Assert.InRange(UdpTesting.AcceptingReaders(d), 0, 1);
            _ = UdpWire.TryReadPrefix(d, out _, out _);
            _ = reassembler.Accept(d, i, out CompletedFrame? frame);
            frame?.Dispose();
        }
    }

    [Fact]
    public void Xor_parity_matches_a_scalar_xor_at_every_length()
    {
        var random = new Random(3);
        for (int length = 0; length <= 200; length++)
        {
            byte[] a = new byte[length + 7];
            byte[] s = new byte[length];
            random.NextBytes(a);
            random.NextBytes(s);
            byte[] expected = (byte[])a.Clone();
            for (int i = 0; i < length; i++)
            {
                expected[i] ^= s[i];
            }

            XorParity.XorInto(a, s);
            Assert.Equal(expected, a);
        }

        Assert.Throws<ArgumentException>(() => XorParity.XorInto(new byte[1], new byte[2]));
    }

    private static byte[] With(byte[] datagram, Action<byte[]> change)
    {
        byte[] copy = (byte[])datagram.Clone();
        change(copy);
        return copy;
    }
}
