using Xunit.Abstractions;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

/// <summary>
/// Sender and receiver of one direction run in-process against a simulated path (seeded random loss in both
/// directions, 10 ms each way) on a virtual clock: fragments, NACKs, retransmissions from the sender's buffer, and
/// REPORTs driving the sender's parity.
/// </summary>
public sealed class UdpLossSimulationTests(ITestOutputHelper output)
{
    private const int Frames = 300;
    private const int FrameBytes = 100_000;
    private const long FrameInterval = 33_333;
    private const long OneWay = 10_000;
    private const long Tick = 1_000;

    [Fact]
    public void Parity_and_nack_deliver_nearly_every_frame_at_5_percent_loss_and_nothing_does_without_them()
    {
        SimulationResult with = Run(recovery: true, loss: 0.05, seed: 7);
        SimulationResult without = Run(recovery: false, loss: 0.05, seed: 7);
        output.WriteLine($"with recovery: {with.Completed}/{Frames} complete, G = {with.LastGroup}, {with.Recovered} rebuilt, {with.Retransmitted} retransmitted, {with.Nacks} NACKs");
        output.WriteLine($"without recovery: {without.Completed}/{Frames} complete");

        Assert.True(with.Completed >= Frames * 95 / 100, $"with recovery {with.Completed} of {Frames} frames complete");
        Assert.True(with.Corrupt == 0);
        Assert.True(with.LastGroup is >= 8 and <= 12, $"adapted to G = {with.LastGroup}");
        Assert.True(with.Recovered > 0 && with.Retransmitted > 0);
        Assert.True(without.Completed < Frames / 10, $"without recovery {without.Completed} of {Frames} frames complete");
        Assert.True(with.Completed - without.Completed >= Frames * 8 / 10);
        Assert.Equal(0, without.Nacks);
    }

    private static SimulationResult Run(bool recovery, double loss, int seed)
    {
        var random = new Random(seed);
        var toReceiver = new PriorityQueue<byte[], long>();
        var toSender = new PriorityQueue<byte[], long>();
        var adaptation = new LossAdaptation(recovery);
        using var retransmit = new RetransmitBuffer();
        using var receiver = new FrameReassembler(1 << 20, new ReassemblyOptions { RecoveryEnabled = recovery });
        var originals = new Dictionary<uint, byte[]>();
        var nacks = new List<UdpNack>();
        byte[] wire = new byte[UdpWire.MaxDatagram];
        var result = new SimulationResult();
        long end = (Frames * FrameInterval) + 400_000;
        long nextReport = 250_000;
        int sent = 0;

        for (long now = 0; now <= end; now += Tick)
        {
            // Sender: a new frame every interval, spread over a few ms as a paced sender would.
            if (sent < Frames && now >= sent * FrameInterval)
            {
                byte[] picture = UdpTesting.Bytes(FrameBytes, sent);
                originals[(uint)sent] = picture;
                result.LastGroup = adaptation.Group;
                FragmentedFrame frame = FrameFragmenter.Fragment(UdpTesting.Session, (uint)sent, UdpTesting.JpegHeader(sent), picture, adaptation.Group);
                for (int p = 0; p < frame.Count; p++)
                {
                    Send(toReceiver, frame[p].ToArray(), now + OneWay + (p * 40));
                }

                retransmit.Add(frame, now);
                sent++;
            }

            while (toSender.TryPeek(out _, out long at) && at <= now)
            {
                byte[] nack = toSender.Dequeue();
                Assert.True(UdpWire.TryReadNack(nack, out uint frameId, out ReadOnlySpan<byte> indexes));
                for (int i = 0; i < indexes.Length / 2; i++)
                {
                    if (retransmit.TryGetForResend(frameId, UdpWire.NackIndex(indexes, i), out ReadOnlyMemory<byte> resend))
                    {
                        Send(toReceiver, resend.ToArray(), now + OneWay);
                    }
                }
            }

            // Receiver.
            while (toReceiver.TryPeek(out _, out long at) && at <= now)
            {
                if (receiver.Accept(toReceiver.Dequeue(), now, out CompletedFrame? completed) == ReassemblyResult.Completed)
                {
                    using CompletedFrame frame = completed!;
                    result.Completed++;
                    result.Corrupt += frame.Data.Span.SequenceEqual(originals[frame.FrameId]) ? 0 : 1;
                }
            }

            receiver.Expire(now);
            nacks.Clear();
            receiver.CollectNacks(now, 2 * OneWay, nacks);
            foreach (UdpNack nack in nacks)
            {
                result.Nacks++;
                Send(toSender, wire[..UdpWire.WriteNack(wire, UdpTesting.Session, nack)], now + OneWay);
            }

            if (now >= nextReport)
            {
                // Reports are lost like anything else.
                UdpReport report = receiver.TakeReport((uint)(2 * OneWay));
                if (random.NextDouble() >= loss)
                {
                    adaptation.OnReport(report);
                }

                nextReport += 250_000;
            }
        }

        result.Recovered = receiver.Stats.Recovered;
        result.Retransmitted = receiver.Stats.RetransmittedArrivals;
        return result;

        void Send(PriorityQueue<byte[], long> path, byte[] datagram, long arrival)
        {
            if (random.NextDouble() >= loss)
            {
                path.Enqueue(datagram, arrival);
            }
        }
    }

    private sealed class SimulationResult
    {
        public int Completed { get; set; }

        public int Corrupt { get; set; }

        public int Nacks { get; set; }

        public int LastGroup { get; set; }

        public long Recovered { get; set; }

        public long Retransmitted { get; set; }
    }
}
