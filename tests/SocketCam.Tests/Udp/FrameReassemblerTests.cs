using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

public sealed class FrameReassemblerTests
{
    private const int Cap = 4 << 20;
    private const long T0 = 1_000_000_000;

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 4)]
    [InlineData(UdpWire.FragmentPayload, 0)]
    [InlineData(UdpWire.FragmentPayload, 10)]
    [InlineData(1149, 0)]
    [InlineData(1149, 1)]
    [InlineData(100_000, 0)]
    [InlineData(100_000, 10)]
    [InlineData(100_000, 32)]
    [InlineData(640 * 480 * 3, 8)]
    public void Fragments_in_any_order_with_duplicates_rebuild_the_frame(int size, int group)
    {
        byte[] data = UdpTesting.Bytes(size, size);
        VideoFrameHeader header = size == 640 * 480 * 3 ? new VideoFrameHeader(CodecId.RawBgr24, 640, 480, 42, 4242) : UdpTesting.JpegHeader(42);
        byte[][] datagrams = UdpTesting.Datagrams(3, data, group, header);
        var order = datagrams.Concat(datagrams.Where((_, i) => i % 3 == 0)).ToArray();
        new Random(size).Shuffle(order);

        using var reassembler = new FrameReassembler(Cap);
        CompletedFrame? completed = null;
        var results = new List<ReassemblyResult>();
        foreach (byte[] d in order)
        {
            results.Add(reassembler.Accept(d, T0, out CompletedFrame? frame));
            completed ??= frame;
        }

        Assert.NotNull(completed);
        using (completed)
        {
            Assert.Equal(data, completed.Data.ToArray());
            Assert.Equal(header, completed.Header);
            Assert.Equal(3u, completed.FrameId);
        }

        Assert.Equal(1, results.Count(r => r == ReassemblyResult.Completed));
        Assert.DoesNotContain(ReassemblyResult.Malformed, results);
        Assert.Equal(1, reassembler.Stats.FramesCompleted);
        Assert.Equal(0, reassembler.FramesInFlight);
    }

    [Theory]
    [InlineData(100_000, 4)]
    [InlineData(100_000, 10)]
    [InlineData(100_000, 32)]
    [InlineData(UdpWire.FragmentPayload * 9 + 100, 4)]
    [InlineData(UdpWire.FragmentPayload * 8 + 1, 4)]
    [InlineData(5000, 1)]
    [InlineData(700, 3)]
    public void Any_single_loss_per_group_is_rebuilt_byte_for_byte(int size, int group)
    {
        byte[] data = UdpTesting.Bytes(size, 11);
        byte[][] datagrams = UdpTesting.Datagrams(1, data, group);
        int dataCount = UdpWire.DataCount(size);
        int parityCount = UdpWire.ParityCount(dataCount, group);
        var random = new Random(size + group);
        for (int trial = 0; trial < 12; trial++)
        {
            // One loss in every group: a data fragment or the parity.
            var lost = new HashSet<int>();
            for (int g = 0; g < parityCount; g++)
            {
                int first = g * group;
                int inGroup = Math.Min(group, dataCount - first);
                int pick = random.Next(inGroup + 1);
                lost.Add(pick == inGroup ? dataCount + g : first + pick);
            }

            byte[][] arriving = [.. datagrams.Where(d => !lost.Contains(UdpTesting.IndexOf(d)))];
            random.Shuffle(arriving);
            using var reassembler = new FrameReassembler(Cap);
            CompletedFrame? completed = null;
            foreach (byte[] d in arriving)
            {
                if (reassembler.Accept(d, T0, out CompletedFrame? frame) == ReassemblyResult.Completed)
                {
                    completed = frame;
                }
            }

            Assert.NotNull(completed);
            using (completed)
            {
                Assert.Equal(data, completed.Data.ToArray());
            }

            Assert.Equal(lost.Count(i => i < dataCount), reassembler.Stats.Recovered);
            var nacks = new List<UdpNack>();
            Assert.Equal(0, reassembler.CollectNacks(T0 + 50_000, 0, nacks));
        }
    }

    [Fact]
    public void Nack_lists_exactly_what_parity_cannot_rebuild_and_retransmissions_complete_the_frame()
    {
        byte[] data = UdpTesting.Bytes(98_000, 5); // 88 data fragments of 1124
        const int Group = 10;
        FragmentedFrame sent = FrameFragmenter.Fragment(UdpTesting.Session, 8, UdpTesting.JpegHeader(8), data, Group);
        Assert.Equal(88, sent.DataCount);
        Assert.Equal(9, sent.ParityCount);
        using var retransmit = new RetransmitBuffer();
        retransmit.Add(sent, T0);

        // Group 0: 1, 2, 5 lost, parity here (5 is left to parity). Group 1: 12 and its parity lost. Group 2: 25 alone
        // (rebuilt at once). Last group (80..87): 86, 87 and its parity lost.
        int[] lost = [1, 2, 5, 12, 88 + 1, 25, 86, 87, 88 + 8];
        using var reassembler = new FrameReassembler(Cap);
        for (int p = 0; p < sent.Count; p++)
        {
            if (!lost.Contains(sent.IndexAt(p)))
            {
                Assert.Equal(ReassemblyResult.Accepted, reassembler.Accept(sent[p].Span, T0 + p, out _));
            }
        }

        Assert.Equal(1, reassembler.Stats.Recovered);
        var nacks = new List<UdpNack>();
        long last = T0 + sent.Count - 1;
        Assert.Equal(0, reassembler.CollectNacks(last + 4_000, 10_000, nacks));
        Assert.Equal(1, reassembler.CollectNacks(last + 5_000, 10_000, nacks));
        Assert.Equal(8u, nacks[0].FrameId);
        Assert.Equal(new ushort[] { 1, 2, 12, 86, 87 }, nacks[0].Indexes);

        // Repeated after 1.5 round trips (15 ms), not before.
        nacks.Clear();
        Assert.Equal(0, reassembler.CollectNacks(last + 5_000 + 14_000, 10_000, nacks));
        Assert.Equal(1, reassembler.CollectNacks(last + 5_000 + 15_000, 10_000, nacks));
        Assert.Equal(new ushort[] { 1, 2, 12, 86, 87 }, nacks[0].Indexes);

        // The NACK goes over the wire and the sender answers from its buffer.
        byte[] wire = new byte[UdpWire.MaxDatagram];
        int n = UdpWire.WriteNack(wire, UdpTesting.Session, nacks[0]);
        Assert.True(UdpWire.TryReadNack(wire.AsSpan(0, n), out uint frameId, out ReadOnlySpan<byte> raw));
        var results = new List<ReassemblyResult>();
        CompletedFrame? completed = null;
        for (int i = 0; i < raw.Length / 2; i++)
        {
            Assert.True(retransmit.TryGetForResend(frameId, UdpWire.NackIndex(raw, i), out ReadOnlyMemory<byte> resend));
            results.Add(reassembler.Accept(resend.Span, last + 30_000, out CompletedFrame? frame));
            completed ??= frame;
        }

        Assert.Equal(ReassemblyResult.Completed, results[^1]);
        Assert.NotNull(completed);
        using (completed)
        {
            Assert.Equal(data, completed.Data.ToArray());
        }

        ReassemblyStats stats = reassembler.Stats;
        Assert.Equal(5, stats.RetransmittedArrivals);
        Assert.Equal(2, stats.Recovered);
        Assert.Equal(10, stats.FragmentsNacked);
        Assert.Equal(88, stats.FragmentsExpected);
        Assert.Equal(7, stats.FragmentsLost);
        Assert.Equal(new UdpReport(88, 7, 1, 0, 321), reassembler.TakeReport(321));
        Assert.Equal(new UdpReport(0, 0, 0, 0, 0), reassembler.TakeReport(0));
    }

    [Fact]
    public void Nack_waits_for_a_newer_frame_or_5_ms_and_stops_when_the_deadline_is_near_or_recovery_is_off()
    {
        byte[][] first = UdpTesting.Datagrams(1, UdpTesting.Bytes(10_000), 0);
        byte[][] second = UdpTesting.Datagrams(2, UdpTesting.Bytes(10_000, 2), 0);
        foreach (bool recovery in new[] { true, false })
        {
            using var reassembler = new FrameReassembler(Cap, new ReassemblyOptions { RecoveryEnabled = recovery });
            foreach (byte[] d in first.Skip(1))
            {
                reassembler.Accept(d, T0, out _);
            }

            var nacks = new List<UdpNack>();
            Assert.Equal(0, reassembler.CollectNacks(T0 + 1_000, 0, nacks));
            reassembler.Accept(second[0], T0 + 1_000, out _);
            Assert.Equal(recovery ? 1 : 0, reassembler.CollectNacks(T0 + 1_000, 0, nacks));
            if (recovery)
            {
                Assert.Equal(1u, nacks[0].FrameId);
                Assert.Equal(new ushort[] { 0 }, nacks[0].Indexes);
            }

            // A round trip of 50 ms: frame 1 is not NACKed once a retransmission could not beat its 200 ms deadline
            // (frame 2 started 1 ms later, so it still is).
            nacks.Clear();
            Assert.Equal(recovery ? 1 : 0, reassembler.CollectNacks(T0 + 150_000, 50_000, nacks));
            Assert.All(nacks, x => Assert.Equal(2u, x.FrameId));
        }
    }

    [Fact]
    public void Nacks_are_split_at_574_indexes()
    {
        byte[][] datagrams = UdpTesting.Datagrams(1, UdpTesting.Bytes(UdpWire.FragmentPayload * 1100), 0);
        using var reassembler = new FrameReassembler(Cap);
        foreach (byte[] d in datagrams[700..])
        {
            reassembler.Accept(d, T0, out _);
        }

        var nacks = new List<UdpNack>();
        Assert.Equal(2, reassembler.CollectNacks(T0 + 5_000, 0, nacks));
        Assert.Equal(574, nacks[0].Indexes.Length);
        Assert.Equal(126, nacks[1].Indexes.Length);
        Assert.Equal(Enumerable.Range(0, 700).Select(i => (ushort)i), nacks.SelectMany(x => x.Indexes));
    }

    [Fact]
    public void A_frame_with_few_fragments_arrived_is_nacked_at_most_one_datagram_or_twice_what_arrived_per_round()
    {
        // One fragment of 1100 arrived: one NACK of the 574 lowest missing, not the 1099 the header implies.
        byte[][] datagrams = UdpTesting.Datagrams(1, UdpTesting.Bytes(UdpWire.FragmentPayload * 1100), 0);
        using var reassembler = new FrameReassembler(Cap);
        reassembler.Accept(datagrams[1099], T0, out _);
        var nacks = new List<UdpNack>();
        Assert.Equal(1, reassembler.CollectNacks(T0 + 5_000, 0, nacks));
        Assert.Equal(Enumerable.Range(0, 574).Select(i => (ushort)i), nacks[0].Indexes);

        // With 400 arrived, up to 800 are asked for in a round.
        foreach (byte[] d in datagrams[699..1099])
        {
            reassembler.Accept(d, T0 + 6_000, out _);
        }

        nacks.Clear();
        reassembler.CollectNacks(T0 + 50_000, 0, nacks);
        Assert.Equal(Enumerable.Range(0, 699).Select(i => (ushort)i), nacks.SelectMany(x => x.Indexes));
    }

    [Fact]
    public void A_newer_complete_frame_drops_older_incomplete_ones_and_their_late_fragments()
    {
        byte[][] older = UdpTesting.Datagrams(1, UdpTesting.Bytes(5000), 0);
        byte[][] newer = UdpTesting.Datagrams(2, UdpTesting.Bytes(5000, 2), 0);
        using var reassembler = new FrameReassembler(Cap);
        reassembler.Accept(older[0], T0, out _);
        reassembler.Accept(older[1], T0, out _);
        CompletedFrame? completed = null;
        foreach (byte[] d in newer)
        {
            reassembler.Accept(d, T0 + 100, out CompletedFrame? frame);
            completed ??= frame;
        }

        Assert.NotNull(completed);
        completed.Dispose();
        Assert.Equal(2u, completed.FrameId);
        Assert.Equal(0, reassembler.FramesInFlight);
        Assert.Equal(1, reassembler.Stats.FramesSuperseded);
        Assert.Equal(1, reassembler.Stats.FramesLost);
        foreach (byte[] d in older.Skip(2))
        {
            Assert.Equal(ReassemblyResult.Late, reassembler.Accept(d, T0 + 200, out _));
        }

        // Frame 4 completing with frame 3 never seen counts 3 as lost too.
        foreach (byte[] d in UdpTesting.Datagrams(4, UdpTesting.Bytes(10), 0))
        {
            Assert.Equal(ReassemblyResult.Completed, reassembler.Accept(d, T0 + 300, out CompletedFrame? f));
            f!.Dispose();
        }

        Assert.Equal(1, reassembler.Stats.FramesUnseen);
        Assert.Equal(2, reassembler.Stats.FramesLost);
        Assert.Equal(new UdpReport(5 + 5 + 1 + 1, 3 + 1, 2, 2, 0), reassembler.TakeReport(0));
    }

    [Fact]
    public void Incomplete_frames_are_dropped_at_the_deadline()
    {
        byte[][] datagrams = UdpTesting.Datagrams(1, UdpTesting.Bytes(5000), 4);
        using var reassembler = new FrameReassembler(Cap);
        reassembler.Accept(datagrams[0], T0, out _);
        reassembler.Accept(datagrams[1], T0 + 150_000, out _);
        Assert.Equal(0, reassembler.Expire(T0 + 199_999));
        Assert.Equal(1, reassembler.FramesInFlight);
        Assert.Equal(1, reassembler.Expire(T0 + 200_000));
        Assert.Equal(0, reassembler.FramesInFlight);
        Assert.Equal(ReassemblyResult.Late, reassembler.Accept(datagrams[2], T0 + 200_001, out _));
        ReassemblyStats stats = reassembler.Stats;
        Assert.Equal((1, 1, 1), (stats.FramesExpired, stats.FramesLost, stats.Late));

        // Accept expires on its own too: a fragment of the next frame after the deadline finds the old one gone.
        reassembler.Accept(UdpTesting.Datagrams(2, UdpTesting.Bytes(5000), 0)[0], T0 + 300_000, out _);
        reassembler.Accept(UdpTesting.Datagrams(3, UdpTesting.Bytes(5000), 0)[0], T0 + 500_000, out _);
        Assert.Equal(2, reassembler.Stats.FramesExpired);
        Assert.Equal(1, reassembler.FramesInFlight);
    }

    [Fact]
    public void At_most_four_frames_are_in_reassembly_and_the_oldest_makes_room()
    {
        using var reassembler = new FrameReassembler(Cap);
        var firsts = Enumerable.Range(10, 5).Select(id => UdpTesting.Datagrams((uint)id, UdpTesting.Bytes(5000, id), 0)).ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(ReassemblyResult.Accepted, reassembler.Accept(firsts[i][0], T0 + i, out _));
        }

        Assert.Equal(4, reassembler.FramesInFlight);
        Assert.Equal(ReassemblyResult.Accepted, reassembler.Accept(firsts[4][0], T0 + 10, out _));
        Assert.Equal(4, reassembler.FramesInFlight);
        Assert.Equal(1, reassembler.Stats.FramesEvicted);
        Assert.Equal(ReassemblyResult.Late, reassembler.Accept(firsts[0][1], T0 + 11, out _));

        // The others are intact and still complete.
        foreach (byte[] d in firsts[1].Skip(1))
        {
            reassembler.Accept(d, T0 + 12, out CompletedFrame? f);
            f?.Dispose();
        }

        Assert.Equal(1, reassembler.Stats.FramesCompleted);
        Assert.Equal(3, reassembler.FramesInFlight);
    }

    [Fact]
    public void Far_future_frame_ids_are_ignored_until_nothing_was_delivered_for_a_second()
    {
        using var reassembler = new FrameReassembler(Cap);
        Deliver(reassembler, 10, T0);
        var far = UdpTesting.Datagrams(10 + 257, UdpTesting.Bytes(100), 0)[0];
        Assert.Equal(ReassemblyResult.FarFuture, reassembler.Accept(far, T0 + 1000, out _));
        Assert.Equal(1, reassembler.Stats.FarFuture);
        Assert.Equal(0, reassembler.FramesInFlight);

        // The session goes on undisturbed; 256 ahead is still inside the window.
        Deliver(reassembler, 11, T0 + 2000);
        Deliver(reassembler, 11 + 256, T0 + 3000);
        Assert.Equal(ReassemblyResult.Late, reassembler.Accept(UdpTesting.Datagrams(200, UdpTesting.Bytes(100), 0)[0], T0 + 4000, out _));

        // A second without a delivered frame: the sender restarted; its new ids (ahead or behind) are taken.
        Assert.Equal(ReassemblyResult.FarFuture, reassembler.Accept(UdpTesting.Datagrams(100_000, UdpTesting.Bytes(100), 0)[0], T0 + 3000 + 999_999, out _));
        Deliver(reassembler, 100_000, T0 + 3000 + 1_000_000);
        Assert.Equal(1, reassembler.Stats.Resyncs);
        Deliver(reassembler, 100_001, T0 + 3000 + 1_000_001);
        Deliver(reassembler, 0, T0 + 3000 + 2_500_000);
        Assert.Equal(2, reassembler.Stats.Resyncs);
        Assert.Equal(6, reassembler.Stats.FramesCompleted);
    }

    [Fact]
    public void Frame_ids_wrap_around()
    {
        using var reassembler = new FrameReassembler(Cap);
        foreach (uint id in new[] { uint.MaxValue - 1, uint.MaxValue, 0u, 1u })
        {
            Deliver(reassembler, id, T0);
        }

        Assert.Equal(4, reassembler.Stats.FramesCompleted);
        Assert.Equal(0, reassembler.Stats.FramesLost);
    }

    [Fact]
    public void Fragments_that_disagree_with_their_frame_are_dropped()
    {
        byte[][] a = UdpTesting.Datagrams(1, UdpTesting.Bytes(5000), 0, UdpTesting.JpegHeader(1));
        byte[][] b = UdpTesting.Datagrams(1, UdpTesting.Bytes(5000), 0, UdpTesting.JpegHeader(2));
        byte[][] c = UdpTesting.Datagrams(1, UdpTesting.Bytes(5001), 0, UdpTesting.JpegHeader(1));
        using var reassembler = new FrameReassembler(Cap);
        Assert.Equal(ReassemblyResult.Accepted, reassembler.Accept(a[0], T0, out _));
        Assert.Equal(ReassemblyResult.Inconsistent, reassembler.Accept(b[1], T0, out _));
        Assert.Equal(ReassemblyResult.Inconsistent, reassembler.Accept(c[1], T0, out _));
        Assert.Equal(ReassemblyResult.Duplicate, reassembler.Accept(a[0], T0, out _));
        Assert.Equal(ReassemblyResult.Malformed, reassembler.Accept(a[1].AsSpan(0, 100), T0, out _));
        ReassemblyStats stats = reassembler.Stats;
        Assert.Equal((2, 1, 1, 1), (stats.Inconsistent, stats.Duplicates, stats.Malformed, stats.FragmentsReceived));
    }

    [Fact]
    public void A_frame_above_the_cap_is_refused_before_anything_is_allocated()
    {
        // Announces 10 MB against a 1000-byte cap.
        byte[] d = new byte[UdpWire.MaxDatagram];
        var header = new FragmentHeader(1, 0, (ushort)UdpWire.DataCount(10_000_000), 0, CodecId.Jpeg, 1920, 1080, UdpWire.FragmentPayload, 10_000_000, 0, 0);
        int n = UdpWire.WriteFragment(d, 1, header, new byte[UdpWire.FragmentPayload]);
        using var reassembler = new FrameReassembler(1000);
        reassembler.Accept(d.AsSpan(0, n), T0, out _);
        int tooLarge = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            tooLarge += reassembler.Accept(d.AsSpan(0, n), T0, out _) == ReassemblyResult.TooLarge ? 1 : 0;
        }

        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1000);
        Assert.Equal(100, tooLarge);
        Assert.Equal(0, reassembler.FramesInFlight);
        Assert.Equal(101, reassembler.Stats.TooLarge);
    }

    [Fact]
    public void Retransmit_buffer_keeps_16_frames_or_500_ms_and_resends_each_fragment_three_times()
    {
        using var buffer = new RetransmitBuffer();
        var frames = new List<FragmentedFrame>();
        for (uint id = 0; id < 17; id++)
        {
            FragmentedFrame frame = FrameFragmenter.Fragment(1, id, UdpTesting.JpegHeader(id), UdpTesting.Bytes(3000), 2);
            frames.Add(frame);
            buffer.Add(frame, T0 + id);
        }

        Assert.Equal(16, buffer.Count);
        Assert.True(frames[0].IsDisposed);
        Assert.False(buffer.TryGetForResend(0, 0, out _));
        for (int i = 0; i < 3; i++)
        {
            Assert.True(buffer.TryGetForResend(16, 2, out ReadOnlyMemory<byte> datagram));
            Assert.Equal(frames[16].DataFragment(2).ToArray(), datagram.ToArray());
        }

        Assert.False(buffer.TryGetForResend(16, 2, out _));
        Assert.True(buffer.TryGetForResend(16, 1, out _));
        Assert.False(buffer.TryGetForResend(16, 3, out _)); // a parity index: NACKs name data fragments only
        Assert.Equal((4, 3), (buffer.Resent, buffer.Refused));

        Assert.Equal(0, buffer.EvictExpired(T0 + 500_001));
        Assert.Equal(2, buffer.EvictExpired(T0 + 500_003));
        Assert.Equal(14, buffer.Count);
        buffer.Dispose();
        Assert.All(frames, f => Assert.True(f.IsDisposed));
    }

    [Fact]
    public void Fragmenter_sends_each_groups_parity_right_after_its_data()
    {
        using FragmentedFrame frame = FrameFragmenter.Fragment(1, 1, UdpTesting.JpegHeader(), UdpTesting.Bytes(UdpWire.FragmentPayload * 10), 4);
        Assert.Equal((10, 3, 13), (frame.DataCount, frame.ParityCount, frame.Count));
        Assert.Equal(new[] { 0, 1, 2, 3, 10, 4, 5, 6, 7, 11, 8, 9, 12 }, Enumerable.Range(0, frame.Count).Select(frame.IndexAt));
        Assert.All(Enumerable.Range(0, frame.Count), p => Assert.Equal(frame.IndexAt(p), UdpTesting.IndexOf(frame[p].ToArray())));
        frame.Dispose();
        Assert.Throws<ObjectDisposedException>(() => frame.DataFragment(0));
    }

    private static void Deliver(FrameReassembler reassembler, uint frameId, long now)
    {
        ReassemblyResult result = default;
        foreach (byte[] d in UdpTesting.Datagrams(frameId, UdpTesting.Bytes(3000, (int)frameId), 0))
        {
            result = reassembler.Accept(d, now, out CompletedFrame? frame);
            frame?.Dispose();
        }

        Assert.Equal(ReassemblyResult.Completed, result);
    }
}
