using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Auth;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Transport;
using SocketCam.Protocol;
using SocketCam.Web.WebSockets;

namespace SocketCam.Web;

/// <summary>
/// `serve --http`: Kestrel beside the hub's own listener. Serves the pages (`/`, `/rooms/{room}`, `/rooms/{room}/publish`),
/// the watch and publish WebSockets, a room as MJPEG (`/rooms/{room}/stream.mjpg`), its newest frame (`snapshot.jpg`),
/// JSON state (`/api/rooms`, `/api/stats`) and `/healthz` (docs/HTTP.md). MJPEG clients and watch sockets are room
/// viewers like any other; every client runs inside its request and is awaited on <see cref="DisposeAsync"/>.
/// </summary>
public sealed class HttpServer : IAsyncDisposable
{
    private const string TextPlain = "text/plain; charset=utf-8";

    private readonly HubServer _hub;
    private readonly HttpOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private static readonly TimeSpan RefuseWait = TimeSpan.FromSeconds(2);

    /// <summary>How often <see cref="TrimAfterWavesAsync"/> looks; a wave is over once fewer than <see cref="WaveQuiet"/> connections end in one look.</summary>
    private static readonly TimeSpan WaveCheck = TimeSpan.FromSeconds(5);
    private const int WaveQuiet = 50;

    /// <summary>Connections that must have ended (or <see cref="WaveOpen"/> fewer be open) for a wave to be worth a full compacting collection.</summary>
    private const int WaveConnections = 1000;
    private const int WaveOpen = 100;

    private readonly ConnectionSet<MjpegClient> _clients = new();
    private readonly ConnectionSet<IClientStats> _sockets = new();
    private readonly PageAssets _assets = PageAssets.Load();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly AddressSlots _connectionSlots;
    private readonly AddressSlots _mjpegSlots;
    private readonly AddressSlots _socketSlots;
    private readonly OriginPolicy _origins;

    /// <summary>Connections (by id) that have not brought a complete request yet, with when they were admitted.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _noRequestYet = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private IPEndPoint? _endPoint;
    private int _disposed;
    private int _connections;
    private long _connectionsEnded;
    private Task _trimming = Task.CompletedTask;

    public HttpServer(HubServer hub, HttpOptions options, ILoggerFactory? loggerFactory = null)
    {
        _hub = hub;
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("SocketCam.Web");
        _origins = new OriginPolicy(options.AllowedOrigins);
        // MJPEG streams and WebSockets are capped per address like every listener's connections. The HTTP connections of
        // one address may be twice that plus a few, so a stream over its share still gets its clear 503 / 4503 instead of
        // a connection closed unanswered; slow or idle connections (slowloris) are held to that same number.
        _mjpegSlots = hub.Guards.NewAddressSlots();
        _socketSlots = hub.Guards.NewAddressSlots();
        int perAddress = hub.Guards.Options.MaxConnectionsPerAddress;
        _connectionSlots = new AddressSlots(perAddress <= 0 ? int.MaxValue : (2 * perAddress) + 16);
    }

    /// <summary>HTTP connections open now (whatever they carry).</summary>
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>HTTP connections one address may hold at once.</summary>
    public int MaxConnectionsPerAddress => _connectionSlots.MaxPerAddress;

    /// <summary>The bound endpoint (with the real port when port 0 was asked for).</summary>
    public IPEndPoint EndPoint => _endPoint ?? throw new InvalidOperationException("The HTTP listener is not started.");

    /// <summary>Where HTTPS listens (its port once started), or null without <see cref="HttpOptions.Https"/>.</summary>
    public IPEndPoint? HttpsEndPoint => _httpsEndPoint;

    private IPEndPoint? _httpsEndPoint;

    public HttpOptions Options => _options;

    /// <summary>MJPEG clients connected now.</summary>
    public int MjpegClientCount => _clients.Count;

