using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Transport;

using SocketCam.Rooms;

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

    /// <summary>Refused connections still being told why (a few hundred bytes each, at most <see cref="MaxRefusalsInProgress"/>).</summary>
    private readonly ConnectionSet<Socket> _refusals = new();
    private const int MaxRefusalsInProgress = 64;
    private static readonly TimeSpan RefusalLinger = TimeSpan.FromSeconds(1);
    private readonly Lock _roomsLock = new();
    private readonly CancellationTokenSource _shutdown = new();
    private IRoomObserver[] _roomObservers = [];
    private long _framesOfRemovedRooms;
    private Socket? _listener;
    private TlsAcceptor? _tls;
    private UdpHubListener? _udp;
    private UnixSocketListener? _unixListener;
    private readonly List<Task> _acceptLoops = [];
    private int _disposed;

    public HubServer(HubOptions options, ILoggerFactory? loggerFactory = null)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Hub");
        Guards = new Limits.ServerGuards(options.Limits, _logger);
    }

    private readonly ILoggerFactory? _loggerFactory;

    /// <summary>The rooms' chat logs (docs/CHAT.md), open from <see cref="Start"/> on; null when <see cref="HubOptions.Chat"/> is (chat off).</summary>
    public Chat.ChatStore? Chat { get; private set; }

    /// <summary>The limits' shared state (refusal counts, budgets, the failed-attempt throttle) for every transport, HTTP included.</summary>
    public Limits.ServerGuards Guards { get; }

    /// <summary>The bound TCP endpoint (with the real port when port 0 was asked for).</summary>
    public IPEndPoint TcpEndPoint => (IPEndPoint?)_listener?.LocalEndPoint ?? throw new InvalidOperationException("The hub has no TCP listener (not started, or Unix socket only).");

    /// <summary>True when the TCP listener speaks TLS (<see cref="TcpOptions.Certificate"/> was set).</summary>
    public bool TcpIsTls => _tls is not null;

    /// <summary>True when the hub listens on TCP (<see cref="HubOptions.Tcp"/> was set).</summary>
    public bool HasTcpListener => _listener is not null;

    /// <summary>The Unix socket file the hub listens on, or null.</summary>
    public string? UnixSocketPath => _unixListener?.Path;

    public HubOptions Options => _options;

    /// <summary>The bound UDP endpoint, or null when the hub has no UDP listener.</summary>
    public IPEndPoint? UdpEndPoint => _udp?.EndPoint;

    internal UdpHubListener? Udp => _udp;

    internal ILogger Logger => _logger;

    /// <summary>The rooms that exist now (`/api/rooms`, `/metrics`, the names an unknown room's answer lists).</summary>
    public IEnumerable<Room> Rooms => _rooms.Values;

    internal IEnumerable<HubConnection> Connections => _connections.Items;

    /// <summary>Every client of every transport (registered by what starts it): /api/stats, /api/rooms, /metrics, serve's status line.</summary>
    public ClientRegistry Clients { get; } = new();

    /// <summary>
    /// Binds the listeners (throws <see cref="SocketException"/> if the TCP address is taken, <see cref="Diagnostics.UserFacingException"/>
    /// if the Unix socket path is in use or not a socket) and starts accepting. Both transports feed the same accept
    /// loop code, connection set and rooms.
    /// </summary>
    public void Start()
    {
        if (_options.Tcp is null && _options.Unix is null)
        {
            throw new InvalidOperationException("The hub needs a TCP listener, a Unix socket, or both.");
        }

        if (_options.Chat is { } chat)
        {
            // Before any listener: a store that cannot open is a one-line error with nothing bound.
            Chat = SocketCam.Chat.ChatStore.Open(chat, _loggerFactory);
            Chat.Stored = (room, message) =>
            {
                if (_rooms.TryGetValue(room, out Room? r))
                {
                    r.AnnounceChat(message);
                }
            };
        }

        try
        {
            if (_options.Tcp is { EndPoint: var tcp } tcpOptions)
            {
                _tls = tcpOptions.Certificate is { } certificate ? new TlsAcceptor(certificate) : null;
                _listener = TcpListening.Listen(tcp, 512);
                if (_tls is not null)
                {
                    HubLog.ListeningTls(_logger, TcpEndPoint.ToString(), _tls.Fingerprint);
                }
                else
                {
                    HubLog.Listening(_logger, TcpEndPoint.ToString());
                }
            }

            if (_options.Unix is { Path: var path })
            {
                _unixListener = UnixSocketListener.Listen(path, 512);
                if (_unixListener.ReplacedStale)
                {
                    HubLog.ReplacedStaleSocket(_logger, _unixListener.Path);
                }

                HubLog.ListeningUnix(_logger, _unixListener.Path);
            }

            if (_options.Udp is { } udp)
            {
                _udp = new UdpHubListener(this, udp, _logger);
            }
        }
        catch
        {
            // Nothing half-started: listeners bound before a later one failed are closed again.
            _listener?.Dispose();
            _listener = null;
            _unixListener?.Dispose();
            _unixListener = null;
            if (Chat is not null)
            {
                Chat.DisposeAsync().AsTask().GetAwaiter().GetResult();
                Chat = null;
            }

            throw;
        }

        _udp?.Start();

        if (_listener is not null)
        {
            _acceptLoops.Add(AcceptLoopAsync(_listener, _tls, _shutdown.Token));
        }

        if (_unixListener is not null)
        {
            _acceptLoops.Add(AcceptLoopAsync(_unixListener.Socket, null, _shutdown.Token));
        }
    }

    /// <summary>
    /// Gets (or creates) a room and takes a reference to it. Every connection that joined gives its reference back
    /// with <see cref="LeaveRoom"/>; a capture pipeline keeps its reference for the hub's lifetime.
    /// </summary>
    public Room GetOrCreateRoom(string name)
    {
        lock (_roomsLock)
        {
            if (!_rooms.TryGetValue(name, out Room? room))
            {
                room = new Room(name, _logger) { Limits = _options.Rooms };
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
    /// What a peer joins through: <see cref="GetOrCreateRoom"/> when the hub lets a peer with <paramref name="grants"/>
    /// open that room (`--rooms`, `--max-rooms`); otherwise a <see cref="ProtocolException"/> (not-allowed) with the reason,
    /// counted as <c>room_limit</c>.
    /// </summary>
    public Room OpenRoom(string name, Auth.AccessGrants grants)
    {
        lock (_roomsLock)
        {
            if (!_rooms.ContainsKey(name) && WhyNotOpen(name, grants) is { } why)
            {
                Guards.Refusals.Count(Refusal.RoomLimit);
                throw new ProtocolException(ErrorCode.NotAllowed, why);
            }

            return GetOrCreateRoom(name);
        }
    }

    /// <summary>Why a peer with <paramref name="grants"/> may not open the room <paramref name="name"/> now, or null.</summary>
    public string? WhyNotOpen(string name, Auth.AccessGrants grants)
    {
        lock (_roomsLock)
        {
            if (_rooms.ContainsKey(name))
            {
                return null;
            }

            if (_options.FixedRooms is { } fixedRooms && !fixedRooms.Contains(name, StringComparer.Ordinal) && !Auth.AccessGrantNames.Covers(grants, Auth.AccessGrants.Create))
            {
                return $"Room '{name}' is not one of this hub's rooms ({string.Join(", ", fixedRooms)}); opening another needs a token with the create grant.";
            }

            return _rooms.Count >= _options.MaxRooms ? $"This hub has {_rooms.Count} rooms open, its limit (serve --max-rooms {_options.MaxRooms})." : null;
        }
    }

    /// <summary>
    /// Takes a reference to an existing room (give it back with <see cref="LeaveRoom"/>), or returns null when no room
    /// of that name exists: HTTP clients watch rooms that publishers or capture created, they never create one.
    /// </summary>
    public Room? TryJoinExistingRoom(string name)
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
    public void LeaveRoom(Room room)
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
    public long FramesPublished
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

    /// <summary>
    /// Accepts for one listener, with its own per-address cap (Unix socket peers have no address and are not counted).
    /// Refusals are counted, logged (the CLI's logger rate-limits repeated lines) and told why where the peer can hear it.
    /// </summary>
    /// <param name="tls">TLS on this listener, or null for plaintext.</param>
    private async Task AcceptLoopAsync(Socket listener, TlsAcceptor? tls, CancellationToken cancellationToken)
    {
        AddressSlots slots = Guards.NewAddressSlots();
        await foreach (Socket client in listener.AcceptAllAsync(cancellationToken))
        {
            AddressKey? address = AddressKey.OfPeer(client);
            if (_connections.Count >= _options.Sessions.MaxConnections)
            {
                Guards.Refusals.Count(Refusal.ConnectionLimit);
                HubLog.TooManyConnections(_logger, client.Describe(), _options.Sessions.MaxConnections);
                Refuse(client, string.Create(CultureInfo.InvariantCulture, $"The hub has {_options.Sessions.MaxConnections} connections, its limit; try again later."), tls, cancellationToken);
                continue;
            }

            if (!slots.TryAcquire(address))
            {
                Guards.Refusals.Count(Refusal.AddressLimit);
                HubLog.TooManyFromAddress(_logger, client.Describe(), slots.MaxPerAddress, address.ToString()!);
                Refuse(client, string.Create(CultureInfo.InvariantCulture, $"{slots.MaxPerAddress} connections from {address} is the limit per address"), tls, cancellationToken);
                continue;
            }

            // Tracked by the set: shutdown awaits it (ConnectionSet.WhenAllAsync). The slot is given back when it ends.
            var connection = new HubConnection(client, address, tls, this, _options.Sessions, _logger, cancellationToken);
            Clients.Add(connection);
            _ = _connections.Start(connection, c => c.RunAsync(cancellationToken), c =>
            {
                Clients.Remove(c);
                slots.Release(address);
            });
        }
    }

    /// <summary>
    /// Sends the hub's preface and ERROR `too-many-clients` to a connection it will not serve, then closes it. Tracked and
    /// bounded: beyond <see cref="MaxRefusalsInProgress"/> at once (a connect storm) a refused connection is just closed.
    /// </summary>
    private void Refuse(Socket client, string text, TlsAcceptor? tls, CancellationToken cancellationToken)
    {
        // On a TLS listener a plaintext ERROR would only break the client's handshake, and a handshake per refusal is
        // what a connect storm must not cost: the connection is just closed.
        if (tls is not null || _refusals.Count >= MaxRefusalsInProgress)
        {
            client.Dispose();
            return;
        }

        _ = _refusals.Start(client, c => RefuseAsync(c, text, cancellationToken));
    }

    private static async Task RefuseAsync(Socket client, string text, CancellationToken cancellationToken)
    {
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linger.CancelAfter(RefusalLinger);
        try
        {
            byte[] message = new byte[ProtocolConstants.PrefaceSize + MessageWriter.MaxControlMessageSize];
            MessageWriter.WritePreface(message);
            int length = ProtocolConstants.PrefaceSize + MessageWriter.WriteClose(message.AsSpan(ProtocolConstants.PrefaceSize), MessageType.Error, ErrorCode.TooManyClients, text);
            await client.SendAllAsync(message.AsMemory(0, length), linger.Token);
            client.Shutdown(SocketShutdown.Send);

            // Read what the peer sent (its HELLO) until it closes: closing with unread bytes would reset the connection,
            // and a reset can destroy the ERROR before the peer reads it.
            byte[] sink = new byte[4096];
            for (int total = 0; total < 64 * 1024;)
            {
                int read = await client.ReceiveAsync(sink, SocketFlags.None, linger.Token);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
        {
            // It did not listen; it was told as well as it can be.
        }
        finally
        {
            client.Dispose();
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
        await _refusals.WhenAllAsync();
        await Guards.Memory.DisposeAsync();
        if (_udp is not null)
        {
            await _udp.DisposeAsync();
        }

        foreach (Room room in _rooms.Values)
        {
            room.Dispose();
        }

        if (Chat is not null)
        {
            await Chat.DisposeAsync();
        }

        _shutdown.Dispose();
    }
}
