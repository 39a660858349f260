using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;

namespace SocketCam.Web.WebSockets;

/// <summary>
/// One watch WebSocket (`/rooms/{room}/ws`): a room viewer like any other (one-frame slot, newest wins, skips counted)
/// whose send loop writes each frame as one binary message, a 24-byte header then the JPEG straight from the room's
/// <see cref="MediaFrame"/>. Its receive loop takes the page's pings and stats; replies go through the send loop, the
/// socket's only writer, as "newest wins" control state, so a page that floods pings cannot grow anything.
/// </summary>
internal sealed class WebSocketWatcher : IRoomViewer, IClientStats
{
    /// <summary>Capture µs, send µs, sequence, width, height (docs/HTTP.md).</summary>
    public const int FrameHeaderSize = 24;

    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly Room _room;
    private readonly HttpOptions _options;
    private readonly ILogger _logger;
    private readonly AsyncSignal _wake = new();
    private readonly SendCounters _sent = new();
    private readonly byte[] _header = new byte[FrameHeaderSize];
    private readonly Lock _control = new();
    private byte[]? _pendingSignal;
    private byte[]? _pendingPong;
    private PageStats? _page;
    private bool _warnedCodec;

    public WebSocketWatcher(WebSocket socket, Room room, string remote, HttpOptions options, ILogger logger)
    {
        _socket = socket;
        _room = room;
        _options = options;
        _logger = logger;
        Remote = remote;
        Slot = new VideoSlot(_wake);
    }

    public VideoSlot Slot { get; }

    public string Kind => "websocket";

    public string Remote { get; }

    public string? RoomName => _room.Name;

    public long FramesSent => _sent.FramesSent;

    public long BytesSent => _sent.BytesSent;

    public long FramesDropped => Slot.Dropped;

    public double SendFps => _sent.PerSecond;

    /// <summary>Capture to handed-to-Kestrel of the last frame (µs), or -1.</summary>
    public long LastLatencyMicros => _sent.LastLatencyMicros;

    /// <summary>What the page last reported about itself, or null (not a page, or none yet).</summary>
    public PageStats? Page => Volatile.Read(ref _page);

    public void OnSignal(SignalMessage message)
    {
        byte[] text = ClientMessages.Signal(message.Live, message.Text);
        lock (_control)
        {
            _pendingSignal = text;
        }

        _wake.Set();
    }

    /// <summary>Streams until the page leaves, breaks the protocol, stalls, or the server stops; then closes with a code.</summary>
    public async Task<WebSocketEnding> RunAsync(CancellationToken serverToken)
    {
        _room.AddViewerWithLatestFrame(this);

        WebLog.SocketJoined(_logger, Remote, "watching", _room.Name);
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        Task<WebSocketEnding> receiving = ReceiveLoopAsync();
        WebSocketEnding ending;
        try
        {
            Task<WebSocketEnding> sending = SendLoopAsync(stopSending.Token, serverToken);
            if (await Task.WhenAny(receiving, sending) == receiving)
            {
                await stopSending.CancelAsync();
                ending = await receiving;
                await sending;
            }
            else
            {
                ending = await sending;
            }
        }
        finally
        {
            _room.RemoveViewer(this);
            Slot.Close();
        }

        await WebSocketCloseCodes.FinishAsync(_socket, ending, receiving, CloseWait);
        WebLog.SocketLeft(_logger, Remote, _room.Name, ending.Reason, FramesSent, Slot.Dropped);
        return ending;
    }

    private async Task<WebSocketEnding> SendLoopAsync(CancellationToken stop, CancellationToken serverToken)
    {
        // One timer for every send, armed only while something is going out (an idle source is no stall).
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        try
        {
            await SendTextAsync(ClientMessages.Write(json =>
            {
                json.WriteString("type", "hello");
                json.WriteString("room", _room.Name);
                json.WriteNumber("serverTime", Clock.NowMicros());
            }), stall);
            while (true)
            {
                try
                {
                    await _wake.WaitAsync(stop);
                }
                catch (OperationCanceledException)
                {
                    return serverToken.IsCancellationRequested ? WebSocketEnding.ServerShutdown : WebSocketEnding.Stopped;
                }

                byte[]? signal;
                byte[]? pong;
                lock (_control)
                {
                    (signal, pong) = (_pendingSignal, _pendingPong);
                    (_pendingSignal, _pendingPong) = (null, null);
                }

                if (signal is not null)
                {
                    await SendTextAsync(signal, stall);
                }

                if (pong is not null)
                {
                    await SendTextAsync(pong, stall);
                }

                MediaFrame? frame = Slot.Take();
                if (frame is null)
                {
                    continue;
                }

                try
                {
                    await SendFrameAsync(frame, stall);
                }
                finally
                {
                    frame.Release();
                }
            }
        }
        catch (OperationCanceledException) when (!serverToken.IsCancellationRequested)
        {
            // A cancelled send aborts the socket: no close frame can follow.
            return new WebSocketEnding($"took more than {_options.SendTimeout.TotalSeconds:0.#} s to accept one frame", null);
        }
        catch (OperationCanceledException)
        {
            return new WebSocketEnding(WebSocketEnding.ServerShutdown.Reason, null);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            return WebSocketEnding.Disconnected;
        }
    }

