using SocketCam.Limits;
using SocketCam.Udp;

namespace SocketCam.Hub;

/// <summary>
/// The keys the hub gave over TLS (UDP_KEY) that no sealed HELLO has used yet (docs/PROTOCOL.md §2.0 "Encrypted
/// sessions"): bounded in all and per address, each forgotten 10 s after it was given. A key is taken once, by the
/// first HELLO it opens.
/// </summary>
internal sealed class UdpKeyStore : IDisposable
{
    public const int MaxKeys = 1024;
    public const int MaxKeysPerAddress = 16;
    public const long LifetimeMicros = 10_000_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Entry> _keys = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _keys.Count;
            }
        }
    }

    /// <summary>New keys for a client at <paramref name="address"/>, remembered; null when the store (or that address's share) is full.</summary>
    public UdpSessionKeys? Issue(AddressKey? address, ushort udpPort, long nowMicros)
    {
        UdpSessionKeys keys = UdpSessionKeys.Create(udpPort);
        lock (_lock)
        {
            ExpireLocked(nowMicros);
            if (_keys.Count >= MaxKeys || _keys.Values.Count(e => e.Address == address) >= MaxKeysPerAddress)
            {
                return null;
            }

            _keys[keys.SessionId] = new Entry(DatagramSeal.ForHub(keys), address, nowMicros);
        }

        return keys;
    }

    /// <summary>The hub's seal for a session id that was given and not used or expired yet (left in the store).</summary>
    public DatagramSeal? Find(ulong sessionId, long nowMicros)
    {
        lock (_lock)
        {
            return _keys.TryGetValue(sessionId, out Entry? entry) && nowMicros - entry.IssuedMicros <= LifetimeMicros ? entry.Seal : null;
        }
    }

    /// <summary>Takes a key out once a HELLO opened with it: its seal now belongs to that (pending) session.</summary>
    public void Take(ulong sessionId)
    {
        lock (_lock)
        {
            _keys.Remove(sessionId);
        }
    }

    public void Expire(long nowMicros)
    {
        lock (_lock)
        {
            ExpireLocked(nowMicros);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (Entry entry in _keys.Values)
            {
                entry.Seal.Dispose();
            }

            _keys.Clear();
        }
    }

    private void ExpireLocked(long nowMicros)
    {
        foreach ((ulong id, Entry entry) in _keys.Where(k => nowMicros - k.Value.IssuedMicros > LifetimeMicros).ToList())
        {
            entry.Seal.Dispose();
            _keys.Remove(id);
        }
    }

    private sealed record Entry(DatagramSeal Seal, AddressKey? Address, long IssuedMicros);
}
