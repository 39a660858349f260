using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Udp;

/// <summary>
/// `serve --udp`: one UDP socket for every UDP session of the hub (docs/PROTOCOL.md §2.0). Its receive loop answers
/// HELLOs (never with more bytes than the HELLO had), activates a session when a datagram with the new id comes back
/// from the HELLO's address, and hands every other datagram to the session at its source address, after checking the id;
/// everything else is dropped and counted in <see cref="Drops"/>.
/// </summary>
internal sealed class UdpHubListener : IAsyncDisposable
{
    private const int MaxPending = 1024;
    private const long PendingLifetimeMicros = 5_000_000;
    private static readonly TimeSpan HousekeepingInterval = TimeSpan.FromMilliseconds(250);

    private readonly HubServer _hub;
    private readonly HubOptions _options;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<SocketAddress, IUdpSession> _sessions = [];
    private readonly Dictionary<ulong, PendingUdpSession> _pending = [];
    private readonly ConnectionSet<IUdpSession> _running = new();
    private readonly byte[] _hash;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _housekeeping = Task.CompletedTask;
    private int _disposed;
    private long _sendErrors;

    public UdpHubListener(HubServer hub, IPEndPoint endPoint, HubOptions options, ILogger logger)
    {
        _hub = hub;
        _options = options;
        _logger = logger;
        _hash = options.Token is null ? [] : SHA256.HashData(Encoding.UTF8.GetBytes(options.Token));
        _socket = UdpSockets.Create(endPoint.AddressFamily);
        try
        {
            _socket.Blocking = false;

            _socket.Bind(endPoint);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint EndPoint { get; }

    public UdpDropCounters Drops { get; } = new();

    /// <summary>Active sessions (for /api/stats and tests).</summary>
    public IEnumerable<IUdpSession> Sessions => _running.Items;

    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    public void Start()
    {
        UdpLog.Listening(_logger, EndPoint.ToString());
        _receiveLoop = ReceiveLoopAsync(_shutdown.Token);
        _housekeeping = HousekeepingAsync(_shutdown.Token);
    }

    /// <summary>Datagrams the kernel would not take (a full send buffer, a firewall): lost, as far as the peer can tell.</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);

    /// <summary>
    /// Sends one datagram now (fragments, PONG, NACK, REPORT, BYE). The socket is non-blocking, so this never waits: a
    /// datagram the kernel cannot take is lost, and recovery and keep-alives deal with it.
    /// </summary>
    public void SendTo(ReadOnlySpan<byte> datagram, SocketAddress address)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, address);
        }
        catch (SocketException ex) when (UdpSockets.IsTransientSendError(ex))
        {
            Interlocked.Increment(ref _sendErrors);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Sessions say BYE (server-shutdown) on their way out; then the socket can go.
        await _shutdown.CancelAsync();
        await _running.WhenAllAsync();
        await _housekeeping;
        _socket.Dispose();
        await _receiveLoop;
        _shutdown.Dispose();
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        // One byte more than the largest valid datagram, so an oversized one is seen as such instead of truncated.
        byte[] buffer = GC.AllocateArray<byte>(UdpWire.MaxDatagram + 1, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);
        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer.AsMemory(), SocketFlags.None, from, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
            {
                // An ICMP error about an earlier send, or a datagram larger than the buffer: nothing to do with the next one.
                if (ex.SocketErrorCode == SocketError.MessageSize)
                {
                    Drops.OnOversized();
                }

                continue;
            }

            try
            {
                OnDatagram(buffer.AsSpan(0, received), from);
            }
            catch (Exception ex)
            {
                // A bug must not take the listener down for every other session.
                UdpLog.ReceiveFailed(_logger, ex);
            }
        }
    }

    private void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        if (datagram.Length > UdpWire.MaxDatagram)
        {
            Drops.OnOversized();
            return;
        }

        if (!UdpWire.TryReadPrefix(datagram, out DatagramType type, out ulong sessionId))
        {
            Drops.OnMalformed();
            return;
        }

        if (type == DatagramType.Hello)
        {
            OnHello(datagram, from);
            return;
        }

        IUdpSession? session;
        lock (_lock)
        {
            _sessions.TryGetValue(from, out session);
            if (session is null || session.Id != sessionId)
            {
                // The first datagram back from a HELLO's address with the new id proves the address: the session starts.
                if (_pending.TryGetValue(sessionId, out PendingUdpSession? pending) && pending.Address.Equals(from))
                {
                    _pending.Remove(sessionId);
                    session = Activate(pending);
                }
                else
                {
                    if (session is null)
                    {
                        Drops.OnUnknownAddress();
                    }
                    else
                    {
                        Drops.OnWrongSession();
                    }

                    return;
                }
            }
        }

        session?.OnDatagram(type, datagram);
    }

    private void OnHello(ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        if (!UdpWire.TryReadHello(datagram, out UdpHello hello))
        {
            Drops.OnMalformed();
            return;
        }

        lock (_lock)
        {
            // A repeated HELLO (its WELCOME was lost) gets the same WELCOME again.
            foreach (PendingUdpSession pending in _pending.Values)
            {
                if (pending.Hello.Nonce == hello.Nonce && pending.Address.Equals(from))
                {
                    SendTo(pending.Welcome, from);
                    return;
                }
            }

            if (_pending.Count >= MaxPending)
            {
                Drops.OnPendingFull();
                return;
            }
        }

        string? refusal = Refusal(hello, out ErrorCode code);
        if (refusal is not null)
        {
            UdpLog.Refused(_logger, Describe(from), code.ToWireName(), refusal);
            byte[] refuse = new byte[UdpWire.MaxDatagram];
            int length = UdpWire.WriteRefuse(refuse, 0, new UdpRefuse(hello.Nonce, code, refusal), maxLength: datagram.Length);
            SendTo(refuse.AsSpan(0, length), from);
            return;
        }

        ulong id = _hub.NextSessionId();
        byte[] welcome = new byte[UdpWire.WelcomeSize];
        UdpWire.WriteWelcome(welcome, id, new UdpWelcome(hello.Nonce, Clock.NowMicros(), (uint)_options.MaxFrameBytes, UdpWire.FragmentPayload));
        var address = new SocketAddress(from.Family, from.Size);
        from.Buffer.CopyTo(address.Buffer);
        lock (_lock)
        {
            _pending[id] = new PendingUdpSession(id, address, hello, Clock.NowMicros(), welcome);
        }

        SendTo(welcome, from);
    }

    private string? Refusal(UdpHello hello, out ErrorCode code)
    {
        code = ErrorCode.Unauthorized;
        if (_hash.Length > 0 && !CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(hello.Token ?? "")), _hash))
        {
            return hello.Token is null ? "This hub needs a token." : "Wrong token.";
        }

        code = ErrorCode.RoomBusy;
        if (hello.Role == PeerRole.Publisher && _hub.Rooms.FirstOrDefault(r => r.Name == hello.Room) is { HasPublisher: true })
        {
            return $"Room '{hello.Room}' already has a publisher.";
        }

        return null;
    }

    /// <summary>Under the lock: the new session replaces any older one at the same address.</summary>
    private IUdpSession? Activate(PendingUdpSession pending)
    {
        Room room = _hub.GetOrCreateRoom(pending.Hello.Room);
        IUdpSession session;
        if (pending.Hello.Role == PeerRole.Publisher)
        {
            var publisher = new UdpPublisherSession(this, pending, room, _options, _logger);
            if (!room.TryClaimPublisher(publisher))
            {
                _hub.LeaveRoom(room);
                byte[] bye = new byte[UdpWire.MaxDatagram];
                int length = UdpWire.WriteBye(bye, pending.Id, new CloseMessage(ErrorCode.RoomBusy, $"Room '{pending.Hello.Room}' already has a publisher."));
                SendTo(bye.AsSpan(0, length), pending.Address);
                return null;
            }

            session = publisher;
        }
        else
        {
            session = new UdpViewerSession(this, pending, room, _options, _logger);
        }

        if (_sessions.TryGetValue(pending.Address, out IUdpSession? old))
        {
            old.End(ErrorCode.Normal, "replaced by a new session from the same address");
        }

        _sessions[pending.Address] = session;
        _ = _running.Start(session, s => RunSessionAsync(s, room), finished: Forget);
        return session;
    }

    private async Task RunSessionAsync(IUdpSession session, Room room)
    {
        try
        {
            await session.RunAsync(_shutdown.Token);
        }
        catch (Exception ex)
        {
            UdpLog.Failed(_logger, Describe(session.Address), ex);
        }
        finally
        {
            _hub.LeaveRoom(room);
        }
    }

    private void Forget(IUdpSession session)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(session.Address, out IUdpSession? current) && ReferenceEquals(current, session))
            {
                _sessions.Remove(session.Address);
            }
        }
    }

    private async Task HousekeepingAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(HousekeepingInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                long now = Clock.NowMicros();
                lock (_lock)
                {
                    foreach (PendingUdpSession stale in _pending.Values.Where(p => now - p.CreatedMicros > PendingLifetimeMicros).ToList())
                    {
                        _pending.Remove(stale.Id);
                    }
                }

                foreach (IUdpSession session in _running.Items)
                {
                    session.Tick(now);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public static string Describe(SocketAddress address)
    {
        try
        {
            var any = new IPEndPoint(address.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            return any.Create(address).ToString() ?? "?";
        }
        catch (ArgumentException)
        {
            return "?";
        }
    }
}