    private async ValueTask SendFrameAsync(MediaFrame frame, CancellationTokenSource stall)
    {
        if (frame.Header.Codec != CodecId.Jpeg)
        {
            if (!_warnedCodec)
            {
                _warnedCodec = true;
                WebLog.NotJpeg(_logger, Remote, _room.Name, frame.Header.Codec.ToString());
            }

            return;
        }

        long now = Clock.NowMicros();
        VideoFrameHeader header = frame.Header;
        BinaryPrimitives.WriteInt64LittleEndian(_header, header.CaptureMicros);
        BinaryPrimitives.WriteInt64LittleEndian(_header.AsSpan(8), now);
        BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(16), unchecked((uint)header.Sequence));
        BinaryPrimitives.WriteUInt16LittleEndian(_header.AsSpan(20), (ushort)Math.Min(header.Width, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16LittleEndian(_header.AsSpan(22), (ushort)Math.Min(header.Height, ushort.MaxValue));
        ReadOnlyMemory<byte> jpeg = frame.Payload;

        // Two fragments of one message: the header, then the JPEG from the shared frame as it is.
        stall.CancelAfter(_options.SendTimeout);
        await _socket.SendAsync(_header.AsMemory(), WebSocketMessageType.Binary, WebSocketMessageFlags.None, stall.Token);
        await _socket.SendAsync(jpeg, WebSocketMessageType.Binary, WebSocketMessageFlags.EndOfMessage, stall.Token);
        stall.CancelAfter(Timeout.InfiniteTimeSpan);

        _sent.OnSent(FrameHeaderSize + jpeg.Length, now - header.CaptureMicros);
    }

    private async ValueTask SendTextAsync(byte[] text, CancellationTokenSource stall)
    {
        stall.CancelAfter(_options.SendTimeout);
        await _socket.SendAsync(text.AsMemory(), WebSocketMessageType.Text, WebSocketMessageFlags.EndOfMessage, stall.Token);
        stall.CancelAfter(Timeout.InfiniteTimeSpan);
    }

    /// <summary>Reads the page's text messages until it closes, breaks the protocol or vanishes; never throws.</summary>
    private async Task<WebSocketEnding> ReceiveLoopAsync()
    {
        byte[] buffer = new byte[ClientMessages.MaxTextBytes];
        try
        {
            while (true)
            {
                int filled = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (filled == buffer.Length)
                    {
                        return new WebSocketEnding($"sent a message of more than {ClientMessages.MaxTextBytes} bytes", WebSocketCloseStatus.MessageTooBig);
                    }

                    // No token: a cancelled receive aborts the socket. The loop ends with the peer's close or the connection.
                    result = await _socket.ReceiveAsync(buffer.AsMemory(filled), CancellationToken.None);
                    switch (result.MessageType)
                    {
                        case WebSocketMessageType.Close:
                            return new WebSocketEnding("closed", WebSocketCloseStatus.NormalClosure);
                        case WebSocketMessageType.Binary:
                            return new WebSocketEnding("sent binary data: a watcher sends only text", WebSocketCloseStatus.InvalidMessageType);
                    }

                    filled += result.Count;
                }
                while (!result.EndOfMessage);

                OnText(buffer.AsSpan(0, filled));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            return WebSocketEnding.Disconnected;
        }
    }

    private void OnText(ReadOnlySpan<byte> text)
    {
        switch (ClientMessages.Parse(text, out JsonElement message))
        {
            case ClientMessages.Kind.Ping:
                byte[] pong = ClientMessages.Pong(message);
                lock (_control)
                {
                    _pendingPong = pong;
                }

                _wake.Set();
                break;
            case ClientMessages.Kind.Stats:
                Volatile.Write(ref _page, PageStats.From(message));
                break;
            default:
                break; // not a message this endpoint knows: ignored
        }
    }
}
