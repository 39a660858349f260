using SocketCam.Audio.Opus;

namespace SocketCam.Audio;

/// <summary>What a <see cref="JitterBuffer"/> has done so far (docs/AUDIO.md).</summary>
internal readonly record struct JitterStats(
    long Received, long Decoded, long Recovered, long Concealed, long Expanded, long Late, long Dropped, long Corrupt, double TargetMs, double BufferedMs)
{
    /// <summary>Packets lost on the way and made up (FEC or PLC), as a share of the packets played.</summary>
    public double ConcealedShare => Decoded + Recovered + Concealed == 0 ? 0 : (double)(Recovered + Concealed) / (Decoded + Recovered + Concealed);
}

/// <summary>
/// One received audio track between the network and the speaker: Opus packets held by sequence, decoded on demand into a
/// short PCM queue that the output pulls at its own pace. Its delay adapts to the arrival jitter it measures, between
/// <see cref="MinDelayMs"/> and <see cref="MaxDelayMs"/>, and never grows past the maximum (the oldest packets go).
/// A missing packet is rebuilt from the next one's in-band FEC when that one is here, else concealed by Opus PLC; an
/// empty buffer (the network was late) stretches by PLC, which is how the delay grows; DTX silence (the sender stopped
/// sending, capture time jumped but sequence did not) plays as silence. Thread-safe: packets arrive on the receive
/// loop, the output pulls on its own.
/// </summary>
internal sealed class JitterBuffer : IDisposable
{
    public const int MinDelayMs = 20;
    public const int MaxDelayMs = 120;

    private const int StartDelayMs = 20;
    private const int JitterWindow = 50; // packets: a second at 20 ms

    private readonly object _lock = new();
    private readonly OpusDecoder _decoder;
    private readonly SortedDictionary<long, Packet> _packets = [];
    private readonly short[] _ready; // decoded samples not yet pulled (interleaved)
    private readonly short[] _scratch;
    private readonly long[] _transits = new long[JitterWindow];
    private int _readyCount;
    private int _transitCount;
    private long _nextSequence = -1;
    private bool _started;
    private bool _played; // something played since the last reset: sequence numbers below _nextSequence are history
    private int _emptyPulls;
    private int _standingPackets;
    private long _standingMicros = long.MaxValue;
    private double _targetMs = StartDelayMs;
    private long _readyCaptureMicros; // capture time of _ready[0]
    private long _received, _decoded, _recovered, _concealed, _expanded, _late, _dropped, _corrupt;

    public JitterBuffer(int channels)
    {
        Channels = channels;
        _decoder = new OpusDecoder(channels);
        _ready = new short[(OpusDecoder.MaxPacketSamples + AudioFormat.OpusRate * MaxDelayMs / 1000) * channels];
        _scratch = new short[OpusDecoder.MaxPacketSamples * channels];
    }

    public int Channels { get; }

    /// <summary>Locally muted: still received and decoded (so unmuting is instant), played as silence.</summary>
    public bool Muted { get; set; }

    /// <summary>Capture time (local clock, µs) of the next sample to be pulled; 0 before the first packet played.</summary>
    public long PlayheadCaptureMicros
    {
        get
        {
            lock (_lock)
            {
                return _readyCaptureMicros;
            }
        }
    }

