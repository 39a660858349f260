namespace SocketCam.Sniff;

/// <summary>What a reassembled TCP direction feeds: its bytes in order, and how many were never seen (a gap).</summary>
internal interface IByteStreamConsumer
{
    void Consume(ReadOnlySpan<byte> data);

    /// <summary><paramref name="bytes"/> of the stream are gone (not captured, or the out-of-order store overflowed).</summary>
    void Lost(long bytes);
}

/// <summary>
/// One direction of a TCP connection put back in order, passively: from the SYN (or the first segment seen), each
/// segment's bytes go to the consumer once, in sequence order. Retransmitted bytes are counted and not repeated;
/// segments ahead of a hole wait (copied, at most <see cref="MaxPendingBytes"/>) until it is filled. When they would
/// need more, the hole is given up: the consumer is told how many bytes were lost and goes on after them.
/// </summary>
internal sealed class TcpReassembler
{
    /// <summary>Bytes held ahead of a hole, per direction, before the hole is written off.</summary>
    public const int MaxPendingBytes = 8 << 20;

    private readonly List<(uint Sequence, byte[] Data)> _pending = [];
    private uint _next;
    private int _pendingBytes;

    public bool Synchronised { get; private set; }

    /// <summary>Segments (or parts) that carried bytes already delivered: TCP retransmissions as the wire shows them.</summary>
    public long Retransmissions { get; private set; }

    /// <summary>Segments that arrived ahead of a hole (reordered, or after a loss the sender then repaired).</summary>
    public long OutOfOrder { get; private set; }

    /// <summary>Holes written off, and their bytes.</summary>
    public long Gaps { get; private set; }
    public long LostBytes { get; private set; }

    /// <summary>Bytes delivered in order.</summary>
    public long Delivered { get; private set; }

    public void Syn(uint sequence)
    {
        _next = sequence + 1;
        Synchronised = true;
        _pending.Clear();
        _pendingBytes = 0;
    }

    /// <summary>Starts following a connection already under way at this segment's sequence number.</summary>
    public void StartAt(uint sequence)
    {
        _next = sequence;
        Synchronised = true;
    }

    /// <param name="capturedLength">bytes of <paramref name="data"/> the capture kept: a shorter frame's tail is lost.</param>
    public void Segment(uint sequence, ReadOnlySpan<byte> data, int wireLength, IByteStreamConsumer consumer)
    {
        if (!Synchronised || wireLength == 0)
        {
            return;
        }

        int behind = (int)(_next - sequence);
        if (behind > 0)
        {
            if (behind >= wireLength)
            {
                Retransmissions++;
                return;
            }

            Retransmissions++; // part old, part new: count it once, deliver only the new bytes
            sequence += (uint)behind;
            wireLength -= behind;
            data = behind < data.Length ? data[behind..] : [];
        }

        if (sequence == _next)
        {
            Deliver(data, wireLength, consumer);
            Drain(consumer);
            return;
        }

        OutOfOrder++;
        if (_pendingBytes + wireLength > MaxPendingBytes)
        {
            WriteOffHole(consumer);
            if (sequence == _next)
            {
                Deliver(data, wireLength, consumer);
                Drain(consumer);
                return;
            }
        }

        byte[] copy = new byte[wireLength]; // a missing tail (short capture) stays zero and is reported lost on delivery
        data[..Math.Min(data.Length, wireLength)].CopyTo(copy);
        _pending.Add((sequence, copy));
        _pendingBytes += wireLength;
    }

    private void Deliver(ReadOnlySpan<byte> data, int wireLength, IByteStreamConsumer consumer)
    {
        int kept = Math.Min(data.Length, wireLength);
        if (kept > 0)
        {
            consumer.Consume(data[..kept]);
        }

        if (kept < wireLength)
        {
            LostBytes += wireLength - kept;
            consumer.Lost(wireLength - kept);
        }

        _next += (uint)wireLength;
        Delivered += wireLength;
    }

    private void Drain(IByteStreamConsumer consumer)
    {
        bool progress = true;
        while (progress && _pending.Count > 0)
        {
            progress = false;
            for (int i = 0; i < _pending.Count; i++)
            {
                (uint seq, byte[] bytes) = _pending[i];
                int behind = (int)(_next - seq);
                if (behind < 0)
                {
                    continue;
                }

                _pending.RemoveAt(i);
                _pendingBytes -= bytes.Length;
                if (behind < bytes.Length)
                {
                    Deliver(bytes.AsSpan(behind), bytes.Length - behind, consumer);
                }
                else
                {
                    Retransmissions++;
                }

                progress = true;
                break;
            }
        }
    }

    /// <summary>Gives the hole up: on from the earliest waiting segment.</summary>
    private void WriteOffHole(IByteStreamConsumer consumer)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        uint earliest = _pending[0].Sequence;
        foreach ((uint seq, _) in _pending)
        {
            if ((int)(seq - earliest) < 0)
            {
                earliest = seq;
            }
        }

        long hole = (uint)(earliest - _next);
        Gaps++;
        LostBytes += hole;
        consumer.Lost(hole);
        _next = earliest;
        Drain(consumer);
    }
}
