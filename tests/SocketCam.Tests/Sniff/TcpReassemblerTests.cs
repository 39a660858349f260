using SocketCam.Sniff;

namespace SocketCam.Tests.Sniff;

/// <summary>The sniffer's passive TCP reassembly: segments as a capture shows them (reordered, repeated, missing).</summary>
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

    [Fact]
    public void Reordered_segments_are_delivered_in_order_and_counted()
    {
        var r = new TcpReassembler();
        var c = new Collector();
        r.Syn(999); // data starts at 1000
        r.Segment(1010, Data(10, 10), 10, c);
        r.Segment(1020, Data(20, 5), 5, c);
        Assert.Empty(c.Bytes);
        r.Segment(1000, Data(0, 10), 10, c);
        Assert.Equal(Data(0, 25), c.Bytes);
        Assert.Equal(2, r.OutOfOrder);
        Assert.Equal(0, r.Retransmissions);
    }

    [Fact]
    public void Retransmitted_bytes_are_counted_and_never_delivered_twice()
    {
        var r = new TcpReassembler();
        var c = new Collector();
        r.Syn(uint.MaxValue - 4); // wraps around zero on the way
        uint start = unchecked(uint.MaxValue - 3);
        r.Segment(start, Data(0, 10), 10, c);
        r.Segment(start, Data(0, 10), 10, c); // the same again
        r.Segment(unchecked(start + 5), Data(5, 10), 10, c); // half old, half new
        Assert.Equal(Data(0, 15), c.Bytes);
        Assert.Equal(2, r.Retransmissions);
    }

    [Fact]
    public void A_hole_that_would_need_more_than_the_cap_is_written_off_and_reported_lost()
    {
        var r = new TcpReassembler();
        var c = new Collector();
        r.Syn(0);
        r.Segment(1, Data(0, 10), 10, c);
        // 100 bytes never arrive; then more than the cap waits behind the hole.
        uint next = 111;
        int chunk = 1 << 20;
        for (int i = 0; i < (TcpReassembler.MaxPendingBytes / chunk) + 1; i++)
        {
            r.Segment(next, new byte[chunk], chunk, c);
            next += (uint)chunk;
        }

        Assert.Equal(100, c.Lost);
        Assert.Equal(1, r.Gaps);
        Assert.Equal(10 + (TcpReassembler.MaxPendingBytes / chunk + 1) * (long)chunk, c.Bytes.Count);
    }

    [Fact]
    public void A_segment_cut_short_by_the_capture_delivers_what_was_captured_and_reports_the_rest_lost()
    {
        var r = new TcpReassembler();
        var c = new Collector();
        r.Syn(0);
        r.Segment(1, Data(0, 10), wireLength: 40, c);
        r.Segment(41, Data(40, 5), 5, c);
        Assert.Equal(30, c.Lost);
        Assert.Equal([.. Data(0, 10), .. Data(40, 5)], c.Bytes);
    }
}
