using System.Net.WebSockets;

namespace SocketCam.Web.WebSockets;

/// <summary>Why a WebSocket client's loop ended, and the close code to send (null: the socket is already gone).</summary>
internal readonly record struct WebSocketEnding(string Reason, WebSocketCloseStatus? Status)
{
    public static WebSocketEnding Disconnected { get; } = new("disconnected", null);

    public static WebSocketEnding ServerShutdown { get; } = new("server shutting down", WebSocketCloseStatus.EndpointUnavailable);

    /// <summary>The loop was told to stop because the other loop of the same client ended first.</summary>
    public static WebSocketEnding Stopped { get; } = new("stopped", null);
}