    /// <summary>Starts Kestrel; throws <see cref="IOException"/> (Kestrel's "address already in use") when it cannot bind.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        // No appsettings, no environment variables, no console lifetime: the CLI owns configuration, logging and Ctrl+C.
        builder.Configuration.Sources.Clear();
        builder.Services.AddSingleton<ILoggerFactory>(new QuietFrameworkLoggers(_loggerFactory));
        builder.Services.AddSingleton<IHostLifetime, HostedByCaller>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        if (_options.Https is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves HTTPS out unless asked
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(_options.EndPoint, listen => listen.Use(AdmitConnection));
            if (_options.Https is { } https)
            {
                kestrel.Listen(https.EndPoint, listen =>
                {
                    listen.Use(AdmitConnection); // before the TLS handshake: a flood of handshakes meets the same caps
                    // HTTP/1.1 like the plain listener: the pages' WebSockets are the classic Upgrade kind, and a stream per
                    // connection is what the per-address caps count.
                    listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
                    listen.UseHttps(https.Certificate.Certificate, tls => tls.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13);
                });
            }
            // A live stream decides itself when a client is too slow (HttpOptions.SendTimeout); a client that skips frames
            // may legitimately read slowly.
            kestrel.Limits.MinResponseDataRate = null;
            // AdmitConnection enforces the total (and counts refusals); Kestrel's own limit is only a backstop.
            kestrel.Limits.MaxConcurrentConnections = _options.MaxConnections + 16L;
            kestrel.Limits.RequestHeadersTimeout = _options.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = _options.KeepAliveTimeout;
        });

        WebApplication app = builder.Build();
        // Error pages echo the path: a browser must never sniff them into HTML. Simplest and right: on every response.
        app.Use((context, next) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            _noRequestYet.TryRemove(context.Connection.Id, out _);
            return next(context);
        });
        if (_options.Https is { RedirectRemoteHttp: true })
        {
            app.Use(RedirectToHttpsAsync);
        }

        app.UseWebSockets();
        app.Use(CheckOriginAsync);
        app.Use(RequireTokenAsync);
        app.MapGet("/", new RequestDelegate(c => _assets.ServeAsync(c, "index.html")));
        app.MapGet("/rooms/{room}", new RequestDelegate(c => PageAsync(c, "watch.html")));
        app.MapGet("/rooms/{room}/publish", new RequestDelegate(c => PageAsync(c, "publish.html")));
        app.MapGet("/call/{room}", new RequestDelegate(c => PageAsync(c, "call.html")));
        app.MapGet("/assets/{*file}", new RequestDelegate(c => _assets.ServeAsync(c, "assets/" + (c.Request.RouteValues["file"] as string ?? ""))));
        app.MapGet("/rooms/{room}/ws", new RequestDelegate(WatchSocketAsync));
        app.MapGet("/rooms/{room}/publish/ws", new RequestDelegate(PublishSocketAsync));
        app.MapGet("/v2/ws", new RequestDelegate(ParticipantSocketAsync));
        app.MapGet("/healthz", new RequestDelegate(static c => WriteTextAsync(c, StatusCodes.Status200OK, "ok")));
        app.MapGet("/stream.mjpg", new RequestDelegate(c => StreamAsync(c, _options.DefaultRoom)));
        app.MapGet("/rooms/{room}/stream.mjpg", new RequestDelegate(c => StreamAsync(c, RouteRoom(c))));
        app.MapGet("/snapshot.jpg", new RequestDelegate(c => SnapshotAsync(c, _options.DefaultRoom)));
        app.MapGet("/rooms/{room}/snapshot.jpg", new RequestDelegate(c => SnapshotAsync(c, RouteRoom(c))));
        app.MapGet("/api/rooms", new RequestDelegate(RoomsAsync));
        app.MapGet("/api/rooms/{room}/messages", new RequestDelegate(MessagesAsync));
        app.MapGet("/api/stats", new RequestDelegate(StatsAsync));
        app.MapGet("/metrics", new RequestDelegate(c => MetricsText.WriteAsync(c, this, _hub)));
        app.MapFallback(new RequestDelegate(static c => WriteTextAsync(c, StatusCodes.Status404NotFound,
            "not found: try /, /rooms/ROOM, /rooms/ROOM/publish, /call/ROOM, /stream.mjpg, /snapshot.jpg, /rooms/ROOM/stream.mjpg, /rooms/ROOM/snapshot.jpg, /api/rooms, /api/stats, /metrics or /healthz")));

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        _app = app;
        _endPoint = BoundEndPoint(app, "http");
        _httpsEndPoint = _options.Https is null ? null : BoundEndPoint(app, "https");
        WebLog.Listening(_logger, _endPoint.ToString());
        _trimming = TrimAfterWavesAsync(_shutdown.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // MJPEG responses never end by themselves: end them first, then let Kestrel stop with nothing in flight.
        await _shutdown.CancelAsync();
        await _trimming;
        await _clients.WhenAllAsync();
        await _sockets.WhenAllAsync();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        _shutdown.Dispose();
    }

    private static IPEndPoint BoundEndPoint(WebApplication app, string scheme)
    {
        IServerAddressesFeature? addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        string address = addresses?.Addresses.FirstOrDefault(a => a.StartsWith(scheme + "://", StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException($"Kestrel reported no {scheme} address.");
        var uri = new Uri(address);
        string host = uri.Host.Trim('[', ']');
        return new IPEndPoint(IPAddress.TryParse(host, out IPAddress? ip) ? ip : IPAddress.Any, uri.Port);
    }

    private static string RouteRoom(HttpContext context) => context.Request.RouteValues["room"] as string ?? "";

    private static AddressKey? AddressOf(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? AddressKey.From(address) : null;

    /// <summary>
    /// Kestrel connection middleware: the total and per-address caps, before a byte of HTTP is parsed. A connection over
    /// either is closed at once (a slowloris wave from one address holds its share, no more).
    /// </summary>
    private ConnectionDelegate AdmitConnection(ConnectionDelegate next) => async connection =>
    {
        AddressKey? key = AddressKey.Of(connection.RemoteEndPoint);
        if (Interlocked.Increment(ref _connections) > _options.MaxConnections)
        {
            Interlocked.Decrement(ref _connections);
            Interlocked.Increment(ref _connectionsEnded);
            _hub.Guards.Refusals.Count(Refusal.ConnectionLimit);
            WebLog.ConnectionRefused(_logger, key?.ToString() ?? "?", $"{_options.MaxConnections} HTTP connections is the limit");
            return;
        }

        if (!_connectionSlots.TryAcquire(key))
        {
            Interlocked.Decrement(ref _connections);
            Interlocked.Increment(ref _connectionsEnded);
            _hub.Guards.Refusals.Count(Refusal.AddressLimit);
            WebLog.ConnectionRefused(_logger, key?.ToString() ?? "?", $"the address holds {_connectionSlots.MaxPerAddress} HTTP connections already");
            return;
        }

        _noRequestYet[connection.ConnectionId] = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await next(connection);
        }
        finally
        {
            // Ended without one complete request after the header timeout: slow or silent headers (Kestrel closed it, or the
            // peer gave up as late), counted as a handshake timeout.
            if (_noRequestYet.TryRemove(connection.ConnectionId, out long admitted)
                && System.Diagnostics.Stopwatch.GetElapsedTime(admitted) >= _options.RequestHeadersTimeout)
            {
                _hub.Guards.Refusals.Count(Refusal.HandshakeTimeout);
            }

            _connectionSlots.Release(key);
            Interlocked.Decrement(ref _connections);
            Interlocked.Increment(ref _connectionsEnded);
        }
    };

    /// <summary>
    /// After a wave of connections has come and gone (a slowloris or slot-hogging attack, a crowd leaving), asks the hub's
    /// <see cref="MemoryReclaimer"/> to give the wave's memory back. The garbage collector runs only when something allocates,
    /// so an idle hub would otherwise keep the wave's memory for a long time. A wave: at least <see cref="WaveConnections"/>
    /// connections ended, or <see cref="WaveOpen"/> fewer open than at the peak, since the last trim; over once fewer than
    /// <see cref="WaveQuiet"/> end in one look. At most once per three looks.
    /// </summary>
    private async Task TrimAfterWavesAsync(CancellationToken stop)
    {
        using var tick = new PeriodicTimer(WaveCheck);
        long seen = Interlocked.Read(ref _connectionsEnded);
        long sinceTrim = 0;
        int peakOpen = 0;
        long lastTrim = Environment.TickCount64;
        try
        {
            while (await tick.WaitForNextTickAsync(stop))
            {
                long ended = Interlocked.Read(ref _connectionsEnded);
                long recent = ended - seen;
                seen = ended;
                sinceTrim += recent;
                int open = ConnectionCount;
                peakOpen = Math.Max(peakOpen, open);
                bool wave = sinceTrim >= WaveConnections || peakOpen - open >= WaveOpen;
                if (!wave || recent >= WaveQuiet || Environment.TickCount64 - lastTrim < 3 * WaveCheck.TotalMilliseconds)
                {
                    continue; // no wave, still going, or trimmed a moment ago
                }

                long size = sinceTrim;
                sinceTrim = 0;
                peakOpen = open;
                lastTrim = Environment.TickCount64;
                _hub.Guards.Memory.RequestCollection($"A wave of {size} HTTP connections");
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    /// <summary>
    /// A WebSocket from a page of another site is refused before the upgrade (a browser sends the page's Origin; any site
    /// could otherwise watch, read the pixels and publish). 403 with a line saying why, for people reading the console.
    /// </summary>
    private async Task CheckOriginAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.WebSockets.IsWebSocketRequest || _origins.Allows(context.Request, out string origin, out string self))
        {
            await next(context);
            return;
        }

        _hub.Guards.Refusals.Count(Refusal.ForbiddenOrigin);
        WebLog.ForbiddenOrigin(_logger, MjpegClient.Describe(context), PrintableText.Of(context.Request.Path.Value ?? ""), PrintableText.Of(origin), self);
        string text = OriginPolicy.Normalize(origin) == OriginPolicy.Normalize(self)
            ? $"forbidden: this page was opened by the name {PrintableText.Of(context.Request.Host.Host)}, which is not one of this server's own "
                + "(its IP addresses, localhost, its host name): a name re-pointed at this server (DNS rebinding) could be anybody's page; "
                + $"open it by address, or the server's owner can allow it with serve --allow-origin {PrintableText.Of(origin)}"
            : $"forbidden: this server's WebSockets are for its own pages ({self}), not for pages of {PrintableText.Of(origin)}; "
                + "the server's owner can allow that site with serve --allow-origin ORIGIN";
        await WriteTextAsync(context, StatusCodes.Status403Forbidden, text);
    }

    /// <summary>
    /// Plain HTTP from another machine goes to HTTPS (secure by default, issue 16): a camera page works only there, and a
    /// token in a page's fragment should not cross the network in the clear. Loopback keeps HTTP (a secure context
    /// already, and what local scripts use); /healthz stays plain for monitors.
    /// </summary>
    private Task RedirectToHttpsAsync(HttpContext context, RequestDelegate next)
    {
        System.Net.IPAddress? remote = context.Connection.RemoteIpAddress;
        if (context.Request.IsHttps || remote is null || System.Net.IPAddress.IsLoopback(remote) || (remote.IsIPv4MappedToIPv6 && System.Net.IPAddress.IsLoopback(remote.MapToIPv4()))
            || HttpsEndPoint is not { } https || context.Request.Path.Equals("/healthz", StringComparison.Ordinal))
        {
            return next(context);
        }

        string host = context.Request.Host.Host;
        if (host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('['))
        {
            host = $"[{host}]";
        }

        context.Response.StatusCode = StatusCodes.Status308PermanentRedirect;
        context.Response.Headers.Location = $"https://{host}:{https.Port}{context.Request.PathBase}{context.Request.Path}{context.Request.QueryString}";
        return Task.CompletedTask;
    }

    private async Task RequireTokenAsync(HttpContext context, RequestDelegate next)
    {
        var access = new AccessPolicy(_options.Token, _options.RoomTokens);
        (bool open, string? room, AccessGrants needed) = NeedOf(context.Request.Path.Value ?? "/");
        if (!access.Required || open)
        {
            context.Items[GrantsItem] = AccessGrants.All;
            await next(context);
            return;
        }

        // Guessing is slowed down per address, with the throttle every transport shares: a blocked address is refused
        // before its token is even looked at.
        AddressKey? key = AddressOf(context);
        FailedAttemptThrottle throttle = _hub.Guards.FailedAttempts;
        if (throttle.IsBlocked(key, out TimeSpan retryAfter))
        {
            _hub.Guards.Refusals.Count(Refusal.Throttled);
            int seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            WebLog.Throttled(_logger, MjpegClient.Describe(context), PrintableText.Of(context.Request.Path.Value ?? ""), seconds);
            string text = $"too many wrong tokens from your address: try again in {seconds} s";
            if (context.WebSockets.IsWebSocketRequest)
            {
                await RefuseSocketAsync(context, WebSocketCloseCodes.Throttled, text);
                return;
            }

            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await WriteTextAsync(context, StatusCodes.Status429TooManyRequests, text);
            return;
        }

        // The first presented token that is allowed wins; otherwise the first one's refusal is the answer.
        AccessDecision? refused = null;
        foreach (string presented in PresentedTokens(context.Request))
        {
            AccessDecision decision = access.Check(presented, room, needed);
            if (decision.Allowed)
            {
                context.Items[GrantsItem] = decision.Grants;
                throttle.RecordSuccess(key);
                await next(context);
                return;
            }

            refused ??= decision;
        }

        _hub.Guards.Refusals.Count(Refusal.Unauthorized);
        if (refused is { Guess: true })
        {
            // Only a wrong or forged token is a guess; a page opened without one (a bookmark) or an expired one is not.
            throttle.RecordFailure(key);
        }

        string why = (refused?.Refusal ?? "this server needs its token")
            + ": open the URL serve printed (it carries #token=…), add ?token=TOKEN, or send 'Authorization: Bearer TOKEN'";
        if (context.WebSockets.IsWebSocketRequest)
        {
            await RefuseSocketAsync(context, WebSocketCloseCodes.Unauthorized, "unauthorized: " + why);
            return;
        }

        WebLog.Unauthorized(_logger, MjpegClient.Describe(context), PrintableText.Of(context.Request.Path.Value ?? ""));
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await WriteTextAsync(context, StatusCodes.Status401Unauthorized, "unauthorized: " + why);
    }

    /// <summary>
    /// What a request needs. Open: the pages, their scripts and /healthz (they hold no secret: a page takes its token
    /// from its URL's #token= and presents it itself) and /v2/ws (its JOIN carries the token, checked like TCP's).
    /// A room's video, snapshot and chat history need subscribe, publishing needs publish, the rest (room list, stats,
    /// metrics) the whole hub (admin).
    /// </summary>
    internal (bool Open, string? Room, AccessGrants Needed) NeedOf(string path)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? Room(int i) => Uri.UnescapeDataString(parts[i]);
        return parts switch
        {
            [] or ["healthz"] or ["favicon.ico"] or ["assets", ..] or ["v2", "ws"] or ["call", _] or ["rooms", _] or ["rooms", _, "publish"] => (true, null, AccessGrants.None),
            ["stream.mjpg"] or ["snapshot.jpg"] => (false, _options.DefaultRoom, AccessGrants.Subscribe),
            ["rooms", _, "ws" or "stream.mjpg" or "snapshot.jpg"] => (false, Room(1), AccessGrants.Subscribe),
            ["rooms", _, "publish", "ws"] => (false, Room(1), AccessGrants.Publish),
            ["api", "rooms", _, "messages"] => (false, Room(2), AccessGrants.Subscribe),
            _ => (false, null, AccessGrants.Admin),
        };
    }

    /// <summary>The request's grants, for what the endpoint then does (a publisher opening a room).</summary>
    private const string GrantsItem = "socketcam.grants";

    /// <summary>The cookie a page keeps its token in (assets/access.js): one per port, as cookies are shared by every port of a host.</summary>
    internal const string TokenCookiePrefix = "socketcam_token";

    /// <summary>Every token the request presents: ?token=, Authorization: Bearer, and the pages' cookies.</summary>
    private static IEnumerable<string> PresentedTokens(HttpRequest request)
    {
        if (request.Query["token"].FirstOrDefault() is { Length: > 0 } query)
        {
            yield return query;
        }

        string? header = request.Headers.Authorization.FirstOrDefault();
        const string Bearer = "Bearer ";
        if (header is not null && header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            yield return header[Bearer.Length..].Trim();
        }

        foreach ((string name, string value) in request.Cookies.Where(c => c.Key.StartsWith(TokenCookiePrefix, StringComparison.Ordinal)).Take(4))
        {
            yield return Uri.UnescapeDataString(value);
        }
    }

    /// <summary>Takes a reference to the room, or answers 400/404 (the caller gives the reference back with LeaveRoom).</summary>
    private async Task<Room?> JoinAsync(HttpContext context, string name)
    {
        if (!RoomName.IsValid(name))
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, InvalidRoomText(name));
            return null;
        }

        Room? room = _hub.TryJoinExistingRoom(name);
        if (room is null)
        {
            await WriteTextAsync(context, StatusCodes.Status404NotFound, UnknownRoomText(name));
        }

        return room;
    }

    private async Task StreamAsync(HttpContext context, string roomName)
    {
        Room? room = await JoinAsync(context, roomName);
        if (room is null)
        {
            return;
        }

        try
        {
            if (room.LatestHeader is { Codec: not CodecId.Jpeg } header)
            {
                await WriteTextAsync(context, StatusCodes.Status409Conflict, NotJpegText(room.Name, header.Codec));
                return;
            }

            if (_clients.Count >= _options.MaxMjpegClients || _shutdown.IsCancellationRequested)
            {
                _hub.Guards.Refusals.Count(Refusal.ConnectionLimit);
                WebLog.TooMany(_logger, MjpegClient.Describe(context), _options.MaxMjpegClients);
                await WriteTextAsync(context, StatusCodes.Status503ServiceUnavailable, $"too many MJPEG clients ({_options.MaxMjpegClients}): try again later");
                return;
            }

            AddressKey? key = AddressOf(context);
            if (!_mjpegSlots.TryAcquire(key))
            {
                _hub.Guards.Refusals.Count(Refusal.AddressLimit);
                WebLog.TooManyFromAddress(_logger, MjpegClient.Describe(context), _mjpegSlots.MaxPerAddress);
                await WriteTextAsync(context, StatusCodes.Status503ServiceUnavailable,
                    $"too many MJPEG streams from your address ({_mjpegSlots.MaxPerAddress}): close one and try again");
                return;
            }

            try
            {
                // Tracked (shutdown awaits it) and served by this request.
                await ServeAsync(_clients, new MjpegClient(context, room, _options, _logger), c => c.RunAsync(_shutdown.Token));
            }
            finally
            {
                _mjpegSlots.Release(key);
            }
        }
        finally
        {
            _hub.LeaveRoom(room);
        }
    }

    /// <summary>A room's page; it is served for rooms that do not exist (yet): the page says so and waits for the room.</summary>
    private Task PageAsync(HttpContext context, string page)
    {
        string name = RouteRoom(context);
        return RoomName.IsValid(name)
            ? _assets.ServeAsync(context, page)
            : WriteTextAsync(context, StatusCodes.Status400BadRequest, InvalidRoomText(name));
    }

    private async Task WatchSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, "this is the watch WebSocket: open /rooms/ROOM in a browser to watch");
            return;
        }

        string name = RouteRoom(context);
        if (!RoomName.IsValid(name))
        {
            await RefuseSocketAsync(context, WebSocketCloseCodes.BadRoomName, InvalidRoomText(name));
            return;
        }

        Room? room = _hub.TryJoinExistingRoom(name);
        if (room is null)
        {
            await RefuseSocketAsync(context, WebSocketCloseCodes.UnknownRoom, UnknownRoomText(name));
            return;
        }

        try
        {
            // H.264 rooms are watched too: as it is by a page that asks for it, as the transcoder's JPEG by the others.
            bool acceptsH264 = string.Equals(context.Request.Query["codec"], "h264", StringComparison.Ordinal);
            if (room.LatestHeader is { Codec: not CodecId.Jpeg and not CodecId.H264 } header)
            {
                await RefuseSocketAsync(context, WebSocketCloseCodes.NotJpegRoom, $"room '{room.Name}' is sent as {header.Codec}; browsers need JPEG (serve --codec jpeg)");
                return;
            }

            AddressKey? key = AddressOf(context);
            if (!await RoomForSocketAsync(context, key))
            {
                return;
            }

            try
            {
                WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
                await ServeAsync(_sockets, new WebSocketWatcher(socket, room, MjpegClient.Describe(context), _options, _logger, acceptsH264), c => ((WebSocketWatcher)c).RunAsync(_shutdown.Token));
            }
            finally
            {
                _socketSlots.Release(key);
            }
        }
        finally
        {
            _hub.LeaveRoom(room);
        }
    }

    /// <summary>
    /// `GET /v2/ws` with the subprotocol `socketcam.v2` (docs/PROTOCOL.md §4.16): a protocol v2 participant (the call page),
    /// the same session a TCP participant runs, over a WebSocket.
    /// </summary>
    private async Task ParticipantSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest || !context.WebSockets.WebSocketRequestedProtocols.Contains(WebSocketParticipantLink.SubProtocol))
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest,
                $"this is the protocol v2 WebSocket: open it with the subprotocol {WebSocketParticipantLink.SubProtocol} (the call page, /call/ROOM, does)");
            return;
        }

        AddressKey? key = AddressOf(context);
        if (!await RoomForSocketAsync(context, key))
        {
            return;
        }

        try
        {
            WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(WebSocketParticipantLink.SubProtocol);
            var link = new WebSocketParticipantLink(socket, _hub.Options.Sessions.MaxFrameBytes);
            using var participant = new HostedParticipant(_hub, link, MjpegClient.Describe(context), key, _shutdown.Token);
            await ServeAsync(_sockets, participant, async p =>
            {
                using var stopPump = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
                Task pump = link.PumpAsync(stopPump.Token);
                try
                {
                    await ((HostedParticipant)p).RunAsync(link.Reader, _shutdown.Token);
                }
                finally
                {
                    // The session closed (and disposed) the link: the pump ends with it.
                    await stopPump.CancelAsync();
                    await pump;
                    await link.Reader.CompleteAsync();
                }
            });
        }
        finally
        {
            _socketSlots.Release(key);
        }
    }

    private async Task PublishSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, "this is the publish WebSocket: open /rooms/ROOM/publish in a browser to publish");
            return;
        }

        string name = RouteRoom(context);
        if (!RoomName.IsValid(name))
        {
            await RefuseSocketAsync(context, WebSocketCloseCodes.BadRoomName, InvalidRoomText(name));
            return;
        }

        AddressKey? key = AddressOf(context);
        if (!await RoomForSocketAsync(context, key))
        {
            return;
        }

        try
        {
            await PublishAsync(context, name, key);
        }
        finally
        {
            _socketSlots.Release(key);
        }
    }

    private async Task PublishAsync(HttpContext context, string name, AddressKey? key)
    {
        // Publishing creates the room, as a native publisher does (if the hub's --rooms and --max-rooms allow).
        Room room;
        try
        {
            room = _hub.OpenRoom(name, context.Items[GrantsItem] as AccessGrants? ?? AccessGrants.All);
        }
        catch (ProtocolException ex)
        {
            await RefuseSocketAsync(context, WebSocketCloseCodes.UnknownRoom, ex.Message);
            return;
        }

        object seat = new();
        try
        {
            if (!room.TryClaimPublisher(seat, "browser", ParticipantTransport.WebSocket, ParticipantFlags.SpeaksV1, new TrackDescription(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "")))
            {
                await RefuseSocketAsync(context, WebSocketCloseCodes.RoomBusy, $"room '{room.Name}' already has a publisher");
                return;
            }

            try
            {
                WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
                var publisher = new WebSocketPublisher(
                    socket, room, MjpegClient.Describe(context), key, _hub.Options.Sessions.MaxFrameBytes, _hub.Options.Sessions.IdleTimeout, _options.SendTimeout, _hub.Guards, _logger);
                await ServeAsync(_sockets, publisher, p => ((WebSocketPublisher)p).RunAsync(_shutdown.Token));
            }
            finally
            {
                // Told before the seat is free, so it cannot land after a new publisher's first frame; on shutdown viewers get GOODBYE instead.
                if (!_shutdown.IsCancellationRequested)
                {
                    room.SetSignal(false, Room.PublisherLeftReason);
                }

                room.ReleasePublisher(seat);
            }
        }
        finally
        {
            _hub.LeaveRoom(room);
        }
    }

    /// <summary>
    /// Whether one more WebSocket may join, taking its address's slot (the caller releases it); otherwise refuses it (4503,
    /// or 1001 while shutting down).
    /// </summary>
    private async Task<bool> RoomForSocketAsync(HttpContext context, AddressKey? key)
    {
        if (_shutdown.IsCancellationRequested)
        {
            await RefuseSocketAsync(context, WebSocketCloseStatus.EndpointUnavailable, "the server is shutting down");
            return false;
        }

        if (_sockets.Count >= _options.MaxWebSocketClients)
        {
            _hub.Guards.Refusals.Count(Refusal.ConnectionLimit);
            await RefuseSocketAsync(context, WebSocketCloseCodes.TooMany, $"too many WebSocket clients ({_options.MaxWebSocketClients}): try again later");
            return false;
        }

        if (!_socketSlots.TryAcquire(key))
        {
            _hub.Guards.Refusals.Count(Refusal.AddressLimit);
            await RefuseSocketAsync(context, WebSocketCloseCodes.TooMany, $"too many WebSockets from your address ({_socketSlots.MaxPerAddress}): close one and try again");
            return false;
        }

        return true;
    }

    /// <summary>Accepts the upgrade only to close it with a code and reason a browser can read (it cannot read an HTTP status).</summary>
    private async Task RefuseSocketAsync(HttpContext context, WebSocketCloseStatus code, string reason)
    {
        WebLog.SocketRefused(_logger, MjpegClient.Describe(context), PrintableText.Of(context.Request.Path.Value ?? ""), (int)code, reason);
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        await WebSocketCloseCodes.RefuseAsync(socket, code, reason, RefuseWait);
    }

    private static string InvalidRoomText(string name) =>
        $"invalid room name '{PrintableText.Of(name)}': use 1-{RoomName.MaxLength} characters from A-Z a-z 0-9 . _ -";

    private string UnknownRoomText(string name)
    {
        string known = string.Join(", ", _hub.Rooms.Select(r => $"'{r.Name}'").Order(StringComparer.Ordinal));
        return $"unknown room '{name}'" + (known.Length > 0 ? $" (rooms: {known})" : " (no rooms yet)");
    }

    private async Task SnapshotAsync(HttpContext context, string roomName)
    {
        Room? room = await JoinAsync(context, roomName);
        if (room is null)
        {
            return;
        }

        try
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _shutdown.Token);
            MediaFrame? frame = await SnapshotWaiter.GetAsync(room, _options.SnapshotWait, wait.Token);
            if (frame is null)
            {
                string why = room.SignalLive ? "the source has not produced one yet" : $"no signal ({room.SignalReason})";
                await WriteTextAsync(context, StatusCodes.Status503ServiceUnavailable,
                    $"room '{room.Name}' has no frame after {_options.SnapshotWait.TotalSeconds:0.#} s: {why}");
                return;
            }

            try
            {
                if (frame.Header.Codec != CodecId.Jpeg)
                {
                    await WriteTextAsync(context, StatusCodes.Status409Conflict, NotJpegText(room.Name, frame.Header.Codec));
                    return;
                }

                context.Response.ContentType = "image/jpeg";
                context.Response.ContentLength = frame.DataLength;
                context.Response.Headers.CacheControl = "no-store";
                long micros = frame.Header.CaptureMicros;
                context.Response.Headers["X-Timestamp"] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{micros / 1_000_000}.{micros % 1_000_000:D6}");
                context.Response.BodyWriter.Write(frame.Data);
            }
            finally
            {
                frame.Release();
            }

            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || _shutdown.IsCancellationRequested)
        {
            // The client or the server left while waiting for a frame.
        }
        finally
        {
            _hub.LeaveRoom(room);
        }
    }

    private static string NotJpegText(string room, CodecId codec) =>
        $"room '{room}' is sent as {codec}, not JPEG: MJPEG and snapshots need a JPEG room (serve --codec jpeg, publish --codec jpeg)";

    /// <summary>
    /// Serves one client inside its request: tracked by <paramref name="set"/> (shutdown awaits it) and listed in the hub's
    /// <see cref="ClientRegistry"/> for as long as it runs.
    /// </summary>
    private Task ServeAsync<T>(ConnectionSet<T> set, T client, Func<T, Task> run)
        where T : IClientStats
    {
        _hub.Clients.Add(client);
        return set.Start(client, run, c => _hub.Clients.Remove(c));
    }

    /// <summary>
    /// Every room: its v1 seat (publisher, signal, newest frame), its v1 viewers by kind, recorders, and its v2 side as
    /// <see cref="Room.DescribeAll"/> gives it (visible participants and their tracks, how many watch unlisted).
    /// </summary>
    private async Task RoomsAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.BodyWriter, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartArray("rooms");
        foreach (Room room in _hub.Rooms.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("name", room.Name);
            json.WriteBoolean("publisher", room.HasPublisher);
            json.WriteBoolean("signal", room.SignalLive);
            if (room.SignalReason is { } reason)
            {
                json.WriteString("reason", reason);
            }

            json.WriteNumber("framesPublished", room.FramesPublished);
            if (room.LatestHeader is { } header)
            {
                json.WriteNumber("width", header.Width);
                json.WriteNumber("height", header.Height);
                json.WriteString("codec", CodecName(header.Codec));
            }

            json.WriteStartObject("viewers");
            foreach (IGrouping<string, string> kind in room.Viewers.Select(ViewerKind).GroupBy(k => k).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                json.WriteNumber(kind.Key, kind.Count());
            }

            json.WriteEndObject();
            json.WriteNumber("recorders", room.RecorderCount);
            WriteParticipants(json, room);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    private static void WriteParticipants(Utf8JsonWriter json, Room room)
    {
        (ParticipantRecord[] participants, TrackRecord[] tracks, uint hidden) = room.DescribeAll();
        json.WriteNumber("hiddenWatchers", hidden);
        json.WriteStartArray("participants");
        foreach (ParticipantRecord p in participants)
        {
            json.WriteStartObject();
            json.WriteNumber("id", p.ParticipantId);
            json.WriteString("name", p.Name);
            json.WriteString("transport", p.Transport.ToString().ToLowerInvariant());
            json.WriteString("joinedAt", DateTimeOffset.FromUnixTimeMilliseconds(p.JoinedAtMicros / 1000));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("tracks");
        foreach (TrackRecord t in tracks)
        {
            TrackDescription d = t.Description;
            json.WriteStartObject();
            json.WriteNumber("participant", t.ParticipantId);
            json.WriteNumber("id", d.TrackId);
            json.WriteString("kind", d.Kind == TrackKind.Audio ? "audio" : "video");
            json.WriteString("codec", CodecIds.Name(d.Codec));
            json.WriteString("name", d.Name);
            if (d.Kind == TrackKind.Audio)
            {
                json.WriteNumber("channels", d.A);
                json.WriteNumber("sampleRate", d.Rate);
            }
            else
            {
                json.WriteNumber("width", d.A);
                json.WriteNumber("height", d.B);
            }

            json.WriteString("state", t.Live ? "live" : "no-signal");
            if (!t.Live)
            {
                json.WriteString("reason", t.Text);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>Every client of every transport, from the hub's registry.</summary>
    internal IReadOnlyList<IClientStats> AllClients() => _hub.Clients.Snapshot();

    /// <summary>
    /// `GET /api/rooms/ROOM/messages?after=SEQ&amp;limit=N` (docs/CHAT.md): a room's stored chat after a sequence number,
    /// oldest first, at most N (default 100, at most 1000); `next` is the `after` of the following page. For tools; the text
    /// is JSON-escaped text, never markup.
    /// </summary>
    private async Task MessagesAsync(HttpContext context)
    {
        string name = RouteRoom(context);
        if (!RoomName.IsValid(name))
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, InvalidRoomText(name));
            return;
        }

        if (_hub.Chat is not { } chat)
        {
            await WriteTextAsync(context, StatusCodes.Status404NotFound, "this hub keeps no chat (serve --data off)");
            return;
        }

        if (!TryQueryNumber(context, "after", 0, long.MaxValue, 0, out long after) || !TryQueryNumber(context, "limit", 1, MaxMessagesPerPage, 100, out long limit))
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, $"after takes a chat sequence number (0 or more), limit 1..{MaxMessagesPerPage}");
            return;
        }

        IReadOnlyList<ChatMessage> messages;
        ulong last;
        try
        {
            messages = chat.ReadAfter(name, (ulong)after, (int)limit);
            last = chat.LastSequence(name);
        }
        catch (IOException ex)
        {
            await WriteTextAsync(context, StatusCodes.Status503ServiceUnavailable, ex.Message);
            return;
        }

        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.BodyWriter, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("room", name);
        json.WriteString("store", chat.StoreId.ToString("x16", CultureInfo.InvariantCulture));
        json.WriteNumber("last", last);
        json.WriteNumber("next", messages.Count > 0 ? messages[^1].Seq : (ulong)after);
        json.WriteStartArray("messages");
        foreach (ChatMessage m in messages)
        {
            json.WriteStartObject();
            json.WriteNumber("seq", m.Seq);
            json.WriteString("time", m.SentAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            json.WriteNumber("time_us", m.SentAtMicros);
            json.WriteNumber("participant", m.ParticipantId);
            json.WriteString("name", m.Name);
            json.WriteString("text", m.Text);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private const int MaxMessagesPerPage = 1000;

    private static bool TryQueryNumber(HttpContext context, string key, long min, long max, long fallback, out long value)
    {
        value = fallback;
        if (!context.Request.Query.TryGetValue(key, out Microsoft.Extensions.Primitives.StringValues text))
        {
            return true;
        }

        return long.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }

    private async Task StatsAsync(HttpContext context)
    {
        IReadOnlyList<IClientStats> clients = AllClients();
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.BodyWriter, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteNumber("framesPublished", _hub.FramesPublished);
        json.WriteNumber("rooms", _hub.Rooms.Count());
        json.WriteNumber("fpsWindowSeconds", RateMeter.Window.TotalSeconds);
        json.WriteStartArray("clients");
        foreach (IClientStats client in clients.OrderBy(c => ClientKinds.Label(c.Kind), StringComparer.Ordinal).ThenBy(c => c.Remote, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("kind", ClientKinds.Label(client.Kind));
            json.WriteString("remote", client.Remote);
            if (client.RoomName is { } room)
            {
                json.WriteString("room", room);
            }

            json.WriteNumber("framesSent", client.FramesSent);
            json.WriteNumber("framesDropped", client.FramesDropped);
            json.WriteNumber("bytesSent", client.BytesSent);
            json.WriteNumber("fps", Math.Round(client.SendFps, 1));
            long latency = client.LastLatencyMicros;
            if (latency >= 0)
            {
                json.WriteNumber("latencyMs", Math.Round(latency / 1000.0, 1));
            }

            if (client.Received is not null)
            {
                json.WriteNumber("framesReceived", client.FramesReceived);
                json.WriteNumber("bytesReceived", client.BytesReceived);
                json.WriteNumber("receiveFps", Math.Round(client.ReceiveFps, 1));
            }

            (client as WebSocketWatcher)?.Page?.Write(json);

            json.WriteEndObject();
        }

        json.WriteEndArray();

        ServerGuards guards = _hub.Guards;
        MemoryFigures memory = MemoryFigures.Now(guards);
        json.WriteStartObject("memory");
        json.WriteNumber("workingSetBytes", memory.WorkingSetBytes);
        json.WriteNumber("gcHeapBytes", memory.GcHeapBytes);
        json.WriteNumber("gcCommittedBytes", memory.GcCommittedBytes);
        json.WriteNumber("framesInFlightBytes", memory.FramesInFlightBytes);
        json.WriteNumber("reassemblyBytes", memory.ReassemblyBytes);
        if (_options.RecordingBytes is { } recording)
        {
            json.WriteNumber("recordingBytes", recording());
        }

        json.WriteEndObject();
        json.WriteStartObject("refusals");
        foreach (Refusal reason in Enum.GetValues<Refusal>())
        {
            json.WriteNumber(RefusalCounters.Label(reason), guards.Refusals[reason]);
        }

        json.WriteEndObject();
        json.WriteStartObject("limits");
        json.WriteNumber("httpConnections", ConnectionCount);
        json.WriteNumber("maxHttpConnections", _options.MaxConnections);
        json.WriteNumber("maxHttpConnectionsPerAddress", _connectionSlots.MaxPerAddress);
        json.WriteNumber("maxStreamsPerAddress", _mjpegSlots.MaxPerAddress);
        json.WriteNumber("framesInFlightBudgetBytes", guards.FramesInFlight.Total);
        json.WriteNumber("framesInFlightPeakBytes", guards.FramesInFlight.Peak);
        json.WriteNumber("reassemblyBudgetBytes", guards.Reassembly.Total);
        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    /// <summary>A v1 viewer's kind for `/api/rooms` ("native" for TCP/Unix; "other" for one that is no client: a preview, a snapshot).</summary>
    private static string ViewerKind(IRoomViewer viewer) => viewer switch
    {
        IClientStats { Kind: ClientKind.Viewer } => "native",
        IClientStats stats => ClientKinds.Label(stats.Kind),
        _ => "other",
    };

    private static string CodecName(CodecId codec) => codec switch
    {
        CodecId.Jpeg => "jpeg",
        CodecId.RawBgr24 => "raw",
        _ => codec.ToString(),
    };

    private static Task WriteTextAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = TextPlain;
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(text + "\n", context.RequestAborted);
    }

    /// <summary>The process (the CLI, a test) decides when to stop: no Ctrl+C handling, no "Application started" lines.</summary>
    private sealed class HostedByCaller : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
