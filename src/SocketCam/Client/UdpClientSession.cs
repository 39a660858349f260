using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using SocketCam.Diagnostics;
using SocketCam.Protocol;
using SocketCam.Transport;
using SocketCam.Udp;

namespace SocketCam.Client;

/// <summary>
/// The client end of a UDP session (`view udp://`, `publish udp://`): a connected UDP socket (so the kernel delivers only
/// the server's datagrams and "port unreachable" surfaces as an error), the HELLO/WELCOME handshake repeated every 250 ms,
/// PINGs every 500 ms (round trip, clock offset, and the keep-alive the hub's idle timeout watches), and a receive loop
/// that checks every datagram's session id and ends with the server's BYE or 3 s of silence.
/// </summary>
internal sealed class UdpClientSession : IDisposable
{
    private static readonly TimeSpan HelloRepeat = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan PingInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan ServerSilence = TimeSpan.FromSeconds(3);

    private readonly Socket _socket;
    private readonly DatagramSeal? _seal;
    private readonly ClockSync _clock;
    private uint _nextPingId;
    private long _droppedDatagrams;

    private UdpClientSession(Socket socket, ulong sessionId, UdpWelcome welcome, string server, DatagramSeal? seal)
    {
        _socket = socket;
        _seal = seal;
        SessionId = sessionId;
        Welcome = welcome;
        Server = server;
        _clock = new ClockSync(welcome.ServerTimeMicros - Clock.NowMicros());
    }

    public const string Scheme = "udp";

    public ulong SessionId { get; }

    /// <summary>`udp://` or `udp+tls://` (encrypted: keys over TLS first, <see cref="UdpKeyExchange"/>).</summary>
    public static bool IsUdp(StreamEndpoint endpoint) => string.Equals(endpoint.Scheme, Scheme, StringComparison.Ordinal) || UdpKeyExchange.IsSealed(endpoint);

    /// <summary>Every datagram of this session is sealed (`udp+tls://`).</summary>
    public bool IsEncrypted => _seal is not null;

    /// <summary>The hub's datagrams that did not open (forged, replayed, too old): dropped, counted.</summary>
    public long RefusedSealed => _seal is null ? 0 : _seal.Forged + _seal.Replayed;

    public UdpWelcome Welcome { get; }

    public string Server { get; }

    /// <summary>The session ended with the server's BYE (nothing to answer).</summary>
    public bool ServerSaidBye { get; private set; }

    /// <summary>Datagrams that were not the server's for this session (wrong id, malformed): dropped.</summary>
    public long DroppedDatagrams => Interlocked.Read(ref _droppedDatagrams);

    /// <summary>Hub clock minus local clock, µs, from the PONG with the shortest round trip so far.</summary>
    public long ClockOffsetMicros => _clock.OffsetMicros;

    public long LastRttMicros => _clock.LastRttMicros;

