using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;

namespace SocketCam.Web;

/// <summary>
/// One `stream.mjpg` client: a viewer of the room like any other (its <see cref="ViewerFeed"/>: one-frame slot, newest
/// wins, skips counted, the send loop) that writes each frame as a multipart part straight from the room's
/// <see cref="MediaFrame"/> into the response's <see cref="PipeWriter"/> (Kestrel copies it into its socket buffer; nothing
/// else copies the picture). Each part ends with the next part's boundary, so a browser, which paints a part only once
/// the next boundary arrives, shows every frame as soon as it is sent instead of one frame late.
/// </summary>
internal sealed class MjpegClient : IRoomViewer, IClientStats, IViewerWriter
{
    /// <summary>Room for the part headers: three header lines with numbers of at most 20 digits.</summary>
    private const int MaxPartHeaderBytes = 256;

    private readonly HttpContext _context;
    private readonly Room _room;
    private readonly HttpOptions _options;
    private readonly ILogger _logger;
    private readonly ViewerFeed _feed;
    private readonly byte[] _partEnd;
    private bool _warnedCodec;

    public MjpegClient(HttpContext context, Room room, HttpOptions options, ILogger logger)
    {
        _context = context;
        _room = room;
        _options = options;
        _logger = logger;
        Remote = Describe(context);
        // The send timeout is armed only while a part goes out (an idle gap while the source is down is no stall).
        _feed = new ViewerFeed(this, options.SendTimeout);
        _partEnd = Encoding.ASCII.GetBytes($"\r\n--{options.Boundary}\r\n");
    }

    public VideoSlot Slot => _feed.Slot;

    public ClientKind Kind => ClientKind.Mjpeg;

    public string Remote { get; }

    public string? RoomName => _room.Name;

    public ViewerFeed Feed => _feed;

    /// <summary>MJPEG has no way to say "no signal": the client simply gets no frames until the source is back.</summary>
    public void OnSignal(SignalMessage message) => _feed.OnSignal(message);

    public static string Describe(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? $"{address}:{context.Connection.RemotePort}" : "?";

    /// <summary>Streams until the client leaves, the server stops or one frame takes longer than the send timeout.</summary>
    public async Task RunAsync(CancellationToken serverToken)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(serverToken, _context.RequestAborted);
        HttpResponse response = _context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = $"multipart/x-mixed-replace;boundary={_options.Boundary}";
        response.Headers.CacheControl = "no-store, no-cache, must-revalidate, max-age=0";
        response.Headers.Pragma = "no-cache";
        _context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();

        // The first boundary goes out first; every part then ends with the next one.
        _feed.EnqueueControl(Encoding.ASCII.GetBytes($"--{_options.Boundary}\r\n"));
        string reason = "closed";
        // A browser shows a picture at once, even from a slow or stalled source.
        _room.AddViewerWithLatestFrame(this);

        WebLog.MjpegJoined(_logger, Remote, _room.Name);
        try
        {
            reason = await SendLoopAsync(done.Token);
        }
        finally
        {
            _room.RemoveViewer(this);
            _feed.Close();
        }

        WebLog.MjpegLeft(_logger, Remote, serverToken.IsCancellationRequested ? "server shutting down" : reason, _feed.FramesSent, _feed.Dropped);
    }

    private async Task<string> SendLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _feed.RunAsync(cancellationToken) switch
            {
                FeedEnd.Stalled => $"took more than {_options.SendTimeout.TotalSeconds:0.#} s to accept one frame",
                FeedEnd.Finished => "disconnected", // a flush found the response completed
                _ => Ended(),
            };
        }
        catch (OperationCanceledException)
        {
            return Ended();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            return "disconnected";
        }
        catch (Exception ex)
        {
            WebLog.MjpegFailed(_logger, Remote, ex);
            return "failed";
        }
    }

    private string Ended() => _context.RequestAborted.IsCancellationRequested ? "disconnected" : "closed";

    async ValueTask<int> IViewerWriter.WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        if (frame.Header.Codec != CodecId.Jpeg)
        {
            if (!_warnedCodec)
            {
                _warnedCodec = true;
                WebLog.NotJpeg(_logger, Remote, _room.Name, frame.Header.Codec.ToString());
            }

            return 0;
        }

        PipeWriter writer = _context.Response.BodyWriter;
        int written = WritePart(writer, frame);
        FlushResult result = await writer.FlushAsync(cancellationToken);
        return result.IsCompleted || result.IsCanceled ? ViewerFeed.Stop : written;
    }

    async ValueTask IViewerWriter.WriteControlAsync(byte[] message, CancellationToken cancellationToken)
    {
        PipeWriter writer = _context.Response.BodyWriter;
        writer.Write(message);
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Headers, the JPEG as it sits in the shared frame, and the next boundary; returns the bytes written.</summary>
    private int WritePart(PipeWriter writer, MediaFrame frame)
    {
        ReadOnlySpan<byte> jpeg = frame.Data;
        long micros = frame.Header.CaptureMicros;
        Span<byte> header = writer.GetSpan(MaxPartHeaderBytes);
        bool ok = System.Text.Unicode.Utf8.TryWrite(
            header,
            CultureInfo.InvariantCulture,
            $"Content-Type: image/jpeg\r\nContent-Length: {jpeg.Length}\r\nX-Timestamp: {micros / 1_000_000}.{micros % 1_000_000:D6}\r\n\r\n",
            out int headerLength);
        if (!ok)
        {
            throw new InvalidOperationException("Part header longer than expected.");
        }

        writer.Advance(headerLength);
        writer.Write(jpeg);
        writer.Write(_partEnd);
        return headerLength + jpeg.Length + _partEnd.Length;
    }
}
