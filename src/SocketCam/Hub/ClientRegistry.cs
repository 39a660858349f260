namespace SocketCam.Hub;

/// <summary>
/// Every client of the hub, of every transport (TCP/Unix connections, UDP sessions, seed clients, the HTTP server's
/// MJPEG clients and WebSockets), each registered by whatever starts it and removed when it ends: the one source of
/// `/api/stats`, `/api/rooms`' client counts, `/metrics` and serve's status line. Totals include clients that left, so
/// a rate computed from them never goes negative when one leaves.
/// </summary>
public sealed class ClientRegistry
{
    private readonly Lock _lock = new();
    private readonly HashSet<IClientStats> _clients = new(ReferenceEqualityComparer.Instance);
    private long _bytesSentByGone;
    private long _bytesReceivedByGone;

    internal ClientRegistry()
    {
    }

    internal int Count
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>Bytes sent to clients since the hub started (those gone included).</summary>
    internal long BytesSent
    {
        get
        {
            lock (_lock)
            {
                return _bytesSentByGone + _clients.Sum(c => c.BytesSent);
            }
        }
    }

    /// <summary>Bytes of frames received from publishers since the hub started (those gone included).</summary>
    internal long BytesReceived
    {
        get
        {
            lock (_lock)
            {
                return _bytesReceivedByGone + _clients.Sum(c => c.BytesReceived);
            }
        }
    }

    /// <summary>Lists a client (of any transport) from when it starts; <see cref="Remove"/> it when it ends.</summary>
    public void Add(IClientStats client)
    {
        lock (_lock)
        {
            _clients.Add(client);
        }
    }

    /// <summary>Takes a client off the list when it ends; its byte counts stay in the totals.</summary>
    public void Remove(IClientStats client)
    {
        lock (_lock)
        {
            if (_clients.Remove(client))
            {
                _bytesSentByGone += client.BytesSent;
                _bytesReceivedByGone += client.BytesReceived;
            }
        }
    }

    /// <summary>The clients now, in no particular order (`/api/stats`, `/metrics`).</summary>
    public IReadOnlyList<IClientStats> Snapshot()
    {
        lock (_lock)
        {
            return [.. _clients];
        }
    }
}
