using System.Collections.Concurrent;
using SocketCam.Diagnostics;
using SocketCam.Protocol;
using SocketCam.Transfer;

namespace SocketCam.Udp;

/// <summary>
/// The sending half of a UDP video session (the hub for a viewer, the client for a publisher): fragments each frame with
/// parity sized by <see cref="LossAdaptation"/>, paces the datagrams, keeps recent frames in a <see cref="RetransmitBuffer"/>
/// and resends what the receiver NACKs. Only the session's send loop calls the Send methods; NACKs and REPORTs arrive
/// from the receive side through <see cref="OnNack"/> and <see cref="OnReport"/>.
/// </summary>
internal sealed class UdpFrameSender : IDisposable
{
    /// <summary>Frames not yet DONE that may be in flight (docs/PROTOCOL.md §2.0, "Flow control").</summary>
    public const int Window = 4;

    /// <summary>A frame counts as done this long after it was sent even without a DONE (it or its DONE was lost).</summary>
    private const long DoneTimeoutMicros = 200_000;

    /// <summary>NACKs waiting for the send loop; beyond this a receiver is asking faster than we can answer, and new ones are dropped.</summary>
    private const int MaxQueuedNacks = 64;

    private readonly DatagramSend _send;
    private readonly ulong _sessionId;
    private readonly LossAdaptation _adaptation;
    private readonly RetransmitBuffer _retransmit = new();
    private readonly SendPacer _pacer;
    private readonly ConcurrentQueue<UdpNack> _nacks = new();
    private readonly Lock _adaptationLock = new();
    private readonly Queue<(uint FrameId, long SentMicros)> _inFlight = new();
    private uint _lastDone = uint.MaxValue; // "frame -1": nothing in flight yet
    private uint _nextFrameId;
    private long _dataBytes;
    private long _parityBytes;
    private long _resentBytes;
    private long _framesSent;

    /// <summary>Sends one datagram now, synchronously (a UDP send does not wait for the peer; a syscall is far cheaper than an async operation per datagram), swallowing transient errors.</summary>
    public delegate void DatagramSend(ReadOnlySpan<byte> datagram);

    /// <param name="send">Sends one datagram; a transient send error must be swallowed by it.</param>
    public UdpFrameSender(DatagramSend send, ulong sessionId, bool recovery, double pacingBytesPerSecond)
    {
        _send = send;
        _sessionId = sessionId;
        _adaptation = new LossAdaptation(recovery);
        _pacer = new SendPacer(pacingBytesPerSecond);
    }

    public long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Picture bytes sent once (the stream itself).</summary>
    public long DataBytes => Interlocked.Read(ref _dataBytes);

    /// <summary>Bytes of parity and resent fragments: what loss recovery costs on top of <see cref="DataBytes"/>.</summary>
    public long RecoveryBytes => Interlocked.Read(ref _parityBytes) + Interlocked.Read(ref _resentBytes);

    public long ResentBytes => Interlocked.Read(ref _resentBytes);

    /// <summary>The parity group size in use (0 = no parity).</summary>
    public int Group
    {
        get
        {
            lock (_adaptationLock)
            {
                return _adaptation.Group;
            }
        }
    }

    public bool HasNacks => !_nacks.IsEmpty;

    /// <summary>From the receive side: a NACK to answer on the next send-loop turn.</summary>
    public bool OnNack(UdpNack nack)
    {
        if (_nacks.Count >= MaxQueuedNacks)
        {
            return false;
        }

        _nacks.Enqueue(nack);
        return true;
    }

    /// <summary>From the receive side: the receiver is done with every frame up to <paramref name="frameId"/>.</summary>
    public void OnDone(uint frameId)
    {
        lock (_adaptationLock)
        {
            if ((int)(frameId - _lastDone) > 0 && (int)(frameId - _nextFrameId) < 0)
            {
                _lastDone = frameId;
            }
        }
    }

    /// <summary>
    /// Whether another frame may go out now (fewer than <see cref="Window"/> not yet done); otherwise how long until the
    /// oldest one in flight counts as done anyway.
    /// </summary>
    public bool CanSendFrame(long nowMicros, out TimeSpan wait)
    {
        lock (_adaptationLock)
        {
            while (_inFlight.TryPeek(out (uint FrameId, long SentMicros) oldest)
                && ((int)(oldest.FrameId - _lastDone) <= 0 || nowMicros - oldest.SentMicros >= DoneTimeoutMicros))
            {
                _inFlight.Dequeue();
            }

            wait = _inFlight.Count < Window ? TimeSpan.Zero : TimeSpan.FromMicroseconds(DoneTimeoutMicros - (nowMicros - _inFlight.Peek().SentMicros));
            return _inFlight.Count < Window;
        }
    }

    public void OnReport(in UdpReport report)
    {
        lock (_adaptationLock)
        {
            _adaptation.OnReport(report);
        }
    }

    /// <summary>Fragments, paces and sends one frame; keeps it for resending (NACKs are answered by <see cref="ResendRequestedAsync"/>).</summary>
    public async ValueTask SendFrameAsync(VideoFrameHeader header, ReadOnlyMemory<byte> picture, CancellationToken cancellationToken)
    {
        uint frameId;
        lock (_adaptationLock)
        {
            frameId = _nextFrameId++;
            _inFlight.Enqueue((frameId, Clock.NowMicros()));
        }

        FragmentedFrame fragments = FrameFragmenter.Fragment(_sessionId, frameId, header, picture.Span, Group);
        try
        {
            for (int i = 0; i < fragments.Count; i++)
            {
                ReadOnlyMemory<byte> datagram = fragments[i];
                await _pacer.WaitAsync(datagram.Length, cancellationToken);
                _send(datagram.Span);
                if (fragments.IndexAt(i) >= fragments.DataCount)
                {
                    Interlocked.Add(ref _parityBytes, datagram.Length - UdpWire.FragmentHeaderSize);
                }
            }

            Interlocked.Add(ref _dataBytes, picture.Length);
            Interlocked.Increment(ref _framesSent);
        }
        catch
        {
            fragments.Dispose();
            throw;
        }

        _retransmit.Add(fragments, Clock.NowMicros());
    }

    /// <summary>Resends what queued NACKs ask for and still exists; fragments of frames already evicted are ignored.</summary>
    public async ValueTask ResendRequestedAsync(CancellationToken cancellationToken)
    {
        while (_nacks.TryDequeue(out UdpNack nack))
        {
            foreach (ushort index in nack.Indexes)
            {
                if (_retransmit.TryGetForResend(nack.FrameId, index, out ReadOnlyMemory<byte> datagram))
                {
                    await _pacer.WaitAsync(datagram.Length, cancellationToken);
                    _send(datagram.Span);
                    Interlocked.Add(ref _resentBytes, datagram.Length - UdpWire.FragmentHeaderSize);
                }
            }
        }
    }

    public void Dispose() => _retransmit.Dispose();
}
