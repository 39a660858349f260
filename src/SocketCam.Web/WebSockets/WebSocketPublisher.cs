using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;

namespace SocketCam.Web.WebSockets;

/// <summary>
/// One publish WebSocket (`/rooms/{room}/publish/ws`), holding the room's publisher seat: every binary message is one
/// JPEG, checked (size cap before it is buffered, structure and dimensions after) and published into the room stamped
/// with its arrival time. A control loop, the socket's only writer, answers pings, sends stats every second and closes
/// an idle publisher.
/// </summary>
internal sealed class WebSocketPublisher : IClientStats
{
    private const int InitialBufferBytes = 64 * 1024;
    private static readonly TimeSpan StatsInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly Room _room;
    private readonly int _maxFrameBytes;
    private readonly TimeSpan _idleTimeout;
    private readonly ILogger _logger;
    private readonly AsyncSignal _wake = new();
    private readonly ReceiveCounters _received = new();
    private readonly Lock _control = new();
    private byte[]? _pendingPong;
    private long _lastReceivedMicros = Clock.NowMicros();
    private readonly TimeSpan _sendTimeout;
    private readonly ServerGuards _guards;
    private readonly MinimumDataRate _dataRate;
    private readonly AddressKey? _address;
    private readonly PublishRateLimit _rate;
    private volatile bool _closing;

    public WebSocketPublisher(
        WebSocket socket, Room room, string remote, AddressKey? address, int maxFrameBytes, TimeSpan idleTimeout, TimeSpan sendTimeout, ServerGuards guards, ILogger logger)
    {
        _sendTimeout = sendTimeout;
        _guards = guards;
        _dataRate = new MinimumDataRate(guards.Options);
        _address = address;
        _rate = new PublishRateLimit(guards.Options);
        _socket = socket;
        _room = room;
        _maxFrameBytes = maxFrameBytes;
        _idleTimeout = idleTimeout;
        _logger = logger;
        Remote = remote;
    }

    public ClientKind Kind => ClientKind.WebSocketPublisher;

    public string Remote { get; }

    public string? RoomName => _room.Name;

    /// <summary>Frames it sent us that we published, and their bytes.</summary>
    public ReceiveCounters Received => _received;

    /// <summary>Frames dropped for going over --max-publish-fps / --max-publish-bitrate.</summary>
    public long FramesDropped => _rate.Dropped;

    /// <summary>Publishes until the browser leaves, sends a bad frame, idles, or the server stops; the caller holds the seat.</summary>
    public async Task<WebSocketEnding> RunAsync(CancellationToken serverToken)
    {
        WebLog.SocketJoined(_logger, Remote, "publishing into", _room.Name);
        using var stopControl = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        Task<WebSocketEnding> receiving = ReceiveLoopAsync(serverToken);
        Task<WebSocketEnding> control = ControlLoopAsync(stopControl.Token, serverToken);
        WebSocketEnding ending;
        if (await Task.WhenAny(receiving, control) == receiving)
        {
            await stopControl.CancelAsync();
            ending = await receiving;
            await control;
        }
        else
        {
            ending = await control;
        }

        _closing = true;
        await WebSocketCloseCodes.FinishAsync(_socket, ending, receiving, CloseWait);
        WebLog.SocketLeft(_logger, Remote, _room.Name, ending.Reason, _received.FramesReceived, FramesDropped);
        return ending;
    }

