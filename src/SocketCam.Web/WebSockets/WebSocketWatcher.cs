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
/// One watch WebSocket (`/rooms/{room}/ws`): a room viewer like any other (its <see cref="ViewerFeed"/>: one-frame slot,
/// newest wins, skips counted, the send loop) that writes each frame as one binary message, a 24-byte header then the
/// JPEG straight from the room's <see cref="MediaFrame"/>. A page that asked for H.264 (`?codec=h264`, it has
/// WebCodecs) gets a 28-byte header (codec and keyframe flag appended) and the primary track's H.264 access units as
/// they are, JPEG frames as before. Its receive loop takes the page's pings and stats; replies go
/// through the feed's send loop, the socket's only writer, as "newest wins" control state, so a page that floods pings
/// cannot grow anything.
/// </summary>
internal sealed class WebSocketWatcher : IRoomViewer, IClientStats, IViewerWriter
{
    /// <summary>Capture µs, send µs, sequence, width, height (docs/HTTP.md).</summary>
    public const int FrameHeaderSize = 24;

    /// <summary>With <c>?codec=h264</c>: the 24 bytes, then codec (1 JPEG, 3 H.264), flags (bit 0 keyframe), 2 reserved.</summary>
    public const int CodecFrameHeaderSize = 28;

    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly Room _room;
    private readonly HttpOptions _options;
    private readonly ILogger _logger;
    private readonly ViewerFeed _feed;
    private readonly byte[] _header = new byte[CodecFrameHeaderSize];
    private PageStats? _page;
    private bool _warnedCodec;

    public WebSocketWatcher(WebSocket socket, Room room, string remote, HttpOptions options, ILogger logger, bool acceptsH264 = false)
    {
        _socket = socket;
        AcceptsH264 = acceptsH264;
        _room = room;
        _options = options;
        _logger = logger;
        Remote = remote;
        // The send timeout is armed only while something goes out (an idle source is no stall).
        _feed = new ViewerFeed(this, options.SendTimeout);
    }

    public VideoSlot Slot => _feed.Slot;

    public ClientKind Kind => ClientKind.WebSocketWatcher;

    public string Remote { get; }

    public string? RoomName => _room.Name;

    public ViewerFeed Feed => _feed;

    /// <summary>The page asked for H.264 (<c>?codec=h264</c>): the room may give it the primary track's frames as they are.</summary>
    public bool AcceptsH264 { get; }

    /// <summary>What the page last reported about itself, or null (not a page, or none yet).</summary>
    public PageStats? Page => Volatile.Read(ref _page);

    public void OnSignal(SignalMessage message) => _feed.OnSignal(message);

    /// <summary>Streams until the page leaves, breaks the protocol, stalls, or the server stops; then closes with a code.</summary>
    public async Task<WebSocketEnding> RunAsync(CancellationToken serverToken)
    {
        // The hello is queued before the viewer joins, so it goes out before anything the room says (a no-signal).
        _feed.EnqueueControl(ClientMessages.Write(json =>
        {
            json.WriteString("type", "hello");
            json.WriteString("room", _room.Name);
            json.WriteNumber("serverTime", Clock.NowMicros());
            // False while nobody has published here yet (the room exists because someone watches it): the page says it
            // waits for the room to start instead of "connecting" forever. A v2 publisher counts from its first frame.
            json.WriteBoolean("publishing", _room.HasPublisher || _room.LatestHeader is not null);
            // Which frames this socket carries: the page knows its header size from it (docs/HTTP.md).
            json.WriteString("codecs", AcceptsH264 ? "jpeg,h264" : "jpeg");
        }));
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
            _feed.Close();
        }

        await WebSocketCloseCodes.FinishAsync(_socket, ending, receiving, CloseWait);
        WebLog.SocketLeft(_logger, Remote, _room.Name, ending.Reason, _feed.FramesSent, _feed.Dropped);
        return ending;
    }

    /// <param name="stop">Ends the loop between sends (the page left): a close frame can still follow.</param>
    /// <param name="serverToken">Aborts a send in progress (the server stops).</param>
    private async Task<WebSocketEnding> SendLoopAsync(CancellationToken stop, CancellationToken serverToken)
    {
        try
        {
            return await _feed.RunAsync(stop, serverToken) switch
            {
                // A cancelled send aborts the socket: no close frame can follow.
                FeedEnd.Stalled => new WebSocketEnding($"took more than {_options.SendTimeout.TotalSeconds:0.#} s to accept one frame", null),
                _ => serverToken.IsCancellationRequested ? WebSocketEnding.ServerShutdown : WebSocketEnding.Stopped,
            };
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

    async ValueTask<int> IViewerWriter.WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        bool h264 = frame.Header.Codec == CodecId.H264 && AcceptsH264;
        if (frame.Header.Codec != CodecId.Jpeg && !h264)
        {
            if (!_warnedCodec)
            {
                _warnedCodec = true;
                WebLog.NotJpeg(_logger, Remote, _room.Name, frame.Header.Codec.ToString());
            }

            return 0;
        }

        FrameInfo header = frame.Header;
        BinaryPrimitives.WriteInt64LittleEndian(_header, header.CaptureMicros);
        BinaryPrimitives.WriteInt64LittleEndian(_header.AsSpan(8), Clock.NowMicros());
        BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(16), unchecked((uint)header.Sequence));
        BinaryPrimitives.WriteUInt16LittleEndian(_header.AsSpan(20), (ushort)Math.Min(header.Width, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16LittleEndian(_header.AsSpan(22), (ushort)Math.Min(header.Height, ushort.MaxValue));
        int headerSize = FrameHeaderSize;
        if (AcceptsH264)
        {
            // A page that takes H.264 is told each frame's codec, and which H.264 frames it can start decoding at.
            _header[24] = (byte)header.Codec;
            _header[25] = (byte)(header.IsKeyframe ? FrameFlags.Keyframe : FrameFlags.None);
            headerSize = CodecFrameHeaderSize;
        }

        ReadOnlyMemory<byte> data = frame.Payload;

        // Two fragments of one message: the header, then the JPEG (or access unit) from the shared frame as it is.
        await _socket.SendAsync(_header.AsMemory(0, headerSize), WebSocketMessageType.Binary, WebSocketMessageFlags.None, cancellationToken);
        await _socket.SendAsync(data, WebSocketMessageType.Binary, WebSocketMessageFlags.EndOfMessage, cancellationToken);
        return headerSize + data.Length;
    }

    ValueTask IViewerWriter.WriteSignalAsync(SignalMessage signal, CancellationToken cancellationToken) =>
        SendTextAsync(ClientMessages.Signal(signal.Live, signal.Text), cancellationToken);

    ValueTask IViewerWriter.WriteControlAsync(byte[] message, CancellationToken cancellationToken) =>
        SendTextAsync(message, cancellationToken);

    private ValueTask SendTextAsync(byte[] text, CancellationToken cancellationToken) =>
        _socket.SendAsync(text.AsMemory(), WebSocketMessageType.Text, WebSocketMessageFlags.EndOfMessage, cancellationToken);

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
                _feed.ReplaceControl(ClientMessages.Pong(message));
                break;
            case ClientMessages.Kind.Stats:
                Volatile.Write(ref _page, PageStats.From(message));
                break;
            default:
                break; // not a message this endpoint knows: ignored
        }
    }
}
