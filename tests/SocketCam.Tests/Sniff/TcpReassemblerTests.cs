using SocketCam.Sniff;

namespace SocketCam.Tests.Sniff;

/// <summary>The sniffer's passive TCP reassembly: segments as a capture shows them (reordered, repeated, missing, cut short).</summary>
public sealed class TcpReassemblerTests
{
    private sealed class Collector : IByteStreamConsumer
    {
        public List<byte> Bytes { get; } = [];
        public long Lost { get; private set; }

        public void Consume(ReadOnlySpan<byte> data) => Bytes.AddRange(data.ToArray());

        void IByteStreamConsumer.Lost(long bytes) => Lost += bytes;
    }

    private static byte[] Data(int from, int count) => [.. Enumerable.Range(from, count).Select(i => (byte)i)];

    private readonly PendingBudget _budget = new(64 << 20);

    [Fact]
    public void Reordered_segments_are_delivered_in_order_and_counted()
    {
        var r = new TcpReassembler(_budget);
        var c = new Collector();
        r.Syn(999); // data starts at 1000
        r.Segment(1020, Data(20, 5), 5, 0, c);
        r.Segment(1010, Data(10, 10), 10, 0, c);
        Assert.Empty(c.Bytes);
        r.Segment(1000, Data(0, 10), 10, 0, c);
        Assert.Equal(Data(0, 25), c.Bytes);
        Assert.Equal(2, r.OutOfOrder);
        Assert.Equal(0, r.Retransmissions);
        Assert.Equal(0, _budget.Used); // what waited was given back
    }

    [Fact]
    public void Retransmitted_bytes_are_counted_and_never_delivered_twice_across_the_sequence_wrap()
    {
        var r = new TcpReassembler(_budget);
        var c = new Collector();
        r.Syn(uint.MaxValue - 4);
        uint start = unchecked(uint.MaxValue - 3);
        r.Segment(start, Data(0, 10), 10, 0, c);
        r.Segment(start, Data(0, 10), 10, 0, c); // the same again
        r.Segment(unchecked(start + 5), Data(5, 10), 10, 0, c); // half old, half new
        r.Syn(uint.MaxValue - 4); // a retransmitted SYN changes nothing
        r.Segment(unchecked(start + 15), Data(15, 1), 1, 0, c);
        Assert.Equal(Data(0, 16), c.Bytes);
        Assert.Equal(2, r.Retransmissions);
    }

    [Fact]
    public void A_hole_the_sender_never_fills_is_given_up_after_a_second_of_capture_time_and_reported_lost()
    {
        var r = new TcpReassembler(_budget);
        var c = new Collector();
        r.Syn(0);
        r.Segment(1, Data(0, 10), 10, 0, c);
        r.Segment(111, Data(110, 10), 10, 100_000, c); // bytes 10..109 never arrive (the capture missed them)
        r.Segment(121, Data(120, 10), 10, 500_000, c);
        Assert.Equal(10, c.Bytes.Count);
        r.Segment(131, Data(130, 10), 10, 1_200_000, c);
        Assert.Equal(100, c.Lost);
        Assert.Equal(1, r.Gaps);
        Assert.Equal([.. Data(0, 10), .. Data(110, 30)], c.Bytes);
    }

    [Fact]
    public void Many_tiny_segments_behind_a_hole_are_capped_by_count()
    {
        var r = new TcpReassembler(_budget);
        var c = new Collector();
        r.Syn(0);
        // One byte at every other sequence number: a pathological peer (or capture) that would otherwise pile up millions.
        for (uint seq = 2; seq < 2 + (2 * 5000); seq += 2)
        {
            r.Segment(seq, [1], 1, 0, c);
        }

        Assert.True(r.Gaps >= 4, $"{r.Gaps} holes given up");
        Assert.True(_budget.Used <= TcpReassembler.MaxPendingSegments, $"{_budget.Used} bytes waiting");
    }

    [Fact]
    public void The_shared_budget_bounds_what_waits_in_all_connections()
    {
        var budget = new PendingBudget(1000);
        var a = new TcpReassembler(budget);
        var b = new TcpReassembler(budget);
        var c = new Collector();
        a.Syn(0);
        b.Syn(0);
        a.Segment(101, new byte[800], 800, 0, c); // waits behind a hole of 100
        b.Segment(101, new byte[800], 800, 0, c); // no room left: b gives its hole up at once
        Assert.Equal(800, budget.Used);
        Assert.Equal(100, c.Lost);
        Assert.Equal(800, c.Bytes.Count);
        a.Release();
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void Segments_cut_short_by_the_capture_deliver_what_was_captured_in_order_or_not_and_report_the_rest_lost()
    {
        var r = new TcpReassembler(_budget);
        var c = new Collector();
        r.Syn(0);
        r.Segment(41, Data(40, 5), 5, 0, c); // ahead, whole
        r.Segment(11, Data(10, 10), wireLength: 30, 0, c); // ahead, cut short: 10 of 30 captured
        r.Segment(1, Data(0, 10), 10, 0, c);
        Assert.Equal(20, c.Lost);
        Assert.Equal([.. Data(0, 10), .. Data(10, 10), .. Data(40, 5)], c.Bytes); // never zeros for what was not captured
    }
}
