using Microsoft.Extensions.Logging;

namespace SocketCam.Display;

/// <summary>The window's log lines (event ids 501-519).</summary>
internal static partial class DisplayLog
{
    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Window '{Title}' open ({Renderer} renderer)")]
    public static partial void Opened(ILogger logger, string title, string renderer);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Window closed ({How}): stopping")]
    public static partial void ClosedByUser(ILogger logger, string how);

    [LoggerMessage(EventId = 503, Level = LogLevel.Debug, Message = "Streaming texture {Width}x{Height} created")]
    public static partial void TextureCreated(ILogger logger, int width, int height);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "Drawing the window failed: {Error} (further failures are not logged)")]
    public static partial void DrawFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 505, Level = LogLevel.Error, Message = "The window's render thread failed")]
    public static partial void RenderThreadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 506, Level = LogLevel.Warning, Message = "The window's render thread did not stop within {Seconds} s; leaving it behind")]
    public static partial void RenderThreadStuck(ILogger logger, double seconds);

    [LoggerMessage(EventId = 508, Level = LogLevel.Warning, Message = "The window's feed is left allocated (its decoders and picture buffers): the stuck render thread may still use it")]
    public static partial void FeedLeftBehind(ILogger logger);

    [LoggerMessage(EventId = 507, Level = LogLevel.Debug, Message = "Window: {Shown} frames shown ({Fps:0.0} fps), {Dropped} dropped, latency p50 {P50:0.0} ms p99 {P99:0.0} ms")]
    public static partial void Summary(ILogger logger, long shown, double fps, long dropped, double p50, double p99);
}