    private async Task<WebSocketEnding> ControlLoopAsync(CancellationToken stop, CancellationToken serverToken)
    {
        try
        {
            await SendTextAsync(ClientMessages.Write(json =>
            {
                json.WriteString("type", "hello");
                json.WriteString("room", _room.Name);
                json.WriteNumber("maxFrameBytes", _maxFrameBytes);
            }), serverToken);
            using var tick = new PeriodicTimer(StatsInterval);
            Task<bool> nextTick = tick.WaitForNextTickAsync(stop).AsTask();
            Task woken = _wake.WaitAsync(stop).AsTask();
            while (true)
            {
                await Task.WhenAny(woken, nextTick);
                if (stop.IsCancellationRequested)
                {
                    return serverToken.IsCancellationRequested ? WebSocketEnding.ServerShutdown : WebSocketEnding.Stopped;
                }

                if (woken.IsCompleted)
                {
                    byte[]? pong;
                    lock (_control)
                    {
                        (pong, _pendingPong) = (_pendingPong, null);
                    }

                    if (pong is not null)
                    {
                        await SendTextAsync(pong, serverToken);
                    }

                    woken = _wake.WaitAsync(stop).AsTask();
                }

                if (nextTick.IsCompleted)
                {
                    long idleMicros = Clock.NowMicros() - Interlocked.Read(ref _lastReceivedMicros);
                    if (idleMicros > _idleTimeout.TotalMicroseconds)
                    {
                        return new WebSocketEnding($"sent nothing for {_idleTimeout.TotalSeconds:0.#} s", WebSocketCloseStatus.PolicyViolation);
                    }

                    await SendTextAsync(ClientMessages.Write(json =>
                    {
                        json.WriteString("type", "stats");
                        json.WriteNumber("framesReceived", _received.FramesReceived);
                        json.WriteNumber("viewers", _room.ViewerCount);
                    }), serverToken);
                    nextTick = tick.WaitForNextTickAsync(stop).AsTask();
                }
            }
        }
        catch (OperationCanceledException) when (serverToken.IsCancellationRequested)
        {
            return WebSocketEnding.ServerShutdown;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return new WebSocketEnding($"took more than {_sendTimeout.TotalSeconds:0.#} s to accept a message", null);
        }
        catch (OperationCanceledException)
        {
            return WebSocketEnding.Stopped;
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            return WebSocketEnding.Disconnected;
        }
    }

    /// <summary>
    /// A send with the stall timer armed: a browser that stops reading (while flooding pings, say) cannot hold the loop,
    /// and with it the idle check and the room's publisher seat. A cancelled send aborts the socket.
    /// </summary>
    private async ValueTask SendTextAsync(byte[] text, CancellationToken serverToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        stall.CancelAfter(_sendTimeout);
        await _socket.SendAsync(text.AsMemory(), WebSocketMessageType.Text, WebSocketMessageFlags.EndOfMessage, stall.Token);
    }

