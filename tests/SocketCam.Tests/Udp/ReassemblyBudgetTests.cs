using System.Net;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Limits;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

/// <summary>
/// FrameReassembler's memory accounting (issue 13 finding 1): a frame costs what has arrived (chunks as fragments come,
/// plus its bookkeeping), reserved from the session's and the hub's budget, and every path gives it all back.
/// </summary>
public sealed class ReassemblyBudgetTests
{
    private const int Claimed = 16 << 20;
    private const long T0 = 1_000_000_000;
    private static readonly AddressKey Address = AddressKey.From(IPAddress.Loopback);

    [Fact]
    public void A_frame_that_claims_16_MiB_holds_only_the_chunks_its_fragments_arrived_in()
    {
        var shared = new ByteBudget(128L << 20, 32L << 20);
        var budget = new ReassemblyBudget(FrameReassembler.SessionCapFor(Claimed), shared, Address);
        using var reassembler = new FrameReassembler(Claimed, budget: budget);

        Assert.Equal(ReassemblyResult.Accepted, reassembler.Accept(ClaimingFragment(frameId: 1, index: 0), T0, out _));
        long oneChunk = budget.InUse;
        Assert.InRange(oneChunk, ReassemblyChunks.Bytes, ReassemblyChunks.Bytes + (64 << 10)); // a chunk + bookkeeping, not 16 MiB
        Assert.Equal(oneChunk, shared.InUseBy(Address));

        // Another fragment of the same chunk costs nothing more; one in another chunk costs one chunk more.
        reassembler.Accept(ClaimingFragment(1, 1), T0, out _);
        Assert.Equal(oneChunk, budget.InUse);
        reassembler.Accept(ClaimingFragment(1, ReassemblyChunks.Fragments * 5), T0, out _);
        Assert.Equal(oneChunk + ReassemblyChunks.Bytes, budget.InUse);

        // The deadline gives it all back.
        Assert.Equal(1, reassembler.Expire(T0 + ReassemblyOptions.Default.DeadlineMicros));
        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, shared.InUse);
    }

    [Fact]
    public void Fragments_beyond_the_address_budget_are_refused_and_counted_and_another_session_still_completes_frames()
    {
        // Per address 1 MiB: two sessions from one address share it; a third from another address has its own share.
        var shared = new ByteBudget(total: 4L << 20, perAddress: 1L << 20);
        var attacker = new FrameReassembler(Claimed, budget: new ReassemblyBudget(FrameReassembler.SessionCapFor(Claimed), shared, Address));
        var neighbour = new FrameReassembler(Claimed, budget: new ReassemblyBudget(FrameReassembler.SessionCapFor(Claimed), shared, Address));
        AddressKey other = AddressKey.From(IPAddress.Parse("127.0.0.2")); // a key only: no socket is involved
        var elsewhere = new FrameReassembler(Claimed, budget: new ReassemblyBudget(FrameReassembler.SessionCapFor(Claimed), shared, other));
        try
        {
            var results = new List<ReassemblyResult>();
            for (uint frame = 1; frame <= 4; frame++)
            {
                for (int chunk = 0; chunk < 20; chunk++)
                {
                    results.Add(attacker.Accept(ClaimingFragment(frame, chunk * ReassemblyChunks.Fragments), T0, out _));
                    Assert.InRange(shared.InUseBy(Address), 0, shared.PerAddress);
                }
            }

            int refused = results.Count(r => r == ReassemblyResult.OverBudget);
            Assert.True(refused > 0, "the attacker ran into the per-address cap");
            Assert.Equal(refused, attacker.Stats.OverBudget);
            Assert.InRange(attacker.Budget.InUse, shared.PerAddress - ReassemblyChunks.Bytes - (64 << 10), shared.PerAddress);

            // The same address has nothing left (a small frame is refused), another address is unaffected.
            byte[][] small = UdpTesting.Datagrams(1, UdpTesting.Bytes(100_000), 0);
            Assert.Equal(ReassemblyResult.OverBudget, neighbour.Accept(small[0], T0, out _));
            Assert.Equal(ReassemblyResult.Completed, DeliverAll(elsewhere, small));

            // Once the attacker's frames are gone, the neighbour completes frames again.
            attacker.Dispose();
            Assert.Equal(neighbour.Budget.InUse, shared.InUseBy(Address));
            Assert.Equal(ReassemblyResult.Completed, DeliverAll(neighbour, UdpTesting.Datagrams(2, UdpTesting.Bytes(100_000), 0)));
            Assert.Equal(0, neighbour.Budget.InUse);
        }
        finally
        {
            attacker.Dispose();
            neighbour.Dispose();
            elsewhere.Dispose();
        }

        Assert.Equal(0, shared.InUse);
    }

    [Fact]
    public void The_session_cap_holds_one_largest_frame_but_not_four_that_only_claim_it()
    {
        long cap = FrameReassembler.SessionCapFor(Claimed);
        var budget = new ReassemblyBudget(cap);
        using var reassembler = new FrameReassembler(Claimed, budget: budget);
        int chunks = ReassemblyChunks.CountFor(UdpWire.DataCount(Claimed));
        var results = new List<ReassemblyResult>();
        for (uint frame = 1; frame <= 4; frame++)
        {
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                results.Add(reassembler.Accept(ClaimingFragment(frame, chunk * ReassemblyChunks.Fragments), T0, out _));
                Assert.InRange(budget.InUse, 0, cap);
            }
        }

        // The first frame's every chunk fitted; the other three ran out.
        Assert.DoesNotContain(ReassemblyResult.OverBudget, results.Take(chunks));
        Assert.Contains(ReassemblyResult.OverBudget, results.Skip(chunks));
        reassembler.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Delivered_superseded_and_disposed_frames_all_give_their_bytes_back(int group)
    {
        var shared = new ByteBudget(64L << 20, 64L << 20);
        var budget = new ReassemblyBudget(FrameReassembler.SessionCapFor(Claimed), shared, Address);
        using var reassembler = new FrameReassembler(Claimed, budget: budget);

        // Frame 1 incomplete (its first half), frame 2 whole with one data fragment per group lost (rebuilt from parity),
        // frame 3 incomplete at dispose.
        byte[] picture = UdpTesting.Bytes(300_000, 5);
        byte[][] first = UdpTesting.Datagrams(1, picture, group);
        foreach (byte[] d in first.Take(first.Length / 2))
        {
            reassembler.Accept(d, T0, out _);
        }

        Assert.True(budget.InUse > 0);
        byte[][] second = UdpTesting.Datagrams(2, picture, group);
        CompletedFrame? completed = null;
        for (int i = 0; i < second.Length; i++)
        {
            if (group > 0 && UdpTesting.IndexOf(second[i]) % group == 0 && UdpTesting.IndexOf(second[i]) < UdpWire.DataCount(picture.Length))
            {
                continue; // the first of each group is lost: parity rebuilds it
            }

            reassembler.Accept(second[i], T0, out CompletedFrame? frame);
            completed ??= frame;
        }

        Assert.NotNull(completed);
        using (completed)
        {
            Assert.Equal(picture, completed.Data.ToArray());
        }

        Assert.Equal(0, budget.InUse); // frame 1 was superseded, frame 2 delivered
        Assert.Equal(1, reassembler.Stats.FramesSuperseded);

        reassembler.Accept(UdpTesting.Datagrams(3, picture, group)[0], T0, out _);
        Assert.True(shared.InUse > 0);
        reassembler.Dispose();
        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, shared.InUse);
        Assert.True(shared.Peak > 0);
    }

    /// <summary>A well-formed fragment of a JPEG frame whose header claims <see cref="Claimed"/> bytes.</summary>
    private static byte[] ClaimingFragment(uint frameId, int index)
    {
        byte[] d = new byte[UdpWire.MaxDatagram];
        var header = new FragmentHeader(frameId, (ushort)index, (ushort)UdpWire.DataCount(Claimed), 0, CodecId.Jpeg, 640, 480, UdpWire.FragmentPayload, Claimed, frameId, 0);
        return d[..UdpWire.WriteFragment(d, UdpTesting.Session, header, new byte[UdpWire.FragmentPayload])];
    }

    private static ReassemblyResult DeliverAll(FrameReassembler reassembler, byte[][] datagrams)
    {
        ReassemblyResult result = default;
        foreach (byte[] d in datagrams)
        {
            result = reassembler.Accept(d, T0, out CompletedFrame? frame);
            frame?.Dispose();
        }

        return result;
    }
}
