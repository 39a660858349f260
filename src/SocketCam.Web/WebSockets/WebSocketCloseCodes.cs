using System.Net.WebSockets;
using System.Text;

namespace SocketCam.Web.WebSockets;

/// <summary>
/// Close codes of the watch and publish WebSockets (docs/HTTP.md, "Close codes"). A refused request is accepted and
/// closed with one of these, because a browser cannot see the HTTP status of a failed upgrade.
/// </summary>
internal static class WebSocketCloseCodes
{
    public const WebSocketCloseStatus BadRoomName = (WebSocketCloseStatus)4400;
    public const WebSocketCloseStatus Unauthorized = (WebSocketCloseStatus)4401;
    public const WebSocketCloseStatus UnknownRoom = (WebSocketCloseStatus)4404;
    public const WebSocketCloseStatus RoomBusy = (WebSocketCloseStatus)4409;
    public const WebSocketCloseStatus NotJpegRoom = (WebSocketCloseStatus)4415;
    public const WebSocketCloseStatus TooMany = (WebSocketCloseStatus)4503;

    /// <summary>Too many wrong tokens from this address: refused before looking (HTTP answers 429).</summary>
    public const WebSocketCloseStatus Throttled = (WebSocketCloseStatus)4429;

    /// <summary>RFC 6455's "Try Again Later": the server's memory for frames being received is spent (a publish page retries).</summary>
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;

    /// <summary>RFC 6455 allows 123 bytes of reason in a close frame.</summary>
    private const int MaxReasonBytes = 123;

    /// <summary>Cuts a reason to what a close frame can carry, on a character boundary.</summary>
    public static string Fit(string reason)
    {
        if (Encoding.UTF8.GetByteCount(reason) <= MaxReasonBytes)
        {
            return reason;
        }

        int length = reason.Length;
        while (length > 0 && Encoding.UTF8.GetByteCount(reason.AsSpan(0, length)) > MaxReasonBytes - 3)
        {
            length--;
        }

        return string.Concat(reason.AsSpan(0, length), "...");
    }

    /// <summary>
    /// Closes a socket nobody reads yet (a refused request): sends the close frame, then reads and discards up to the
    /// peer's close for at most <paramref name="wait"/>. Never throws for a peer that is already gone.
    /// </summary>
    public static async Task RefuseAsync(WebSocket socket, WebSocketCloseStatus status, string reason, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await socket.CloseOutputAsync(status, Fit(reason), timeout.Token);
            byte[] sink = new byte[1024];
            while (socket.State == WebSocketState.CloseSent)
            {
                ValueWebSocketReceiveResult result = await socket.ReceiveAsync(sink.AsMemory(), timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer left or did not answer in time: the request ends anyway.
        }
    }

    /// <summary>
    /// Ends a client whose loops have stopped: sends the ending's close frame (when the socket can still carry one), then
    /// gives <paramref name="receiving"/>, the client's reader, <paramref name="wait"/> to see the peer's close before the
    /// socket is aborted, so a peer that never answers does not hold the request open.
    /// </summary>
    public static async Task FinishAsync(WebSocket socket, WebSocketEnding ending, Task receiving, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            if (ending.Status is { } status && socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(status, Fit(ending.Reason), timeout.Token);
            }

            await receiving.WaitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or IOException or ObjectDisposedException)
        {
            // The peer left or did not answer in time.
        }
        finally
        {
            if (!receiving.IsCompleted)
            {
                socket.Abort();
                await receiving;
            }
        }
    }
}
