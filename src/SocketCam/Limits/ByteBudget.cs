using System.Net;

namespace SocketCam.Limits;

/// <summary>
/// Bytes a server holds for peers before they are useful (frames still arriving, UDP frames being reassembled), capped in
/// total and per remote address, so one address cannot take the memory everyone shares. Reserve before allocating;
/// release exactly what was reserved. Thread-safe.
/// </summary>
public sealed class ByteBudget(long total, long perAddress)
{
    private readonly Dictionary<AddressKey, long> _byAddress = [];
    private readonly Lock _lock = new();
    private long _inUse;
    private long _peak;
    private long _highWater;

    /// <summary>The cap for everybody together.</summary>
    public long Total { get; } = total;

    /// <summary>The cap for one address (peers without an IP address count only against <see cref="Total"/>).</summary>
    public long PerAddress { get; } = perAddress;

    public long InUse => Volatile.Read(ref _inUse);

    /// <summary>The most ever in use at once since the server started.</summary>
    public long Peak => Volatile.Read(ref _peak);

    /// <summary>
    /// In use at once that makes a burst; when the budget drains to an eighth of it afterwards, <see cref="AfterBurst"/>
    /// runs (to give the burst's memory back). Default: no burst detection.
    /// </summary>
    public long BurstBytes { get; init; } = long.MaxValue;

    /// <summary>Called (outside the lock) when a burst of at least <see cref="BurstBytes"/> has drained.</summary>
    public Action? AfterBurst { get; init; }

    /// <summary>Reserves <paramref name="bytes"/> for <paramref name="key"/>; false (nothing reserved) when either cap would be passed.</summary>
    public bool TryReserve(AddressKey? key, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_lock)
        {
            if (bytes > Total - _inUse)
            {
                return false;
            }

            if (key is { } k)
            {
                long mine = _byAddress.GetValueOrDefault(k);
                if (bytes > PerAddress - mine)
                {
                    return false;
                }

                _byAddress[k] = mine + bytes;
            }

            _inUse += bytes;
            _peak = Math.Max(_peak, _inUse);
            _highWater = Math.Max(_highWater, _inUse);
            return true;
        }
    }

    public bool TryReserve(EndPoint? remote, long bytes) => TryReserve(AddressKey.Of(remote), bytes);

    public void Release(AddressKey? key, long bytes)
    {
        if (bytes == 0)
        {
            return;
        }

        bool drained;
        lock (_lock)
        {
            _inUse -= bytes;
            drained = _highWater >= BurstBytes && _inUse <= BurstBytes / 8;
            if (drained)
            {
                _highWater = _inUse;
            }

            if (key is { } k && _byAddress.TryGetValue(k, out long mine))
            {
                if (mine <= bytes)
                {
                    _byAddress.Remove(k);
                }
                else
                {
                    _byAddress[k] = mine - bytes;
                }
            }
        }

        if (drained)
        {
            AfterBurst?.Invoke();
        }
    }

    public void Release(EndPoint? remote, long bytes) => Release(AddressKey.Of(remote), bytes);

    /// <summary>Bytes <paramref name="key"/> holds now.</summary>
    public long InUseBy(AddressKey key)
    {
        lock (_lock)
        {
            return _byAddress.GetValueOrDefault(key);
        }
    }
}
