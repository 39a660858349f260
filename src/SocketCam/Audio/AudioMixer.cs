namespace SocketCam.Audio;

/// <summary>
/// Everyone a listener hears, summed into one output: a <see cref="JitterBuffer"/> per received track, pulled together a
/// tick at a time and added with saturation. Tracks come and go with the room; thread-safe.
/// </summary>
internal sealed class AudioMixer : IDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<(uint Participant, ushort Track), JitterBuffer> _tracks = [];
    private readonly HashSet<uint> _muted = [];
    private short[] _one = [];

    public AudioMixer(int channels)
    {
        Channels = channels;
    }

    /// <summary>The output's channels (mono tracks are spread over both of a stereo output).</summary>
    public int Channels { get; }

    /// <summary>The buffer of a track, made on its first packet.</summary>
    public JitterBuffer Track(uint participant, ushort track, int channels)
    {
        lock (_lock)
        {
            if (!_tracks.TryGetValue((participant, track), out JitterBuffer? buffer) || buffer.Channels != channels)
            {
                buffer?.Dispose();
                buffer = new JitterBuffer(channels) { Muted = _muted.Contains(participant) };
                _tracks[(participant, track)] = buffer;
            }

            return buffer;
        }
    }

    /// <summary>Forgets a track (it was unpublished, or its participant left).</summary>
    public void Remove(uint participant, ushort track)
    {
        lock (_lock)
        {
            if (_tracks.Remove((participant, track), out JitterBuffer? buffer))
            {
                buffer.Dispose();
            }
        }
    }

    /// <summary>Forgets every track of a participant (it left).</summary>
    public void RemoveParticipant(uint participant)
    {
        lock (_lock)
        {
            foreach ((uint p, ushort t) in _tracks.Keys.Where(k => k.Participant == participant).ToList())
            {
                _tracks.Remove((p, t), out JitterBuffer? buffer);
                buffer?.Dispose();
            }
        }
    }

    /// <summary>Capture time (local µs) of what plays next on the first track that has played, 0 if none: for latency.</summary>
    public long PlayheadMicros()
    {
        lock (_lock)
        {
            foreach (JitterBuffer track in _tracks.Values)
            {
                if (track.PlayheadCaptureMicros > 0)
                {
                    return track.PlayheadCaptureMicros;
                }
            }

            return 0;
        }
    }

    /// <summary>Each track's figures.</summary>
    public IReadOnlyList<((uint Participant, ushort Track) Key, JitterStats Stats)> Stats()
    {
        lock (_lock)
        {
            return [.. _tracks.Select(t => (t.Key, t.Value.Stats))];
        }
    }

    /// <summary>Mutes (or unmutes) every track of a participant, here only.</summary>
    public void Mute(uint participant, bool muted)
    {
        lock (_lock)
        {
            if (muted)
            {
                _muted.Add(participant);
            }
            else
            {
                _muted.Remove(participant);
            }

            foreach (((uint p, ushort _), JitterBuffer buffer) in _tracks)
            {
                if (p == participant)
                {
                    buffer.Muted = muted;
                }
            }
        }
    }

    /// <summary>The next <paramref name="output"/>.Length / channels samples of everyone together; true if anyone sounded.</summary>
    public bool Pull(Span<short> output)
    {
        output.Clear();
        int samples = output.Length / Channels;
        bool any = false;
        lock (_lock)
        {
            foreach (JitterBuffer track in _tracks.Values)
            {
                int values = samples * track.Channels;
                if (_one.Length < values)
                {
                    _one = new short[values];
                }

                Span<short> one = _one.AsSpan(0, values);
                if (!track.Pull(one))
                {
                    continue;
                }

                any = true;
                for (int s = 0; s < samples; s++)
                {
                    for (int c = 0; c < Channels; c++)
                    {
                        short v = one[(s * track.Channels) + Math.Min(c, track.Channels - 1)];
                        int i = (s * Channels) + c;
                        output[i] = (short)Math.Clamp(output[i] + v, short.MinValue, short.MaxValue);
                    }
                }
            }
        }

        return any;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (JitterBuffer buffer in _tracks.Values)
            {
                buffer.Dispose();
            }

            _tracks.Clear();
        }
    }
}