    /// <summary>Handshakes with the hub; throws <see cref="RemoteErrorException"/> for a REFUSE and <see cref="TimeoutException"/> when nobody answers.</summary>
    /// <param name="audio">A viewer that wants the watched participant's sound (HELLO's audio flag).</param>
    /// <param name="h264">A viewer that takes H.264 as it is (HELLO's H.264 flag); without it the hub sends JPEG.</param>
    public static async Task<UdpClientSession> ConnectAsync(StreamEndpoint endpoint, PeerRole role, ClientOptions options, bool recovery, CancellationToken cancellationToken, bool audio = false, bool h264 = false)
    {
        // Encrypted: the keys first, over TLS to the stream port; the hub's answer names its UDP port.
        UdpSessionKeys? keys = UdpKeyExchange.IsSealed(endpoint) ? await UdpKeyExchange.RequestAsync(endpoint, role, options, cancellationToken) : null;
        DatagramSeal? seal = keys is null ? null : DatagramSeal.ForClient(keys);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        IPEndPoint server = await (keys is null ? endpoint : endpoint with { Port = keys.UdpPort }).ResolveAsync(timeout.Token);
        Socket socket = UdpSockets.Create(server.AddressFamily);
        try
        {
            socket.Blocking = false;
            await socket.ConnectAsync(server, timeout.Token);
            ulong nonce = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
            byte[] hello = new byte[UdpWire.MaxDatagram];
            int helloLength = UdpWire.WriteHello(hello, 0, new UdpHello(nonce, (byte)((recovery ? 0 : UdpWire.HelloFlagNoRecovery) | (audio ? UdpWire.HelloFlagAudio : 0) | (h264 ? UdpWire.HelloFlagH264 : 0)), role, options.Room, options.Token, options.Agent));
            byte[] buffer = new byte[UdpWire.MaxDatagram + 1];
            byte[] opened = new byte[UdpWire.MaxDatagram];
            if (seal is not null)
            {
                // A sealed HELLO names the session id its keys were given for (a plain one says 0).
                BinaryPrimitives.WriteUInt64BigEndian(hello.AsSpan(8), seal.SessionId);
            }

            while (true)
            {
                if (seal is null)
                {
                    await socket.SendAsync(hello.AsMemory(0, helloLength), SocketFlags.None, timeout.Token);
                }
                else
                {
                    // Sealed afresh each time: a repeat has a new counter, so the hub's replay window takes it.
                    byte[] sealedHello = new byte[helloLength + DatagramSeal.Overhead];
                    seal.Seal(hello.AsSpan(0, helloLength), sealedHello);
                    await socket.SendAsync(sealedHello, SocketFlags.None, timeout.Token);
                }

                using var wait = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                wait.CancelAfter(HelloRepeat);
                try
                {
                    while (true)
                    {
                        int received = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, wait.Token);
                        ReadOnlySpan<byte> datagram = buffer.AsSpan(0, received);
                        if (seal is not null)
                        {
                            if (received > UdpWire.MaxDatagram || !seal.TryOpen(datagram, opened, out int length))
                            {
                                continue;
                            }

                            datagram = opened.AsSpan(0, length);
                        }

                        if (UdpWire.TryReadWelcome(datagram, out UdpWelcome welcome) && welcome.Nonce == nonce && UdpWire.TryReadPrefix(datagram, out _, out ulong sessionId)
                            && (seal is null || sessionId == seal.SessionId))
                        {
                            var session = new UdpClientSession(socket, sessionId, welcome, server.ToString(), seal);
                            session.SendPing(); // proves our address: the hub activates the session with it
                            return session;
                        }

                        if (UdpWire.TryReadRefuse(datagram, out UdpRefuse refuse) && refuse.Nonce == nonce)
                        {
                            throw new RemoteErrorException(refuse.Code, refuse.Text);
                        }
                    }
                }
                catch (OperationCanceledException) when (wait.IsCancellationRequested && !timeout.IsCancellationRequested)
                {
                    // No answer yet: say HELLO again (same nonce).
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            seal?.Dispose();
            throw new TimeoutException($"udp://{endpoint.Host}:{server.Port} did not answer within {options.ConnectTimeout.TotalSeconds:0.#} s (is `socketcam serve --udp` running there, and is UDP port {endpoint.Port} reachable?).");
        }
        catch
        {
            socket.Dispose();
            seal?.Dispose();
            throw;
        }
    }

    /// <summary>Sends one datagram now; a transient error loses only that datagram (recovery and keep-alives cope).</summary>
    public void SendControl(ReadOnlySpan<byte> datagram)
    {
        try
        {
            if (_seal is null)
            {
                _socket.Send(datagram, SocketFlags.None);
                return;
            }

            Span<byte> sealedDatagram = stackalloc byte[UdpWire.MaxDatagram + DatagramSeal.Overhead];
            _socket.Send(sealedDatagram[.._seal.Seal(datagram, sealedDatagram)], SocketFlags.None);
        }
        catch (SocketException ex) when (UdpSockets.IsTransientSendError(ex))
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void SendPing()
    {
        Span<byte> ping = stackalloc byte[UdpWire.PingSize];
        uint rtt = (uint)Math.Clamp(LastRttMicros, 0, uint.MaxValue);
        PingRoundTrip.Write(ping, SessionId, new PingMessage(++_nextPingId, Clock.NowMicros()), rtt);
        SendControl(ping);
    }

    public void SendSignal(in SignalMessage signal)
    {
        byte[] datagram = new byte[UdpWire.MaxDatagram];
        SendControl(datagram.AsSpan(0, UdpWire.WriteSignal(datagram, SessionId, signal)));
    }

    public void SendKeyframeRequest(byte reason)
    {
        Span<byte> datagram = stackalloc byte[UdpWire.KeyframeRequestSize];
        SendControl(datagram[..UdpWire.WriteKeyframeRequest(datagram, SessionId, reason)]);
    }

    public void SendBye(ErrorCode code, string text)
    {
        byte[] bye = new byte[UdpWire.MaxDatagram];
        SendControl(bye.AsSpan(0, UdpWire.WriteBye(bye, SessionId, new CloseMessage(code, text))));
    }

    /// <summary>Pings until cancelled.</summary>
    public async Task PingLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(PingInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                SendPing();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Receives until cancelled: PONGs are handled here, BYE ends it with <see cref="RemoteErrorException"/> (or quietly for
    /// a normal close), 3 s of silence with an <see cref="IOException"/>; every other datagram of this session goes to
    /// <paramref name="onDatagram"/>, whose data is valid only during the call.
    /// </summary>
    public async Task ReceiveAsync(Func<DatagramType, ReadOnlyMemory<byte>, ValueTask> onDatagram, CancellationToken cancellationToken)
    {
        byte[] buffer = GC.AllocateArray<byte>(UdpWire.MaxDatagram + 1, pinned: true);
        byte[]? opened = _seal is null ? null : new byte[UdpWire.MaxDatagram];
        var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long lastArrival = Environment.TickCount64;
        try
        {
            while (true)
            {
                // The synchronous receive below never looks at the token: a viewer that has had its frames stops here.
                cancellationToken.ThrowIfCancellationRequested();
                int received = await ReceiveOneAsync(buffer, silence, cancellationToken, lastArrival);
                if (received < 0)
                {
                    // The silence timer fired while the handler was busy, not because the server went quiet: re-arm.
                    silence.Dispose();
                    silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    continue;
                }

                lastArrival = Environment.TickCount64;
                ReadOnlyMemory<byte> datagram = buffer.AsMemory(0, received);
                if (received > UdpWire.MaxDatagram || !UdpWire.TryReadPrefix(datagram.Span, out DatagramType type, out ulong sessionId) || sessionId != SessionId)
                {
                    Interlocked.Increment(ref _droppedDatagrams);
                    continue;
                }

                if (_seal is not null)
                {
                    // Nothing of an encrypted session is read before it opened: forged, replayed or old ones are dropped.
                    if (!_seal.TryOpen(datagram.Span, opened!, out int length))
                    {
                        Interlocked.Increment(ref _droppedDatagrams);
                        continue;
                    }

                    datagram = opened.AsMemory(0, length);
                }

                switch (type)
                {
                    case DatagramType.Pong when UdpWire.TryReadPong(datagram.Span, out PongMessage pong):
                        _clock.OnPong(pong);
                        break;
                    case DatagramType.Bye when UdpWire.TryReadBye(datagram.Span, out CloseMessage bye):
                        ServerSaidBye = true;
                        throw new RemoteErrorException(bye.Code, bye.Text);
                    default:
                        await onDatagram(type, datagram);
                        break;
                }
            }
        }
        finally
        {
            silence.Dispose();
        }
    }

    /// <summary>One datagram's length; -1 when the silence timer fired although something arrived less than 3 s ago.</summary>
    private async ValueTask<int> ReceiveOneAsync(byte[] buffer, CancellationTokenSource silence, CancellationToken cancellationToken, long lastArrival)
    {
        try
        {
            // A datagram already queued (the usual case inside a frame's train) is taken with one syscall; only an empty
            // queue costs an asynchronous receive.
            int received = _socket.Receive(buffer, SocketFlags.None, out SocketError error);
            if (error == SocketError.WouldBlock)
            {
                silence.CancelAfter(ServerSilence);
                received = await _socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, silence.Token);
            }
            else if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            return received;
        }
        catch (OperationCanceledException) when (silence.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            if (Environment.TickCount64 - lastArrival < (long)ServerSilence.TotalMilliseconds)
            {
                return -1;
            }

            throw new IOException($"no datagrams from the server for {ServerSilence.TotalSeconds:0.#} s (it stopped, or the path is down)");
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
        {
            throw new IOException("the server's UDP port is closed (it stopped)", ex);
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _seal?.Dispose();
    }
}