    /// <summary>Adds a packet: <paramref name="captureMicros"/> and <paramref name="arrivalMicros"/> on this machine's clock.</summary>
    public void Push(long sequence, int samples, long captureMicros, long arrivalMicros, ReadOnlySpan<byte> packet, bool discontinuity = false)
    {
        lock (_lock)
        {
            _received++;
            if (discontinuity || (_nextSequence >= 0 && Math.Abs(sequence - _nextSequence) > 4 * JitterWindow))
            {
                // The sender restarted (or we fell far behind): start over from this packet.
                ReleaseAll();
                _nextSequence = sequence;
            }

            if (_nextSequence >= 0 && sequence < _nextSequence)
            {
                if (_played)
                {
                    _late++;
                    return;
                }

                _nextSequence = sequence; // not playing yet: an earlier packet that came second is still in time
            }

            if (_packets.ContainsKey(sequence))
            {
                return;
            }

            // Not playing (a pause in speech): a lone packet from before it (DTX's comfort-noise refresh) is not kept to be
            // played late with the next talk spurt.
            while (!_started && _packets.Count > 0 && captureMicros - _packets.First().Value.CaptureMicros > MaxDelayMs * 1000L)
            {
                DropOldest();
            }

            _packets[sequence] = new Packet(packet.ToArray(), samples, captureMicros);
            if (_nextSequence < 0)
            {
                _nextSequence = sequence;
            }

            _transits[_transitCount++ % JitterWindow] = arrivalMicros - captureMicros;
            Adapt(samples);

            // Never past the maximum: the oldest packets go (counted), so a burst cannot build up delay.
            while (QueuedMicros() > MaxDelayMs * 1000L && _packets.Count > 1)
            {
                DropOldest();
            }
        }
    }

    /// <summary>
    /// Fills <paramref name="pcm"/> (interleaved, a whole number of samples per channel) with what plays next. Returns
    /// false when nothing is playing yet or any more (silence written), true when it wrote sound (or concealment).
    /// </summary>
    public bool Pull(Span<short> pcm)
    {
        lock (_lock)
        {
            bool sounding = true;
            while (_readyCount < pcm.Length)
            {
                if (!Refill())
                {
                    sounding = false;
                    break;
                }
            }

            int n = Math.Min(_readyCount, pcm.Length);
            if (Muted)
            {
                pcm[..n].Clear();
            }
            else
            {
                _ready.AsSpan(0, n).CopyTo(pcm);
            }

            pcm[n..].Clear();
            _ready.AsSpan(n, _readyCount - n).CopyTo(_ready);
            _readyCount -= n;
            _readyCaptureMicros += n / Channels * 1_000_000L / AudioFormat.OpusRate;
            return sounding && n > 0 && !Muted;
        }
    }

