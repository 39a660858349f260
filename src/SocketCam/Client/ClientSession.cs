using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using SocketCam.Diagnostics;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>
/// A client's connection to the hub after a successful handshake. All writes go through <see cref="SendAsync"/>,
/// which holds a lock so only one writer touches the socket; PONGs update the round trip and clock offset.
/// </summary>
internal sealed class ClientSession : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly ConnectionStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _controlBuffer = new byte[MessageWriter.MaxControlMessageSize];
    private readonly ClockSync _clock;
    private uint _nextPingId;
    private volatile bool _torn;

    private ClientSession(Socket socket, ConnectionStream stream, PipeReader reader, WelcomeMessage welcome)
    {
        _socket = socket;
        _stream = stream;
        Reader = reader;
        Welcome = welcome;
        _clock = new ClockSync(welcome.ServerTimeMicros - Clock.NowMicros());
    }

    public PipeReader Reader { get; }

    public WelcomeMessage Welcome { get; }

    /// <summary>Hub clock minus local clock, µs, from the PONG with the smallest round trip so far.</summary>
    public long ClockOffsetMicros => _clock.OffsetMicros;

    public double LastRttMilliseconds => _clock.LastRttMicros / 1000.0;

    /// <summary>Connects, sends preface + HELLO, and waits for the hub's preface + WELCOME (or its ERROR).</summary>
    public static async Task<ClientSession> ConnectAsync(StreamEndpoint endpoint, PeerRole role, ClientOptions options, CancellationToken cancellationToken)
    {
        byte[] hello = new byte[ProtocolConstants.PrefaceSize + MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WritePreface(hello);
        length += MessageWriter.WriteHello(hello.AsSpan(length), new HelloMessage(role, options.Room, options.Token ?? "", options.Agent));
        HubLink<WelcomeMessage> link = await HubHandshake.ConnectAsync(
            endpoint, options, boundBuffers: role == PeerRole.Viewer, hello.AsMemory(0, length),
            (reader, token) => ReadWelcomeAsync(reader, options.MaxFrameBytes, token), cancellationToken);
        return new ClientSession(link.Socket, link.Stream, link.Reader, link.Welcome);
    }

    private static async Task<WelcomeMessage> ReadWelcomeAsync(PipeReader reader, int maxFrameBytes, CancellationToken cancellationToken)
    {
        bool prefaceDone = false;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done = false;
            try
            {
                if (!prefaceDone)
                {
                    prefaceDone = MessageParser.TryReadPreface(ref buffer);
                }

                if (prefaceDone && MessageParser.TryReadMessage(ref buffer, maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload))
                {
                    done = true;
                    return type switch
                    {
                        MessageType.Welcome => MessageParser.ParseWelcome(payload),
                        MessageType.Error or MessageType.Goodbye => throw ToRemoteError(MessageParser.ParseClose(payload)),
                        _ => throw new ProtocolException(ErrorCode.Malformed, $"Expected WELCOME, got {type}."),
                    };
                }

                if (result.IsCompleted)
                {
                    throw !prefaceDone && buffer.IsEmpty ? new HubHandshake.SilentCloseException() : new IOException("The server closed the connection during the handshake.");
                }
            }
            finally
            {
                // What came with the WELCOME (a SIGNAL, a PING, a frame) is not "examined": the receive loop's first read
                // must hand it over at once instead of waiting for more bytes.
                if (done)
                {
                    reader.AdvanceTo(buffer.Start);
                }
                else
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
    }

    public static RemoteErrorException ToRemoteError(CloseMessage close) => new(close.Code, close.Text);

    /// <summary>
    /// Reads with a deadline: <paramref name="idle"/> (linked to <paramref name="cancellationToken"/>, one per session)
    /// is re-armed before each read, and a read that gets nothing for <paramref name="timeout"/> throws
    /// <see cref="TimeoutException"/>, which the reconnector retries.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<ReadResult> ReadOrIdleTimeoutAsync(PipeReader reader, CancellationTokenSource idle, TimeSpan timeout, CancellationToken cancellationToken)
    {
        idle.CancelAfter(timeout);
        try
        {
            return await reader.ReadAsync(idle.Token);
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"No data from the server for {timeout.TotalSeconds:0.#} s."));
        }
    }

    /// <summary>
    /// Reads what the hub sends until it says goodbye (returns) or fails (throws): answers PINGs, applies PONGs
    /// (then calls <paramref name="onPong"/>), turns ERROR into <see cref="RemoteErrorException"/>, hands each
    /// VIDEO_FRAME payload to <paramref name="onFrame"/> (valid until the task it returns completes; while it is pending
    /// nothing more is read, so TCP pushes back on the hub) and each SIGNAL to <paramref name="onSignal"/>. Without
    /// them (a publisher) frames and SIGNALs are not expected: the frame cap is 0 and a SIGNAL is malformed.
    /// Nothing at all for <paramref name="idleTimeout"/> throws <see cref="TimeoutException"/> (time spent waiting for
    /// <paramref name="onFrame"/> does not count: that wait is ours, not the hub's).
    /// </summary>
    public async Task ReceiveAsync(
        int maxFrameBytes,
        TimeSpan idleTimeout,
        Func<ReadOnlySequence<byte>, ValueTask>? onFrame,
        Action<SignalMessage>? onSignal,
        Action? onPong,
        CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        int frameCap = onFrame is null ? 0 : maxFrameBytes;
        while (true)
        {
            ReadResult result = await ReadOrIdleTimeoutAsync(Reader, idle, idleTimeout, cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                while (MessageParser.TryReadMessage(ref buffer, frameCap, out MessageType type, out ReadOnlySequence<byte> payload))
                {
                    switch (type)
                    {
                        case MessageType.VideoFrame when onFrame is not null:
                            ValueTask handled = onFrame(payload);
                            if (!handled.IsCompletedSuccessfully)
                            {
                                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                            }

                            await handled;
                            break;
                        case MessageType.Signal when onSignal is not null:
                            onSignal(MessageParser.ParseSignal(payload));
                            break;
                        case MessageType.Ping:
                            await SendPongAsync(MessageParser.ParsePing(payload), cancellationToken);
                            break;
                        case MessageType.Pong:
                            OnPong(MessageParser.ParsePong(payload));
                            onPong?.Invoke();
                            break;
                        case MessageType.Goodbye:
                            CloseMessage bye = MessageParser.ParseClose(payload);
                            if (bye.Code == ErrorCode.Normal)
                            {
                                return;
                            }

                            throw ToRemoteError(bye);
                        case MessageType.Error:
                            throw ToRemoteError(MessageParser.ParseClose(payload));
                        default:
                            throw new ProtocolException(ErrorCode.Malformed, $"Unexpected {type} from the server.");
                    }
                }

                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty)
                    {
                        throw new IOException($"The server vanished in the middle of a message ({buffer.Length} bytes unread).");
                    }

                    throw new IOException("The server closed the connection.");
                }
            }
            finally
            {
                Reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await SendWholeAsync(message, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>One frame: its wire header, then its payload, with nothing of another writer between them.</summary>
    public async ValueTask SendFrameAsync(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await SendWholeAsync(header, cancellationToken);
            await SendWholeAsync(payload, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async ValueTask SendControlAsync(Func<byte[], int> write, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            int length = write(_controlBuffer);
            await SendWholeAsync(_controlBuffer.AsMemory(0, length), cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends one message; if that fails or is cancelled part-way, the stream is torn and no GOODBYE may follow.</summary>
    private async ValueTask SendWholeAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.SendAsync(message, cancellationToken);
        }
        catch
        {
            _torn = true;
            throw;
        }
    }

    public ValueTask SendPongAsync(PingMessage ping, CancellationToken cancellationToken) =>
        SendControlAsync(b => MessageWriter.WritePong(b, new PongMessage(ping.Id, ping.SentMicros, Clock.NowMicros())), cancellationToken);

    public ValueTask SendSignalAsync(SignalMessage signal, CancellationToken cancellationToken) =>
        SendControlAsync(b => MessageWriter.WriteSignal(b, signal), cancellationToken);

    public ValueTask SendGoodbyeAsync(CancellationToken cancellationToken) =>
        SendControlAsync(static b => MessageWriter.WriteClose(b, MessageType.Goodbye, ErrorCode.Normal, "bye"), cancellationToken);

    /// <summary>Pings until cancelled.</summary>
    public async Task PingLoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                uint id = ++_nextPingId;
                await SendControlAsync(b => MessageWriter.WritePing(b, new PingMessage(id, Clock.NowMicros())), cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public void OnPong(in PongMessage pong) => _clock.OnPong(pong);

    /// <summary>Tries to say goodbye (best effort), then closes.</summary>
    public async Task CloseAsync()
    {
        try
        {
            if (!_torn)
            {
                // After a send that stopped part-way (Ctrl+C in the middle of a frame) a GOODBYE would land inside
                // that frame's bytes; the hub then sees a plain close instead. The grace is normally unused (the GOODBYE goes
                // at once); 2 s lets it through on a busy machine, where 500 ms was once not enough (a window test under load).
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await SendGoodbyeAsync(grace.Token);
            }

            _socket.Shutdown(SocketShutdown.Send);
            // Frames the hub sent meanwhile may still be unread here: closing over them would send a reset, and a reset can
            // destroy our GOODBYE in the hub's receive queue before the hub reads it. Read on until the hub closes (it does
            // at once after a GOODBYE), briefly.
            await _socket.LingerAsync(TimeSpan.FromSeconds(1), 4 << 20);
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await HubHandshake.DisposeAllAsync(_socket, _stream, Reader);
        _writeLock.Dispose();
    }
}
