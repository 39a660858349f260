using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Hub;

/// <summary>
/// The hub: accepts native-protocol clients, keeps rooms, and fans each room's frames out to its viewers.
/// Every connection runs as a tracked task; <see cref="DisposeAsync"/> says goodbye to all and waits for them.
/// </summary>
public sealed class HubServer : IAsyncDisposable
{
    private readonly HubOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Room> _rooms = new(StringComparer.Ordinal);
    private readonly ConnectionSet<HubConnection> _connections = new();
    private readonly Lock _roomsLock = new();
    private readonly CancellationTokenSource _shutdown = new();
    private IRoomObserver[] _roomObservers = [];
    private long _framesOfRemovedRooms;
    private Socket? _listener;
    private Udp.UdpHubListener? _udp;
    private UnixSocketListener? _unixListener;
    private readonly List<Task> _acceptLoops = [];
    private int _disposed;

    public HubServer(HubOptions options, ILoggerFactory? loggerFactory = null)
    {
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Hub");
        Guards = new Limits.ServerGuards(options.Limits);
    }

    /// <summary>The limits' shared state (refusal counts, budgets, the failed-attempt throttle) for every transport, HTTP included.</summary>
    public Limits.ServerGuards Guards { get; }

    /// <summary>The bound TCP endpoint (with the real port when port 0 was asked for).</summary>
    public IPEndPoint TcpEndPoint => (IPEndPoint?)_listener?.LocalEndPoint ?? throw new InvalidOperationException("The hub has no TCP listener (not started, or Unix socket only).");

    /// <summary>True when the hub listens on TCP (<see cref="HubOptions.TcpEndPoint"/> was set).</summary>
    public bool HasTcpListener => _listener is not null;

    /// <summary>The Unix socket file the hub listens on, or null.</summary>
    public string? UnixSocketPath => _unixListener?.Path;

    public HubOptions Options => _options;

    /// <summary>The bound UDP endpoint, or null when the hub has no UDP listener.</summary>
    public IPEndPoint? UdpEndPoint => _udp?.EndPoint;

    internal Udp.UdpHubListener? Udp => _udp;

    internal ILogger Logger => _logger;

    internal IEnumerable<Room> Rooms => _rooms.Values;

    internal IEnumerable<HubConnection> Connections => _connections.Items;

    /// <summary>
    /// Binds the listeners (throws <see cref="SocketException"/> if the TCP address is taken, <see cref="Diagnostics.UserFacingException"/>
    /// if the Unix socket path is in use or not a socket) and starts accepting. Both transports feed the same accept
    /// loop code, connection set and rooms.
    /// </summary>
    public void Start()
    {
        if (_options.TcpEndPoint is null && _options.UnixSocketPath is null)
        {
            throw new InvalidOperationException("The hub needs a TCP endpoint, a Unix socket path, or both.");
        }

        try
        {
            if (_options.TcpEndPoint is { } tcp)
            {
                _listener = TcpListening.Listen(tcp, 512);
                HubLog.Listening(_logger, TcpEndPoint.ToString());
            }

            if (_options.UnixSocketPath is { } path)
            {
                _unixListener = UnixSocketListener.Listen(path, 512);
                if (_unixListener.ReplacedStale)
                {
                    HubLog.ReplacedStaleSocket(_logger, _unixListener.Path);
                }

                HubLog.ListeningUnix(_logger, _unixListener.Path);
            }

            if (_options.UdpEndPoint is { } udp)
            {
                _udp = new Udp.UdpHubListener(this, udp, _options, _logger);
            }
        }
        catch
        {
            // Nothing half-started: listeners bound before a later one failed are closed again.
            _listener?.Dispose();
            _listener = null;
            _unixListener?.Dispose();
            _unixListener = null;
            throw;
        }

        _udp?.Start();

        if (_listener is not null)
        {
            _acceptLoops.Add(AcceptLoopAsync(_listener, _shutdown.Token));
        }

        if (_unixListener is not null)
        {
            _acceptLoops.Add(AcceptLoopAsync(_unixListener.Socket, _shutdown.Token));
        }
    }

    /// <summary>
    /// Gets (or creates) a room and takes a reference to it. Every connection that joined gives its reference back
    /// with <see cref="LeaveRoom"/>; a capture pipeline keeps its reference for the hub's lifetime.
    /// </summary>
    internal Room GetOrCreateRoom(string name)
    {
        lock (_roomsLock)
        {
            if (!_rooms.TryGetValue(name, out Room? room))
            {
                room = new Room(name, _logger);
                _rooms[name] = room;
                foreach (IRoomObserver observer in _roomObservers)
                {
                    observer.OnRoomCreated(room);
                }
            }

            room.References++;
            return room;
        }
    }

    /// <summary>
    /// Takes a reference to an existing room (give it back with <see cref="LeaveRoom"/>), or returns null when no room
    /// of that name exists: HTTP clients watch rooms that publishers or capture created, they never create one.
    /// </summary>
    internal Room? TryJoinExistingRoom(string name)
    {
        lock (_roomsLock)
        {
            if (!_rooms.TryGetValue(name, out Room? room))
            {
                return null;
            }

            room.References++;
            return room;
        }
    }

    /// <summary>
    /// Tells <paramref name="observer"/> about every room that exists now and every room created or removed from now on
    /// (a recorder of all rooms). Its callbacks run under the hub's rooms lock: they must be quick and must not block.
    /// </summary>
    internal void AddRoomObserver(IRoomObserver observer)
    {
        lock (_roomsLock)
        {
            _roomObservers = [.. _roomObservers, observer];
            foreach (Room room in _rooms.Values)
            {
                observer.OnRoomCreated(room);
            }
        }
    }

    /// <summary>Gives back a reference from <see cref="GetOrCreateRoom"/>; the last one removes and disposes the room.</summary>
    internal void LeaveRoom(Room room)
    {
        lock (_roomsLock)
        {
            if (--room.References > 0)
            {
                return;
            }

            _rooms.TryRemove(new KeyValuePair<string, Room>(room.Name, room));
            _framesOfRemovedRooms += room.FramesPublished;
            foreach (IRoomObserver observer in _roomObservers)
            {
                observer.OnRoomRemoved(room);
            }
        }

        room.Dispose();
    }

    /// <summary>Frames published into every room since the hub started, including rooms since removed.</summary>
    internal long FramesPublished
    {
        get
        {
            lock (_roomsLock)
            {
                return _framesOfRemovedRooms + _rooms.Values.Sum(r => r.FramesPublished);
            }
        }
    }

    internal ulong NextSessionId() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));

    private async Task AcceptLoopAsync(Socket listener, CancellationToken cancellationToken)
    {
        await foreach (Socket client in listener.AcceptAllAsync(cancellationToken))
        {
            if (_connections.Count >= _options.MaxConnections)
            {
                HubLog.TooManyConnections(_logger, client.Describe(), _options.MaxConnections);
                client.Dispose();
                continue;
            }

            // Tracked by the set: shutdown awaits it (ConnectionSet.WhenAllAsync).
            _ = _connections.Start(new HubConnection(client, this, _options, _logger, cancellationToken), c => c.RunAsync(cancellationToken));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _shutdown.CancelAsync();
        _listener?.Dispose();
        _unixListener?.Dispose(); // removes the socket file: nobody new can connect during the goodbyes
        await Task.WhenAll(_acceptLoops);

        await _connections.WhenAllAsync();
        if (_udp is not null)
        {
            await _udp.DisposeAsync();
        }

        foreach (Room room in _rooms.Values)
        {
            room.Dispose();
        }

        _shutdown.Dispose();
    }
}