    public JitterStats Stats
    {
        get
        {
            lock (_lock)
            {
                return new JitterStats(_received, _decoded, _recovered, _concealed, _expanded, _late, _dropped, _corrupt, _targetMs,
                    (QueuedMicros() / 1000.0) + (_readyCount / Channels * 1000.0 / AudioFormat.OpusRate));
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            ReleaseAll();
            _decoder.Dispose();
        }
    }

    // One step: decode, recover, conceal or stretch one packet's worth into _ready. False: nothing to play (silence).
    private bool Refill()
    {
        if (!_started)
        {
            if (_packets.Count == 0 || QueuedMicros() < _targetMs * 1000)
            {
                return false;
            }

            _started = true;
            _played = true;
        }

        if (_packets.Remove(_nextSequence, out Packet packet))
        {
            if (_emptyPulls > 0 && _readyCount == 0)
            {
                _readyCaptureMicros = packet.CaptureMicros; // after silence (DTX) the playhead jumps to the sender's time
            }

            _emptyPulls = 0;
            try
            {
                Append(_decoder.Decode(packet.Data, _scratch), packet.CaptureMicros);
                _decoded++;
            }
            catch (InvalidDataException)
            {
                // A peer's garbage is one concealed packet here, never an error for the listener.
                Append(_decoder.Conceal(packet.Samples, _scratch), packet.CaptureMicros);
                _concealed++;
                _corrupt++;
            }

            _nextSequence++;
            TrimToTarget();
            return true;
        }

        if (_packets.Count > 0)
        {
            // A real gap: later packets are here, this one is lost.
            int samples = _packets.First().Value.Samples;
            if (_packets.TryGetValue(_nextSequence + 1, out Packet next))
            {
                Append(_decoder.Recover(next.Data, samples, _scratch), -1);
                _recovered++;
            }
            else
            {
                Append(_decoder.Conceal(samples, _scratch), -1);
                _concealed++;
            }

            _nextSequence++;
            return true;
        }

        // Empty: the next packet is late, or the sender went quiet (DTX) or away. Stretch by PLC for up to 60 ms (Opus's
        // PLC fades out by itself); after that it is silence until packets come again. The target is not raised here: a
        // pause in speech (DTX) is no lateness, and a late packet raises it anyway through its transit time (Adapt).
        _emptyPulls++;
        if (_emptyPulls <= 6)
        {
            Append(_decoder.Conceal(AudioFormat.OpusRate / 100, _scratch), -1); // 10 ms
            _expanded++;
            return true;
        }

        _started = false; // wait for the target again: a fresh start, not one packet at a time
        return false;
    }

    private void Append(int samples, long captureMicros)
    {
        int values = samples * Channels;
        if (_readyCount == 0 && captureMicros >= 0)
        {
            _readyCaptureMicros = captureMicros;
        }

        if (_readyCount + values > _ready.Length)
        {
            values = _ready.Length - _readyCount;
        }

        _scratch.AsSpan(0, values).CopyTo(_ready.AsSpan(_readyCount));
        _readyCount += values;
    }

    // The delay follows the jitter: the spread of (arrival - capture) over the last second, plus one packet.
    private void Adapt(int samples)
    {
        int n = Math.Min(_transitCount, JitterWindow);
        if (n < 10)
        {
            return;
        }

        long min = long.MaxValue, max = long.MinValue;
        for (int i = 0; i < n; i++)
        {
            min = Math.Min(min, _transits[i]);
            max = Math.Max(max, _transits[i]);
        }

        double packetMs = samples * 1000.0 / AudioFormat.OpusRate;
        double wanted = Math.Clamp(((max - min) / 1000.0) + packetMs, MinDelayMs, MaxDelayMs);
        // Up at once, down slowly: a late packet costs an audible gap, a little extra delay costs nothing audible.
        _targetMs = wanted > _targetMs ? wanted : Math.Max(wanted, _targetMs - 0.5);
    }

    // Far more queued than the target: skip one at once (the delay comes down after a burst). A smaller excess that
    // stands for a whole second (its minimum over the second stays above the target plus half a packet, e.g. packets that
    // piled up while this process started) costs one packet too: otherwise it would be delay for the whole call.
    private void TrimToTarget()
    {
        long queued = QueuedMicros();
        if (_packets.Count > 2 && queued > (_targetMs + 40) * 1000)
        {
            DropOldest();
            return;
        }

        _standingMicros = Math.Min(_standingMicros, queued);
        if (++_standingPackets < JitterWindow)
        {
            return;
        }

        long packetMicros = _packets.Count > 0 ? _packets.First().Value.Samples * 1_000_000L / AudioFormat.OpusRate : 20_000;
        if (_packets.Count > 1 && _standingMicros > (_targetMs * 1000) + (packetMicros / 2))
        {
            DropOldest();
        }

        _standingPackets = 0;
        _standingMicros = long.MaxValue;
    }

    private void DropOldest()
    {
        long first = _packets.First().Key;
        _packets.Remove(first);
        _dropped++;
        _nextSequence = _packets.Count > 0 ? _packets.First().Key : first + 1;
    }

    private long QueuedMicros()
    {
        long total = 0;
        foreach (Packet p in _packets.Values)
        {
            total += p.Samples * 1_000_000L / AudioFormat.OpusRate;
        }

        return total;
    }

    private void ReleaseAll()
    {
        _packets.Clear();
        _readyCount = 0;
        _started = false;
        _played = false;
        _emptyPulls = 0;
    }

    private readonly record struct Packet(byte[] Data, int Samples, long CaptureMicros);
}
