using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Transport;
using SocketCam.Udp;

namespace SocketCam.Hub;

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

    private readonly FailedAttemptThrottle _failedAttempts;
    private readonly ReassemblyFloodWatch _flood = new();
    private readonly HubServer _hub;
    private readonly SessionOptions _options;
    private readonly UdpOptions _udp;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<SocketAddress, IUdpSession> _sessions = [];
    private readonly Dictionary<ulong, PendingUdpSession> _pending = [];
    private readonly ConnectionSet<IUdpSession> _running = new();
    private readonly UdpKeyStore _keys = new();

    // Where the receive loop opens a sealed datagram (one loop, one buffer: nothing allocated per datagram).
    private readonly byte[] _opened = new byte[UdpWire.MaxDatagram];
    private Task _receiveLoop = Task.CompletedTask;
    private Task _housekeeping = Task.CompletedTask;
    private int _disposed;

    public UdpHubListener(HubServer hub, UdpOptions udp, ILogger logger)
    {
        _hub = hub;
        _options = hub.Options.Sessions;
        _udp = udp;
        _failedAttempts = new FailedAttemptThrottle(hub.Options.Limits.FreeFailedAttempts);
        _logger = logger;
        _socket = UdpSockets.Create(udp.EndPoint.AddressFamily);
        try
        {
            _socket.Blocking = false;

            _socket.Bind(udp.EndPoint);
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

    public void Start()
    {
        UdpLog.Listening(_logger, EndPoint.ToString());
        _receiveLoop = ReceiveLoopAsync(_shutdown.Token);
        _housekeeping = HousekeepingAsync(_shutdown.Token);
    }

    /// <summary>
    /// Sends one datagram now (fragments, PONG, NACK, REPORT, BYE). The socket is non-blocking, so this never waits: a
    /// datagram the kernel cannot take is lost, and recovery and keep-alives deal with it.
    /// </summary>
    public void SendTo(ReadOnlySpan<byte> datagram, SocketAddress address, DatagramSeal? seal)
    {
        if (seal is null)
        {
            SendTo(datagram, address);
            return;
        }

        Span<byte> sealedDatagram = stackalloc byte[UdpWire.MaxDatagram + DatagramSeal.Overhead];
        int length;
        try
        {
            length = seal.Seal(datagram, sealedDatagram);
        }
        catch (ObjectDisposedException)
        {
            // The session has ended and its keys are gone: nothing more goes out for it.
            return;
        }

        SendTo(sealedDatagram[..length], address);
    }

    /// <summary>
    /// Keys for an encrypted session, asked for over TLS (UDP_KEY_REQUEST, already authorized): remembered until a sealed
    /// HELLO uses them or 10 s pass; null when too many wait (in all, or from that address).
    /// </summary>
    public UdpSessionKeys? IssueKeys(AddressKey? address) => _keys.Issue(address, (ushort)EndPoint.Port, Clock.NowMicros());

    public void SendTo(ReadOnlySpan<byte> datagram, SocketAddress address)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, address);
        }
        catch (SocketException ex) when (UdpSockets.IsTransientSendError(ex))
        {
            // Lost, as far as the peer can tell: recovery and keep-alives deal with it.
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
        // No new session can start once the receive loop has stopped; then every session says BYE (server-shutdown) on
        // its way out, through the socket, which goes last.
        await _shutdown.CancelAsync();
        await _receiveLoop;
        await _housekeeping;
        await _running.WhenAllAsync();
        _socket.Dispose();
        _keys.Dispose();
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
            catch (SocketException ex)
            {
                // Anything else (out of memory for buffers, say) must not end every UDP session: say so, pause, go on.
                UdpLog.ReceiveFailed(_logger, ex);
                try
                {
                    await Task.Delay(100, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
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
            // A plain HELLO carries id 0; a sealed one names the id its keys were given for over TLS.
            if (sessionId == 0)
            {
                if (UdpWire.TryReadHello(datagram, out UdpHello hello))
                {
                    OnHello(hello, datagram.Length, from, seal: null);
                }
                else
                {
                    Drops.OnMalformed();
                }
            }
            else
            {
                OnSealedHello(datagram, sessionId, from);
            }

            return;
        }

        IUdpSession? session;
        PendingUdpSession? pending = null;
        lock (_lock)
        {
            _sessions.TryGetValue(from, out session);
            if (session is null || session.Id != sessionId)
            {
                // The first datagram back from a HELLO's address with the new id proves the address: the session starts
                // (once it opened, for an encrypted one, below).
                if (_pending.TryGetValue(sessionId, out pending) && pending.Address.Equals(from))
                {
                    session = null;
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

        // An encrypted session's datagrams are opened before anything reads them; one that does not open is dropped.
        ReadOnlySpan<byte> plain = datagram;
        if ((pending?.Seal ?? session?.Seal) is { } seal)
        {
            if (!TryOpen(seal, datagram, out plain))
            {
                return;
            }
        }

        if (pending is not null)
        {
            lock (_lock)
            {
                if (!_pending.Remove(sessionId))
                {
                    return;
                }

                session = Activate(pending);
            }
        }

        session?.OnDatagram(type, plain);
    }

    private bool TryOpen(DatagramSeal seal, ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> plain)
    {
        plain = default;
        try
        {
            if (!seal.TryOpen(datagram, _opened, out int length))
            {
                Drops.OnUnsealed();
                return false;
            }

            plain = _opened.AsSpan(0, length);
            return true;
        }
        catch (ObjectDisposedException)
        {
            // The keys expired or their session ended while this datagram was on its way.
            Drops.OnUnsealed();
            return false;
        }
    }

    /// <summary>
    /// A HELLO sealed with keys given over TLS: opened with the pending key of its id (nothing is answered if it does not
    /// open), then checked like any HELLO; its answer is sealed with the same keys.
    /// </summary>
    private void OnSealedHello(ReadOnlySpan<byte> datagram, ulong sessionId, SocketAddress from)
    {
        DatagramSeal? seal;
        PendingUdpSession? repeat = null;
        lock (_lock)
        {
            if (_pending.TryGetValue(sessionId, out PendingUdpSession? pending) && pending.Seal is not null)
            {
                repeat = pending.Address.Equals(from) ? pending : null;
                seal = repeat?.Seal;
            }
            else
            {
                seal = _keys.Find(sessionId, Clock.NowMicros());
            }
        }

        if (seal is null || !TryOpen(seal, datagram, out ReadOnlySpan<byte> opened))
        {
            if (seal is null)
            {
                Drops.OnUnsealed();
            }

            return;
        }

        // The inner HELLO is a plain one but for its id, which named the keys.
        Span<byte> plain = _opened.AsSpan(0, opened.Length);
        BinaryPrimitives.WriteUInt64BigEndian(plain[8..], 0);
        if (!UdpWire.TryReadHello(plain, out UdpHello hello))
        {
            Drops.OnMalformed();
            return;
        }

        if (repeat is not null)
        {
            // Its WELCOME was lost: the same sealed WELCOME again (the client's replay window takes it once).
            if (repeat.Hello.Nonce == hello.Nonce)
            {
                SendTo(repeat.Welcome, from);
            }

            return;
        }

        OnHello(hello, datagram.Length - DatagramSeal.Overhead, from, seal);
    }

    /// <summary>
    /// A valid HELLO (<paramref name="helloLength"/> bytes before any seal: the most a REFUSE may have): WELCOME and a
    /// pending session, or REFUSE. With <paramref name="seal"/> (an encrypted session, whose id its keys named) the
    /// answer is sealed and the keys go with the pending session.
    /// </summary>
    private void OnHello(in UdpHello hello, int helloLength, SocketAddress from, DatagramSeal? seal)
    {
        string? refusal;
        ErrorCode code;
        lock (_lock)
        {
            PendingUdpSession? previous = _pending.Values.FirstOrDefault(p => p.Address.Equals(from));
            if (previous is not null)
            {
                // A repeated HELLO (its WELCOME was lost) gets the same WELCOME again; a new nonce replaces the old attempt.
                if (previous.Hello.Nonce == hello.Nonce && seal is null && previous.Seal is null)
                {
                    SendTo(previous.Welcome, from);
                    return;
                }

                _pending.Remove(previous.Id);
                previous.Seal?.Dispose();
            }

            if (_pending.Count >= MaxPending)
            {
                Drops.OnPendingFull();
                return;
            }

            refusal = Refusal(hello, from, out code);
        }

        ulong id = seal?.SessionId ?? _hub.NextSessionId();
        if (seal is not null)
        {
            // Opened once: the keys belong to this attempt now, whatever the answer.
            _keys.Take(id);
        }

        if (refusal is not null)
        {
            UdpLog.Refused(_logger, Describe(from), code.ToWireName(), refusal);
            byte[] refuse = new byte[UdpWire.MaxDatagram];
            int length = UdpWire.WriteRefuse(refuse, seal is null ? 0 : id, new UdpRefuse(hello.Nonce, code, refusal), maxLength: helloLength);
            SendTo(refuse.AsSpan(0, length), from, seal);
            seal?.Dispose();
            return;
        }

        byte[] welcome = new byte[UdpWire.WelcomeSize + (seal is null ? 0 : DatagramSeal.Overhead)];
        int welcomeLength = UdpWire.WriteWelcome(welcome, id, new UdpWelcome(hello.Nonce, Clock.NowMicros(), (uint)Math.Min(_options.MaxFrameBytes, UdpWire.MaxFrameBytes), UdpWire.FragmentPayload));
        if (seal is not null)
        {
            // Sealed once and kept: a repeated HELLO gets these very bytes again.
            byte[] sealedWelcome = new byte[welcomeLength + DatagramSeal.Overhead];
            seal.Seal(welcome.AsSpan(0, welcomeLength), sealedWelcome);
            welcome = sealedWelcome;
        }

        var address = new SocketAddress(from.Family, from.Size);
        from.Buffer.CopyTo(address.Buffer);
        lock (_lock)
        {
            _pending[id] = new PendingUdpSession(id, address, hello, Clock.NowMicros(), welcome, seal);
        }

        SendTo(welcome, from);
    }

    /// <summary>Under the lock: why this HELLO is refused, or null.</summary>
    private string? Refusal(UdpHello hello, SocketAddress from, out ErrorCode code)
    {
        code = ErrorCode.Unauthorized;
        Auth.AccessGrants grants = Auth.AccessGrants.All;
        if (_options.Access.Required)
        {
            // A guesser is refused before its token is even looked at. UDP keeps a throttle of its own: a HELLO's source
            // address is not proven yet (it can be forged), so its failures must not block that address on TCP and HTTP.
            AddressKey? key = KeyOf(from);
            if (_failedAttempts.IsBlocked(key, out TimeSpan retryAfter))
            {
                _hub.Guards.Refusals.Count(Limits.Refusal.Throttled);
                code = ErrorCode.Throttled;
                return $"too many failed attempts; retry in {Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))} s";
            }

            Auth.AccessDecision access = _options.Access.Check(hello.Token, hello.Room, hello.Role == PeerRole.Publisher ? Auth.AccessGrants.Publish : Auth.AccessGrants.Subscribe);
            if (!access.Allowed)
            {
                _failedAttempts.RecordFailure(key);
                _hub.Guards.Refusals.Count(Limits.Refusal.Unauthorized);
                return "Unauthorized: " + access.Refusal + ".";
            }

            _failedAttempts.RecordSuccess(key);
            grants = access.Grants;
        }

        if (_hub.WhyNotOpen(hello.Room, grants) is { } closed)
        {
            _hub.Guards.Refusals.Count(Limits.Refusal.RoomLimit);
            code = ErrorCode.NotAllowed;
            return closed;
        }

        code = ErrorCode.TooManyClients;
        if (_sessions.Count >= _options.MaxConnections)
        {
            _hub.Guards.Refusals.Count(Limits.Refusal.ConnectionLimit);
            return $"The server has {_options.MaxConnections} UDP sessions, its limit.";
        }

        // The same per-address cap as every other listener (LimitOptions.MaxConnectionsPerAddress; 0 = none).
        int perAddress = _hub.Guards.Options.MaxConnectionsPerAddress;
        AddressKey? sender = KeyOf(from);
        if (perAddress > 0 && _sessions.Keys.Count(a => KeyOf(a) == sender) + _pending.Values.Count(p => KeyOf(p.Address) == sender) >= perAddress)
        {
            _hub.Guards.Refusals.Count(Limits.Refusal.AddressLimit);
            return $"{perAddress} UDP sessions from one address is the limit.";
        }

        code = ErrorCode.RoomBusy;
        if (hello.Role == PeerRole.Publisher && _hub.Rooms.FirstOrDefault(r => r.Name == hello.Room) is { HasPublisher: true } room
            && !IsOwnPreviousSession(room, from))
        {
            return $"Room '{hello.Room}' already has a publisher.";
        }

        return null;
    }

    /// <summary>The room's seat is held by a UDP publisher session from the same IP address: the same publisher, reconnecting from a new port.</summary>
    private bool IsOwnPreviousSession(Room room, SocketAddress from) =>
        _sessions.Values.OfType<UdpPublisherSession>().Any(s => s.HoldsSeatOf(room) && SameHost(s.Address, from));

    /// <summary>Same IP address (any port): the address bytes of the two socket addresses, ports aside.</summary>
    private static bool SameHost(SocketAddress a, SocketAddress b)
    {
        if (a.Family != b.Family || a.Size != b.Size)
        {
            return false;
        }

        // sockaddr_in: family (2), port (2), address (4); sockaddr_in6: family (2), port (2), flow info (4), address (16), scope.
        ReadOnlySpan<byte> x = a.Buffer.Span[..a.Size];
        ReadOnlySpan<byte> y = b.Buffer.Span[..b.Size];
        return x[..2].SequenceEqual(y[..2]) && x[4..].SequenceEqual(y[4..]);
    }

    /// <summary>Under the lock: the new session replaces any older one at the same address.</summary>
    private IUdpSession? Activate(PendingUdpSession pending)
    {
        if (_shutdown.IsCancellationRequested)
        {
            return null;
        }

        Room room = _hub.GetOrCreateRoom(pending.Hello.Room);
        IUdpSession session;
        if (pending.Hello.Role == PeerRole.Publisher)
        {
            var publisher = new UdpPublisherSession(this, pending, room, _udp, _options.MaxFrameBytes, _hub.Guards, _logger);
            // The same publisher reconnecting from a new port takes the seat over from its previous session.
            foreach (UdpPublisherSession previous in _sessions.Values.OfType<UdpPublisherSession>().Where(s => s.HoldsSeatOf(room) && SameHost(s.Address, pending.Address)).ToList())
            {
                previous.HandOverSeat();
            }

            if (!room.TryClaimPublisher(publisher, "v1 publisher", ParticipantTransport.Udp, keyframeRequested: publisher.RequestKeyframe))
            {
                _hub.LeaveRoom(room);
                byte[] bye = new byte[UdpWire.MaxDatagram];
                int length = UdpWire.WriteBye(bye, pending.Id, new CloseMessage(ErrorCode.RoomBusy, $"Room '{pending.Hello.Room}' already has a publisher."));
                SendTo(bye.AsSpan(0, length), pending.Address, pending.Seal);
                return null;
            }

            session = publisher;
        }
        else
        {
            session = new UdpViewerSession(this, pending, room, _udp, _logger);
        }

        if (_sessions.TryGetValue(pending.Address, out IUdpSession? old))
        {
            old.End(ErrorCode.Normal, "replaced by a new session from the same address");
        }

        _sessions[pending.Address] = session;
        _hub.Clients.Add(session);
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
        _hub.Clients.Remove(session);
        session.Seal?.Dispose();
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
                        stale.Seal?.Dispose();
                    }
                }

                _keys.Expire(now);

                foreach (IUdpSession session in _running.Items)
                {
                    session.Tick(now);
                }

                if (_flood.Tick(now, _hub.Guards.Reassembly.InUse))
                {
                    _hub.Guards.Memory.RequestCollection("A UDP reassembly flood");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Who "one address" is for the hub's per-address limits; null if the address cannot be read.</summary>
    public static AddressKey? KeyOf(SocketAddress address)
    {
        try
        {
            var any = new IPEndPoint(address.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            return AddressKey.Of(any.Create(address));
        }
        catch (ArgumentException)
        {
            return null;
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
