namespace SocketCam.Sniff;

/// <summary>What a reassembled TCP direction feeds: its bytes in order, and how many were never seen (a gap).</summary>
internal interface IByteStreamConsumer
{
    void Consume(ReadOnlySpan<byte> data);

    /// <summary><paramref name="bytes"/> of the stream are gone (not captured, or a hole was given up).</summary>
    void Lost(long bytes);

    /// <summary>The bytes about to be consumed start a TCP segment (where a sender's message, after a loss, likely starts too).</summary>
    void SegmentStart(ReadOnlySpan<byte> data)
    {
    }
}

/// <summary>Bytes held ahead of holes by every direction of every connection, together: one cap for the whole sniffer.</summary>
internal sealed class PendingBudget(long limit)
{
    public long Limit { get; } = limit;
    public long Used { get; private set; }

    public bool TryTake(long bytes)
    {
        if (Used + bytes > Limit)
        {
            return false;
        }

        Used += bytes;
        return true;
    }

    public void Give(long bytes) => Used -= bytes;
}

/// <summary>
/// One direction of a TCP connection put back in order, passively: from the SYN (or a segment chosen to start at), each
/// segment's bytes go to the consumer once, in sequence order. Retransmitted bytes are counted and not repeated;
/// segments ahead of a hole wait (copied) until it is filled. A sniffer sees no retransmission of what it missed itself,
/// so a hole is given up (the consumer is told how many bytes were lost) once segments waited behind it for
/// <see cref="HoleTimeoutMicros"/>, or would take more than <see cref="MaxPendingBytes"/>, <see cref="MaxPendingSegments"/>
/// or the shared <see cref="PendingBudget"/>.
/// </summary>
internal sealed class TcpReassembler(PendingBudget budget)
{
    public const int MaxPendingBytes = 8 << 20;
    public const int MaxPendingSegments = 1024;

    /// <summary>A real sender repairs a loss within a few round trips; a hole older than this is the capture's own.</summary>
    public const long HoleTimeoutMicros = 1_000_000;

    // Sorted by distance from _next (every entry is ahead of it): the one to deliver next is first.
    private readonly List<Pending> _pending = [];
    private uint _next;
    private int _pendingBytes;

    private readonly record struct Pending(uint Sequence, byte[] Data, int Captured, int Wire, long ArrivedMicros);

    public bool Synchronised { get; private set; }

    /// <summary>The sequence number of the next byte expected.</summary>
    public uint Next => _next;

    /// <summary>The initial sequence number from the SYN, if one was seen.</summary>
    public uint? InitialSequence { get; private set; }

    /// <summary>Segments (or parts) that carried bytes already delivered: TCP retransmissions as the wire shows them.</summary>
    public long Retransmissions { get; private set; }

    /// <summary>Segments that arrived ahead of a hole (reordered, or after a loss the sender then repaired).</summary>
    public long OutOfOrder { get; private set; }

    /// <summary>Holes given up, and the bytes lost to them or to captures cut short.</summary>
    public long Gaps { get; private set; }
    public long LostBytes { get; private set; }

    public void Syn(uint sequence)
    {
        if (Synchronised && InitialSequence == sequence)
        {
            return; // a retransmitted SYN or SYN-ACK
        }

        Clear();
        InitialSequence = sequence;
        _next = sequence + 1;
        Synchronised = true;
    }

    /// <summary>Starts following a connection already under way at this segment's sequence number.</summary>
    public void StartAt(uint sequence)
    {
        Clear();
        _next = sequence;
        Synchronised = true;
    }

    /// <param name="data">what the capture kept of the segment's payload</param>
    /// <param name="wireLength">the payload's length on the wire: a longer one than <paramref name="data"/> lost its tail</param>
    public void Segment(uint sequence, ReadOnlySpan<byte> data, int wireLength, long nowMicros, IByteStreamConsumer consumer)
    {
        if (!Synchronised || wireLength <= 0)
        {
            return;
        }

        int behind = (int)(_next - sequence);
        if (behind > 0)
        {
            Retransmissions++; // all old, or part old and part new: counted once, only the new bytes delivered
            if (behind >= wireLength)
            {
                return;
            }

            sequence += (uint)behind;
            wireLength -= behind;
            data = behind < data.Length ? data[behind..] : [];
        }

        if (sequence == _next)
        {
            Deliver(data, wireLength, behind <= 0, consumer);
            Drain(consumer);
            return;
        }

        OutOfOrder++;
        // The first hole has waited as long as the segment behind it that arrived first.
        while (_pending.Count > 0
            && (nowMicros - _pending[0].ArrivedMicros > HoleTimeoutMicros || _pendingBytes + wireLength > MaxPendingBytes
                || _pending.Count >= MaxPendingSegments || budget.Used + wireLength > budget.Limit))
        {
            GiveUpHole(consumer);
            if (sequence == _next || (int)(_next - sequence) > 0)
            {
                Segment(sequence, data, wireLength, nowMicros, consumer); // the segment may now be next (or old)
                return;
            }
        }

        int captured = Math.Min(data.Length, wireLength);
        if (!budget.TryTake(captured))
        {
            // No room to wait (the whole sniffer's budget is spent): the hole is given up now.
            long hole = (uint)(sequence - _next);
            Gaps++;
            LostBytes += hole;
            _next = sequence;
            consumer.Lost(hole);
            Deliver(data, wireLength, behind <= 0, consumer);
            return;
        }

        var pending = new Pending(sequence, data[..captured].ToArray(), captured, wireLength, nowMicros);
        int at = _pending.FindIndex(p => (int)(p.Sequence - sequence) > 0);
        _pending.Insert(at < 0 ? _pending.Count : at, pending);
        _pendingBytes += wireLength;
    }

    private void Deliver(ReadOnlySpan<byte> data, int wireLength, bool segmentStart, IByteStreamConsumer consumer)
    {
        int kept = Math.Min(data.Length, wireLength);
        _next += (uint)wireLength; // first: the consumer may look at Next
        if (kept > 0)
        {
            if (segmentStart)
            {
                consumer.SegmentStart(data[..kept]);
            }

            consumer.Consume(data[..kept]);
        }

        if (kept < wireLength)
        {
            LostBytes += wireLength - kept;
            consumer.Lost(wireLength - kept);
        }
    }

    private void Drain(IByteStreamConsumer consumer)
    {
        while (_pending.Count > 0)
        {
            Pending p = _pending[0];
            int behind = (int)(_next - p.Sequence);
            if (behind < 0)
            {
                return;
            }

            _pending.RemoveAt(0);
            int wire = p.Wire;
            _pendingBytes -= wire;
            budget.Give(p.Captured);
            if (behind < wire)
            {
                Deliver(behind < p.Captured ? p.Data.AsSpan(behind, p.Captured - behind) : [], wire - behind, behind == 0, consumer);
            }
            else
            {
                Retransmissions++;
            }
        }
    }

    /// <summary>Gives the first hole up: on from the earliest waiting segment.</summary>
    private void GiveUpHole(IByteStreamConsumer consumer)
    {
        uint earliest = _pending[0].Sequence;
        long hole = (uint)(earliest - _next);
        Gaps++;
        LostBytes += hole;
        _next = earliest;
        consumer.Lost(hole);
        Drain(consumer);
    }

    private void Clear()
    {
        foreach (Pending p in _pending)
        {
            budget.Give(p.Captured);
        }

        _pending.Clear();
        _pendingBytes = 0;
    }

    /// <summary>Gives back what waits (the connection is done with).</summary>
    public void Release() => Clear();
}
