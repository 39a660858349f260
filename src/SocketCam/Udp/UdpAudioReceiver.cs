namespace SocketCam.Udp;

/// <summary>What became of one AUDIO datagram.</summary>
internal enum AudioArrival
{
    /// <summary>A packet not had before: use it now.</summary>
    New,

    /// <summary>Had already (a resend that crossed the original), or older than the 64 ids remembered.</summary>
    Duplicate,

    /// <summary>Its id is more than 256 away from the newest: a stray or hostile datagram.</summary>
    Stray,

    /// <summary>Not exactly an AUDIO layout.</summary>
    Malformed,
}

/// <summary>What a <see cref="UdpAudioReceiver"/> saw: packets taken, duplicates and strays dropped, NACKs and what they brought back.</summary>
internal readonly record struct UdpAudioStats(long Received, long Duplicates, long Strays, long Malformed, long Missed, long Nacked, long Recovered, long GaveUp);

/// <summary>
/// The receiving half of audio over UDP (docs/PROTOCOL.md §2.0 "Audio"): reads each AUDIO datagram strictly, drops
/// duplicates (the last 64 ids) and strays (more than 256 away from the newest, unless the sender restarted), and
/// NACKs the ids a jump skipped at once and once more after 1.5 round trips, giving up 100 ms after the miss. Ordering
/// and concealment are the jitter buffer's: a packet is handed on as soon as it is new. <see cref="Accept"/> runs on
/// the receive loop and <see cref="Tick"/> on a timer: one lock.
/// </summary>
internal sealed class UdpAudioReceiver
{
    private const int Window = 64;
    private const int MaxJump = 50;
    private const int StrayDistance = 256;
    private const long RestartAfterMicros = 1_000_000;
    private const long GiveUpMicros = 100_000;
    private const int MaxTries = 2;

    private readonly UdpFrameSender.DatagramSend _send;
    private readonly ulong _sessionId;
    private readonly bool _recovery;
    private readonly List<Missing> _missing = new(UdpWire.MaxAudioNackCount);
    private readonly uint[] _nack = new uint[UdpWire.MaxAudioNackCount];
    private readonly byte[] _datagram = new byte[UdpWire.AudioNackFixedSize + (4 * UdpWire.MaxAudioNackCount)];
    private readonly Lock _lock = new();
    private bool _started;
    private uint _newest;
    private ulong _seen;
    private long _lastArrival;
    private long _received;
    private long _duplicates;
    private long _strays;
    private long _malformed;
    private long _missed;
    private long _nacked;
    private long _recovered;
    private long _gaveUp;

    public UdpAudioReceiver(UdpFrameSender.DatagramSend send, ulong sessionId, bool recovery)
    {
        _send = send;
        _sessionId = sessionId;
        _recovery = recovery;
    }

    /// <summary>The round trip NACK repeats are timed by (µs; 0 = unknown, counted as 20 ms).</summary>
    public long RttMicros { get; set; }

    public UdpAudioStats Stats
    {
        get
        {
            lock (_lock)
            {
                return new UdpAudioStats(_received, _duplicates, _strays, _malformed, _missed, _nacked, _recovered, _gaveUp);
            }
        }
    }

    /// <summary>
    /// Reads one AUDIO datagram; <see cref="AudioArrival.New"/> for a packet not had before (<paramref name="header"/> and
    /// <paramref name="payload"/>, a slice of <paramref name="datagram"/>, are then to be used now). Missing ids a jump
    /// reveals are NACKed from here.
    /// </summary>
    public AudioArrival Accept(ReadOnlySpan<byte> datagram, long nowMicros, out UdpAudioHeader header, out ReadOnlySpan<byte> payload)
    {
        if (!UdpWire.TryReadAudio(datagram, out header, out payload))
        {
            Interlocked.Increment(ref _malformed);
            return AudioArrival.Malformed;
        }

        lock (_lock)
        {
            uint id = header.PacketId;
            int distance = (int)(id - _newest);
            bool restarted = nowMicros - _lastArrival > RestartAfterMicros;
            bool far = distance is > StrayDistance or < -StrayDistance; // (no Math.Abs: int.MinValue is a distance too)
            if (!_started || (restarted && far))
            {
                Reset(id);
            }
            else if (far)
            {
                _strays++;
                return AudioArrival.Stray;
            }
            else if (distance > 0)
            {
                if (distance > MaxJump)
                {
                    Reset(id); // a restart, not loss: nothing to ask for
                }
                else
                {
                    for (uint skipped = _newest + 1; skipped != id; skipped++)
                    {
                        Miss(skipped, nowMicros);
                    }

                    _seen = distance >= Window ? 1 : (_seen << distance) | 1;
                    _newest = id;
                    NackDueLocked(nowMicros);
                }
            }
            else
            {
                int back = -distance;
                if (back >= Window || (_seen & (1UL << back)) != 0)
                {
                    _duplicates++;
                    return AudioArrival.Duplicate;
                }

                _seen |= 1UL << back;
                int at = _missing.FindIndex(m => m.Id == id);
                if (at >= 0)
                {
                    _missing.RemoveAt(at);
                    _recovered++;
                }
            }

            _lastArrival = nowMicros;
            _received++;
            return AudioArrival.New;
        }
    }

    /// <summary>Repeats NACKs that are due and forgets ids missed for 100 ms (every 5 ms or so).</summary>
    public void Tick(long nowMicros)
    {
        lock (_lock)
        {
            int removed = _missing.RemoveAll(m => nowMicros - m.FirstMicros > GiveUpMicros);
            _gaveUp += removed;
            NackDueLocked(nowMicros);
        }
    }

    private void Reset(uint id)
    {
        _started = true;
        _newest = id;
        _seen = 1;
        _gaveUp += _missing.Count;
        _missing.Clear();
    }

    private void Miss(uint id, long nowMicros)
    {
        _missed++;
        if (_missing.Count == UdpWire.MaxAudioNackCount)
        {
            _missing.RemoveAt(0); // the oldest: its time has nearly run out anyway
            _gaveUp++;
        }

        _missing.Add(new Missing(id, nowMicros, 0, 0));
    }

    /// <summary>One AUDIO_NACK with every id due: new ones at once, the rest 1.5 round trips after their last ask.</summary>
    private void NackDueLocked(long nowMicros)
    {
        if (!_recovery || _missing.Count == 0)
        {
            return;
        }

        long rtt = RttMicros > 0 ? RttMicros : 20_000;
        long repeat = Math.Max(2_000, rtt * 3 / 2);
        int count = 0;
        for (int i = 0; i < _missing.Count; i++)
        {
            Missing m = _missing[i];
            bool due = m.Tries == 0 || (m.Tries < MaxTries && nowMicros - m.AskedMicros >= repeat && nowMicros + rtt - m.FirstMicros < GiveUpMicros);
            if (!due)
            {
                continue;
            }

            _missing[i] = m with { AskedMicros = nowMicros, Tries = m.Tries + 1 };
            _nack[count++] = m.Id;
        }

        if (count > 0)
        {
            _nacked += count;
            _send(_datagram.AsSpan(0, UdpWire.WriteAudioNack(_datagram, _sessionId, _nack.AsSpan(0, count))));
        }
    }

    private readonly record struct Missing(uint Id, long FirstMicros, long AskedMicros, int Tries);
}
