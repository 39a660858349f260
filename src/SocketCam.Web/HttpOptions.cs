using System.Net;
using SocketCam.Protocol;

namespace SocketCam.Web;

/// <summary>Settings of the HTTP listener (`serve --http`).</summary>
public sealed record HttpOptions
{
    private readonly IReadOnlyList<string> _allowedOrigins = [];

    /// <summary>Where Kestrel listens; default 0.0.0.0:8080. Port 0 picks a free port.</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Any, 8080);

    /// <summary>
    /// HTTPS too (`serve --https`): where, and the certificate (<see cref="Tls.ServerCertificate"/>); default null (none).
    /// TLS 1.2 and 1.3 only. The same endpoints, pages and limits as plain HTTP.
    /// </summary>
    public HttpsOptions? Https { get; init; }

    /// <summary>The room `/stream.mjpg` and `/snapshot.jpg` show; default "main".</summary>
    public string DefaultRoom { get; init; } = RoomName.Default;

    /// <summary>When set, every endpoint but `/healthz` needs it (`?token=` or `Authorization: Bearer`); default none.</summary>
    public string? Token { get; init; }

    /// <summary>Signed room tokens accepted beside <see cref="Token"/> (the hub's `SessionOptions.RoomTokens`); default none.</summary>
    public Auth.RoomTokens? RoomTokens { get; init; }

    /// <summary>MJPEG clients beyond this get 503; default 1000.</summary>
    public int MaxMjpegClients { get; init; } = 1000;

    /// <summary>Watch and publish WebSockets beyond this are closed with 4503; default 1000.</summary>
    public int MaxWebSocketClients { get; init; } = 1000;

    /// <summary>How long `snapshot.jpg` waits for a room's first frame before answering 503; default 5 s.</summary>
    public TimeSpan SnapshotWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// An MJPEG client or watch WebSocket that takes longer than this to accept one frame is disconnected; default 30 s. (A slow client
    /// only skips frames; this is for one that stopped reading for good.)
    /// </summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Origins (`scheme://host:port`) besides the server's own whose pages may open the WebSockets (`serve --allow-origin`);
    /// "*" allows any. Default none: only the server's own pages, and programs that send no Origin header.
    /// </summary>
    public IReadOnlyList<string> AllowedOrigins
    {
        get => _allowedOrigins;
        init => _allowedOrigins = OriginPolicy.Validate(value); // a bad one is an error where the options are made, before anything starts
    }

    /// <summary>HTTP connections open at once; a new one beyond this is closed at once. Default 2064 (every MJPEG client and WebSocket, plus 64).</summary>
    public int MaxConnections { get; init; } = 2064;

    /// <summary>A client must send its whole request headers within this; default 10 s (Kestrel's own default is 30 s: slowloris).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An idle keep-alive connection is closed after this; default 30 s.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bytes the room recorders (`serve --record`) hold on disk now, for `/metrics` (`socketcam_recording_bytes`); null: not
    /// recording, the metric is left out. Set by whoever owns the recorder (<c>SocketCamHost</c>).
    /// </summary>
    public Func<long>? RecordingBytes { get; init; }

    /// <summary>
    /// When <see cref="EndPoint"/> is already taken, <c>SocketCamHost</c> runs without HTTP instead of refusing to start;
    /// default false. `serve` sets it for its default address only. <see cref="HttpServer"/> ignores it.
    /// </summary>
    public bool SkipIfAddressInUse { get; init; }

    /// <summary>The multipart boundary of the MJPEG stream; default "socketcamframe".</summary>
    public string Boundary { get; init; } = "socketcamframe";
}

/// <summary>The HTTPS listener of <see cref="HttpOptions.Https"/>: its address (port 0 picks one) and certificate.</summary>
public sealed record HttpsOptions(IPEndPoint EndPoint, Tls.ServerCertificate Certificate)
{
    /// <summary>
    /// Plain HTTP requests from other machines get a 308 to the same URL on HTTPS (`/healthz` excepted); default true.
    /// Loopback clients keep plain HTTP: localhost is a secure context for browsers already.
    /// </summary>
    public bool RedirectRemoteHttp { get; init; } = true;
}
