using System.Net;

namespace SocketCam.Limits;

/// <summary>
/// Connections (or other held resources) per remote address, capped, so one address cannot take every slot of a listener
/// and lock others out. Peers without an IP address (Unix sockets: guarded by file permissions) are not counted.
/// Thread-safe; every successful <see cref="TryAcquire(AddressKey?)"/> is paired with one <see cref="Release"/>.
/// </summary>
public sealed class AddressSlots(int maxPerAddress)
{
    private readonly Dictionary<AddressKey, int> _counts = [];
    private readonly Lock _lock = new();

    public int MaxPerAddress { get; } = maxPerAddress;

    /// <summary>Takes a slot for <paramref name="key"/>; false when that address already holds <see cref="MaxPerAddress"/>.</summary>
    public bool TryAcquire(AddressKey? key)
    {
        if (key is not { } k)
        {
            return true;
        }

        lock (_lock)
        {
            _counts.TryGetValue(k, out int count);
            if (count >= MaxPerAddress)
            {
                return false;
            }

            _counts[k] = count + 1;
            return true;
        }
    }

    public bool TryAcquire(EndPoint? remote) => TryAcquire(AddressKey.Of(remote));

    public void Release(AddressKey? key)
    {
        if (key is not { } k)
        {
            return;
        }

        lock (_lock)
        {
            if (_counts.TryGetValue(k, out int count))
            {
                if (count <= 1)
                {
                    _counts.Remove(k);
                }
                else
                {
                    _counts[k] = count - 1;
                }
            }
        }
    }

    public void Release(EndPoint? remote) => Release(AddressKey.Of(remote));

    /// <summary>Slots <paramref name="key"/> holds now.</summary>
    public int CountOf(AddressKey key)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key);
        }
    }
}
