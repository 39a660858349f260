using System.IO.Pipelines;
using System.Net.WebSockets;
using SocketCam.Hub;
using SocketCam.Protocol;

namespace SocketCam.Web.WebSockets;

/// <summary>
/// Protocol v2 over a WebSocket (`GET /v2/ws`, subprotocol <c>socketcam.v2</c>, docs/PROTOCOL.md §4.16): each v2 message
/// goes out as one binary WebSocket message; what comes in is copied into a pipe that the session parses exactly as it
/// parses a TCP stream. The pipe pauses the pump once it holds more than the largest message, so a peer that sends
/// faster than the session takes is held back like TCP's window would hold it.
/// </summary>
internal sealed class WebSocketParticipantLink : IParticipantLink
{
    /// <summary>The subprotocol that says "v2 messages, no preface".</summary>
    public const string SubProtocol = "socketcam.v2";

    private const int ReadSize = 16 * 1024;
    private readonly WebSocket _socket;
    private readonly Pipe _incoming;
    private readonly byte[] _discard = new byte[ReadSize];
    private readonly TaskCompletionSource _pumpDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WebSocketParticipantLink(WebSocket socket, int maxFrameBytes)
    {
        _socket = socket;
        // Above the largest v2 message (a FRAME: its headers and extensions are far below the margin), or the parser could
        // wait for bytes behind a paused writer.
        long pause = maxFrameBytes + (1024L * 1024);
        _incoming = new Pipe(new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, useSynchronizationContext: false));
    }

    public ParticipantTransport Transport => ParticipantTransport.WebSocket;

    /// <summary>What the browser sent, as one byte stream.</summary>
    public PipeReader Reader => _incoming.Reader;

    /// <summary>
    /// Copies incoming binary messages into <see cref="Reader"/> until the browser closes (the session then reads the end)
    /// or the link is disposed. A text message is not a v2 message: the session reads it as ERROR malformed.
    /// </summary>
    public async Task PumpAsync(CancellationToken cancellationToken)
    {
        PipeWriter writer = _incoming.Writer;
        bool writing = true;
        try
        {
            while (true)
            {
                Memory<byte> memory = writing ? writer.GetMemory(ReadSize) : _discard;
                ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(memory, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (!writing)
                {
                    continue; // the session is ending: read on until the browser's close, so ours is not a reset
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    writing = false;
                    await writer.CompleteAsync(new ProtocolException(ErrorCode.Malformed, "A text WebSocket message: socketcam.v2 carries binary v2 messages only."));
                    continue;
                }

                writer.Advance(result.Count);
                FlushResult flushed = await writer.FlushAsync(cancellationToken);
                if (flushed.IsCompleted)
                {
                    writing = false; // the session stopped reading (it is closing): keep draining
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The browser vanished or the session ended and aborted the socket: the session reads the end of the stream.
        }
        finally
        {
            if (writing)
            {
                await writer.CompleteAsync();
            }

            _pumpDone.TrySetResult();
        }
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) =>
        _socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);

    public async ValueTask SendFrameAsync(ArraySegment<byte> header, ArraySegment<byte> payload)
    {
        await _socket.SendAsync(header.AsMemory(), WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
        await _socket.SendAsync(payload.AsMemory(), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
    }

    public async Task CloseAsync(ErrorCode code, TimeSpan limit)
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        // The session reads no more: completing the reader turns a pump that waits on a full pipe into one that drains.
        await _incoming.Reader.CompleteAsync();
        using var timeout = new CancellationTokenSource(limit);
        WebSocketCloseStatus status = code is ErrorCode.Normal or ErrorCode.ServerShutdown ? WebSocketCloseStatus.NormalClosure : WebSocketCloseStatus.PolicyViolation;
        string reason = code == ErrorCode.Normal ? "goodbye" : code.ToString();
        try
        {
            await _socket.CloseOutputAsync(status, reason, timeout.Token);
            // The pump reads on until the browser's close arrives: closing before that could reset the connection and
            // destroy the farewell before the browser read it.
            await _pumpDone.Task.WaitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    public void Abort() => _socket.Abort();

    public void Dispose()
    {
        _socket.Abort();
        _socket.Dispose();
    }
}
