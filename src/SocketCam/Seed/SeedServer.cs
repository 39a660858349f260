using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Transport;

namespace SocketCam.Seed;

/// <summary>
/// `serve --seed-tcp`: a second listener beside the hub's own that sends one room's frames in the seed tutorials'
/// format (docs/PROTOCOL.md §3), so their unchanged client program can watch. Seed clients are room viewers like any
/// other; one <see cref="SeedFrameCache"/> converts each frame once for all of them.
/// </summary>
public sealed class SeedServer : IAsyncDisposable
{
    private readonly HubServer _hub;
    private readonly SeedOptions _options;
    private readonly ILogger _logger;
    private readonly SeedFrameCache _cache = new();
    private readonly ConnectionSet<SeedConnection> _connections = new();
    private readonly CancellationTokenSource _shutdown = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private int _disposed;

    public SeedServer(HubServer hub, SeedOptions options, ILoggerFactory? loggerFactory = null)
    {
        _hub = hub;
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Seed");
    }

    /// <summary>The bound endpoint (with the real port when port 0 was asked for).</summary>
    public IPEndPoint EndPoint => (IPEndPoint?)_listener?.LocalEndPoint ?? throw new InvalidOperationException("The seed listener is not started.");

    public SeedOptions Options => _options;

    /// <summary>Seed clients connected now.</summary>
    public int ClientCount => _connections.Count;

    /// <summary>Binds (throws <see cref="SocketException"/> when the address is taken) and starts accepting.</summary>
    public void Start()
    {
        Socket listener = TcpListening.Listen(_options.EndPoint, 64);
        _listener = listener;
        SeedLog.Listening(_logger, EndPoint.ToString(), _options.Room);
        _acceptLoop = AcceptLoopAsync(listener, _shutdown.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _shutdown.CancelAsync();
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        await _connections.WhenAllAsync();
        _cache.Dispose();
        _shutdown.Dispose();
    }

    /// <summary>
    /// Accepts with the listener's own per-address cap (the hub's limits), so one address cannot take every seed slot.
    /// The seed format has no way to say why: a refused client is just closed (counted and logged, rate-limited by the CLI).
    /// </summary>
    private async Task AcceptLoopAsync(Socket listener, CancellationToken cancellationToken)
    {
        ServerGuards guards = _hub.Guards;
        AddressSlots slots = guards.NewAddressSlots();
        await foreach (Socket client in listener.AcceptAllAsync(cancellationToken))
        {
            if (_connections.Count >= _options.MaxConnections)
            {
                guards.Refusals.Count(Refusal.ConnectionLimit);
                SeedLog.TooMany(_logger, client.Describe(), _options.MaxConnections);
                client.Dispose();
                continue;
            }

            AddressKey? address = AddressKey.OfPeer(client);

            if (!slots.TryAcquire(address))
            {
                guards.Refusals.Count(Refusal.AddressLimit);
                SeedLog.TooManyFromAddress(_logger, client.Describe(), slots.MaxPerAddress, address.ToString()!);
                client.Dispose();
                continue;
            }

            Room room = _hub.GetOrCreateRoom(_options.Room);
            // Tracked by the set: shutdown awaits it (ConnectionSet.WhenAllAsync). The slot is given back when it ends.
            var connection = new SeedConnection(client, room, _cache, _options, _logger);
            _hub.Clients.Add(connection);
            _ = _connections.Start(connection, c => c.RunAsync(cancellationToken), c =>
            {
                _hub.Clients.Remove(c);
                _hub.LeaveRoom(room);
                slots.Release(address);
            });
        }
    }
}