    /// <summary>Reads frames until the browser closes, breaks the rules or vanishes; never throws.</summary>
    private async Task<WebSocketEnding> ReceiveLoopAsync(CancellationToken serverToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(InitialBufferBytes);
        long sequence = 0;
        // The receive buffer is what this publisher's frame in progress holds: it counts against the hub's bytes-in-flight
        // budget (shared with TCP publishers, capped per address), so many publishers cannot take the memory together.
        long reserved = 0;
        try
        {
            if (!_guards.FramesInFlight.TryReserve(_address, buffer.Length))
            {
                return BudgetSpent();
            }

            reserved = buffer.Length;
            while (true)
            {
                int filled = 0;
                ValueWebSocketReceiveResult result;
                // The minimum data rate of a message in progress, from its first bytes (the wait between messages is not
                // the sender's): trickled bytes must not hold the budget reserved above for ever.
                _dataRate.End();
                do
                {
                    // Room up to the cap only (pooled arrays come in powers of two, so the cap may end inside one): a message
                    // that reaches the cap without ending is refused before anything past it is buffered.
                    if (filled >= Math.Min(buffer.Length, _maxFrameBytes))
                    {
                        if (filled >= _maxFrameBytes)
                        {
                            return new WebSocketEnding($"frame of more than {_maxFrameBytes} bytes (serve --max-frame-bytes)", WebSocketCloseStatus.MessageTooBig);
                        }

                        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _maxFrameBytes));
                        if (!_guards.FramesInFlight.TryReserve(_address, larger.Length - buffer.Length))
                        {
                            ArrayPool<byte>.Shared.Return(larger);
                            return BudgetSpent();
                        }

                        reserved += larger.Length - buffer.Length;
                        buffer.AsSpan(0, filled).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }

                    int room = Math.Min(buffer.Length, _maxFrameBytes) - filled;
                    result = await _socket.ReceiveAsync(buffer.AsMemory(filled, room), CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return new WebSocketEnding("closed", WebSocketCloseStatus.NormalClosure);
                    }

                    long now = Stopwatch.GetTimestamp();
                    if (!_dataRate.InProgress)
                    {
                        _dataRate.Restart(now, filled);
                        Interlocked.Exchange(ref _lastReceivedMicros, Clock.NowMicros());
                    }
                    else if (_dataRate.WindowEnded(now, filled + result.Count, out string? tooSlow))
                    {
                        // A window has passed with the message still in progress: fast enough is "not idle", else it ends.
                        if (tooSlow is not null)
                        {
                            _guards.Refusals.Count(Refusal.DataRateTooLow);
                            return new WebSocketEnding(tooSlow, WebSocketCloseStatus.PolicyViolation);
                        }

                        Interlocked.Exchange(ref _lastReceivedMicros, Clock.NowMicros());
                    }

                    filled += result.Count;
                    if (result.MessageType == WebSocketMessageType.Text && filled > ClientMessages.MaxTextBytes)
                    {
                        return new WebSocketEnding($"sent a text message of more than {ClientMessages.MaxTextBytes} bytes", WebSocketCloseStatus.MessageTooBig);
                    }
                }
                while (!result.EndOfMessage);

                Interlocked.Exchange(ref _lastReceivedMicros, Clock.NowMicros());
                if (result.MessageType == WebSocketMessageType.Text)
                {
                    OnText(buffer.AsSpan(0, filled));
                    continue;
                }

                if (!JpegStructure.TryValidate(buffer.AsSpan(0, filled), out int width, out int height, out string? error))
                {
                    return new WebSocketEnding($"not a JPEG: {error}", WebSocketCloseStatus.InvalidMessageType);
                }

                if (_closing)
                {
                    continue; // the close is on its way: nothing more is published
                }

                if (!_rate.TryAdmit(filled))
                {
                    // Over --max-publish-fps / --max-publish-bitrate: dropped and counted, not queued (live video).
                    _guards.Refusals.Count(Refusal.PublishRateLimit);
                    if (_rate.Dropped == 1)
                    {
                        WebLog.PublishRateLimited(_logger, Remote, _room.Name);
                    }

                    continue;
                }

                MediaFrame frame = ToFrame(buffer.AsSpan(0, filled), FrameInfo.Video(CodecId.Jpeg, width, height, sequence++, Clock.NowMicros()));
                try
                {
                    // Awaiting the room's recorders is the back-pressure, as for native publishers: this loop stops reading meanwhile.
                    await _room.PublishAsync(frame, serverToken);
                }
                finally
                {
                    frame.Release();
                }

                Interlocked.Exchange(ref _lastReceivedMicros, Clock.NowMicros());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            return serverToken.IsCancellationRequested ? WebSocketEnding.ServerShutdown : WebSocketEnding.Disconnected;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _guards.FramesInFlight.Release(_address, reserved);
        }
    }

    private WebSocketEnding BudgetSpent()
    {
        _guards.Refusals.Count(Refusal.FrameBudget);
        return new WebSocketEnding("the server's memory for frames being received is spent: try again later", WebSocketCloseCodes.TryAgainLater);
    }

    /// <summary>Copies the JPEG into a shared frame (the caller holds its one reference).</summary>
    private MediaFrame ToFrame(ReadOnlySpan<byte> jpeg, in FrameInfo header)
    {
        MediaFrame frame = MediaFrame.Rent(jpeg.Length);
        jpeg.CopyTo(frame.WritableData);
        frame.Complete(header, jpeg.Length);
        _received.OnReceived(jpeg.Length);
        return frame;
    }

    private void OnText(ReadOnlySpan<byte> text)
    {
        if (ClientMessages.Parse(text, out JsonElement message) == ClientMessages.Kind.Ping)
        {
            byte[] pong = ClientMessages.Pong(message);
            lock (_control)
            {
                _pendingPong = pong;
            }

            _wake.Set();
        }
    }
}
