using SocketCam.Diagnostics;

namespace SocketCam.Udp;

/// <summary>
/// The receiving half of a UDP video session (the hub for a publisher, the client for a viewer): a
/// <see cref="FrameReassembler"/> behind a lock (datagrams arrive on the receive loop, the timer runs beside it) that
/// sends its NACKs and, every 250 ms, a REPORT through <c>sendControl</c>, a synchronous send of one small datagram.
/// </summary>
internal sealed class UdpFrameReceiver : IDisposable
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(5);
    private const long ReportIntervalMicros = 250_000;

    private readonly ulong _sessionId;
    private readonly Action<ReadOnlySpan<byte>> _sendControl;
    private readonly FrameReassembler _reassembler;
    private readonly Lock _lock = new();
    private readonly List<UdpNack> _nacks = [];
    private readonly byte[] _scratch = new byte[UdpWire.MaxDatagram];
    private long _lastReportMicros = Clock.NowMicros();
    private bool _disposed;
    private uint? _lastCompleted;
    private uint? _doneSent;

    /// <param name="budget">What reassembly may hold; null: one largest frame's worth (<see cref="FrameReassembler.SessionCapFor"/>).</param>
    public UdpFrameReceiver(ulong sessionId, int maxFrameBytes, bool recovery, Action<ReadOnlySpan<byte>> sendControl, ReassemblyBudget? budget = null)
    {
        _sessionId = sessionId;
        _sendControl = sendControl;
        _reassembler = new FrameReassembler(
            maxFrameBytes, new ReassemblyOptions { RecoveryEnabled = recovery }, budget ?? new ReassemblyBudget(FrameReassembler.SessionCapFor(maxFrameBytes)));
    }

    /// <summary>The round trip the NACK timing uses (µs); the session updates it from its PING/PONG.</summary>
    public long RttMicros { get; set; }

    public ReassemblyStats Stats
    {
        get
        {
            lock (_lock)
            {
                return _reassembler.Stats;
            }
        }
    }

    /// <summary>Frames given up for good so far (cheap: the viewer's timer polls it to ask for a keyframe).</summary>
    public long FramesLost
    {
        get
        {
            lock (_lock)
            {
                return _reassembler.FramesLost;
            }
        }
    }

    /// <summary>Bytes reassembly holds now.</summary>
    public long BytesHeld
    {
        get
        {
            lock (_lock)
            {
                return _reassembler.Budget.InUse;
            }
        }
    }

    /// <summary>Takes one FRAGMENT datagram; a completed frame is handed out (the caller disposes it).</summary>
    public ReassemblyResult Accept(ReadOnlySpan<byte> datagram, out CompletedFrame? frame)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                // The session ended while a datagram was on its way to it.
                frame = null;
                return ReassemblyResult.Late;
            }

            long now = Clock.NowMicros();
            ReassemblyResult result = _reassembler.Accept(datagram, now, out frame);
            if (frame is not null)
            {
                _lastCompleted = frame.FrameId;
            }

            SendNacks(now);
            return result;
        }
    }

    /// <summary>The timer: deadlines, due NACKs, and the periodic REPORT.</summary>
    public void Tick()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            long now = Clock.NowMicros();
            _reassembler.Expire(now);
            SendNacks(now);
            SendDoneForDropped();
            if (now - _lastReportMicros >= ReportIntervalMicros)
            {
                SendReport(now);
            }
        }
    }

    /// <summary>
    /// One last REPORT before BYE, so the sender's totals end equal to this receiver's (otherwise up to a report
    /// interval of loss would never be told). Call it once nothing is received or ticked any more.
    /// </summary>
    public void ReportLast()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                SendReport(Clock.NowMicros());
            }
        }
    }

    private void SendReport(long now)
    {
        _lastReportMicros = now;
        UdpReport report = _reassembler.TakeReport((uint)Math.Clamp(RttMicros, 0, uint.MaxValue));
        int length = UdpWire.WriteReport(_scratch, _sessionId, report);
        _sendControl(_scratch.AsSpan(0, length));
    }

    /// <summary>Flow control: the consumer is done with <paramref name="frameId"/> (and so with every older frame).</summary>
    public void Done(uint frameId)
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                SendDone(frameId);
            }
        }
    }

    /// <summary>
    /// Flow control: a frame dropped incomplete is finished too, and the sender must not wait out its timeout for it. (A
    /// delivered frame is DONE'd by whoever consumes it, once it has.)
    /// </summary>
    private void SendDoneForDropped()
    {
        if (_reassembler.TryGetFinished(out uint finished) && finished != _lastCompleted
            && (_doneSent is not { } sent || (int)(finished - sent) > 0))
        {
            SendDone(finished);
        }
    }

    private void SendDone(uint frameId)
    {
        if (_doneSent is not { } sent || (int)(frameId - sent) > 0)
        {
            _doneSent = frameId;
        }

        int length = UdpWire.WriteDone(_scratch, _sessionId, frameId);
        _sendControl(_scratch.AsSpan(0, length));
    }

    private void SendNacks(long now)
    {
        _nacks.Clear();
        _reassembler.CollectNacks(now, RttMicros, _nacks);
        foreach (UdpNack nack in _nacks)
        {
            int length = UdpWire.WriteNack(_scratch, _sessionId, nack);
            _sendControl(_scratch.AsSpan(0, length));
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _reassembler.Dispose();
        }
    }
}
