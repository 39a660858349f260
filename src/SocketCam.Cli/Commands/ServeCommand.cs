using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Cli.Output;
using SocketCam.Chat;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Recording;
using SocketCam.Seed;
using SocketCam.Sources;
using SocketCam.Transport;
using SocketCam.Web;
using SocketCam.Web.Hosting;

namespace SocketCam.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen", "-l")
        {
            HelpName = "HOST:PORT|off",
            Description = "TCP address to listen on; off: no TCP listener (with --unix: serve on the Unix socket only)",
            DefaultValueFactory = _ => "0.0.0.0:9999",
        };
        var unix = new Option<string?>("--unix")
        {
            HelpName = "PATH",
            Description = "Also listen on a Unix domain socket at PATH (same protocol; its file permissions decide who may connect)",
        };
        var sources = new SourceOptionSet(SourceFactory.AutoSpec);
        sources.Source.Description += "; none: publishers only";
        var codec = CommonOptions.Codec();
        sources.Codec = codec;
        var subsampling = CommonOptions.Subsampling();
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var maxFrame = CommonOptions.MaxFrameBytes();
        var record = new Option<string?>("--record")
        {
            HelpName = "DIR",
            Description = "Record every room into DIR, one file per room, rotated by size and duration (see docs/RECORDING.md)",
        };
        var recordFormat = new Option<RecordingFormat>("--record-format")
        {
            HelpName = "mjpeg|mkv|mp4",
            Description = "Format of --record files: mjpeg (crash-safe; the default), mkv or mp4 (both through ffmpeg)",
            CustomParser = r =>
            {
                if (!RecordingFormats.TryParse(r.Tokens[0].Value, out RecordingFormat format))
                {
                    r.AddError($"Unknown --record-format '{r.Tokens[0].Value}': use mjpeg, mkv or mp4.");
                    return default;
                }

                return format;
            },
        };
        var recordMaxSize = CommonOptions.ByteSize("--record-max-size", "Start a new --record file before one grows past SIZE (e.g. 500M, 2G; 0 = no limit; default 1G)");
        var recordMaxDuration = CommonOptions.Duration("--record-max-duration", "Start a new --record file once one spans DURATION of video (e.g. 90s, 10m, 1h; 0 = no limit; default 1h)");
        var recordMaxTotal = CommonOptions.ByteSize("--record-max-total", "Stop recording once --record's directory would pass SIZE, e.g. 50G (default 0: no cap)");
        var recordMinFree = CommonOptions.ByteSize("--record-min-free", "Stop recording while the disk has less than SIZE free; resumes when space is freed (default 1G; 0 = no margin)");
        var maxPerAddress = new Option<int?>("--max-connections-per-address")
        {
            HelpName = "N",
            Description = "Connections one IP address may hold on each listener (default 64; 0 = no cap; see docs/LIMITS.md)",
        };
        var maxPublishFps = new Option<double?>("--max-publish-fps")
        {
            HelpName = "FPS",
            Description = "Frames per second one remote publisher may send; more are dropped (default: no cap)",
        };
        var maxPublishBitrate = new Option<double?>("--max-publish-bitrate")
        {
            HelpName = "BITS/S",
            Description = "Bits per second one remote publisher may send, e.g. 20M; more frames are dropped (default: no cap)",
            CustomParser = r =>
            {
                if (!CommonOptions.TryParseBitrate(r.Tokens[0].Value, out double bits))
                {
                    r.AddError($"--max-publish-bitrate '{r.Tokens[0].Value}' is invalid: use a rate such as 8M or 500k (bits per second), or 0 for no cap.");
                    return default;
                }

                return bits;
            },
        };
        var roomDefaults = new RoomLimits();
        var maxParticipants = CommonOptions.Range(new Option<int>("--max-participants")
        {
            HelpName = "N",
            Description = "Participants one room may hold (see docs/LIMITS.md)",
            DefaultValueFactory = _ => roomDefaults.MaxParticipants,
        }, 1, ushort.MaxValue);
        var maxTracks = CommonOptions.Range(new Option<int>("--max-tracks")
        {
            HelpName = "N",
            Description = "Tracks one participant may publish at once (camera, screen, mic...)",
            DefaultValueFactory = _ => roomDefaults.MaxTracks,
        }, 1, ushort.MaxValue);
        var maxSubscriptions = CommonOptions.Range(new Option<int>("--max-subscriptions")
        {
            HelpName = "N",
            Description = "Subscriptions one participant may hold (see docs/LIMITS.md)",
            DefaultValueFactory = _ => roomDefaults.MaxSubscriptions,
        }, 1, ushort.MaxValue);
        var maxRequests = CommonOptions.Range(new Option<int>("--max-requests-per-second")
        {
            HelpName = "N",
            Description = "Requests one participant may make per second (bursts of 4 s worth); beyond that it is cut off",
            DefaultValueFactory = _ => roomDefaults.RequestsPerSecond,
        }, 1, ushort.MaxValue / 4);
        var chatDefaults = new ChatOptions();
        var data = new Option<string>("--data")
        {
            HelpName = "DIR|off",
            Description = $"Where the rooms' chat is kept (DIR/chat.db, SQLite; see docs/CHAT.md); off: no chat",
            DefaultValueFactory = _ => chatDefaults.Directory,
        };
        var chatHistory = CommonOptions.Range(new Option<int>("--chat-history")
        {
            HelpName = "N",
            Description = "Chat messages a newcomer is shown on joining",
            DefaultValueFactory = _ => chatDefaults.HistoryOnJoin,
        }, 0, 1000);
        var chatRate = new Option<double>("--chat-rate")
        {
            HelpName = "N",
            Description = $"Chat messages one participant may send per second, with bursts of {chatDefaults.Burst}; more are refused with a reason",
            DefaultValueFactory = _ => chatDefaults.RatePerSecond,
        };
        var https = new Option<string>("--https")
        {
            HelpName = "HOST:PORT|off",
            Description = "Also serve the pages over HTTPS (phones need it for cameras); auto: port 8443 beside --http (see docs/SECURITY.md)",
            DefaultValueFactory = _ => DefaultHttps,
        };
        var tlsOn = new Option<bool>("--tls")
        {
            Description = "Use TLS on the --listen port (clients connect with tls://; the banner prints the fingerprint; see docs/SECURITY.md)",
        };
        var cert = new Option<string?>("--cert") { HelpName = "FILE", Description = "--https and --tls with your certificate (PEM; with --key)" };
        var key = new Option<string?>("--key") { HelpName = "FILE", Description = "The private key (PEM) of --cert" };
        var seedTcp = new Option<string?>("--seed-tcp")
        {
            HelpName = "HOST:PORT",
            Description = "Also serve the room to the Python tutorial's client, in its pickle format (8-byte length + pickle); see docs/SEED-COMPAT.md",
        };
        var seedRoom = new Option<string?>("--seed-room") { HelpName = "ROOM", Description = "The room --seed-tcp's clients watch (default: --room)" };
        var http = new Option<string>("--http")
        {
            HelpName = "HOST:PORT|off",
            Description = "Also serve HTTP here: pages for browsers, MJPEG, snapshots, API (see docs/HTTP.md); off: none",
            DefaultValueFactory = _ => DefaultHttp,
        };
        var allowOrigin = new Option<string[]>("--allow-origin")
        {
            HelpName = "ORIGIN",
            Description = "Let pages of another site (e.g. http://localhost:3000; * for any) use the WebSockets; repeatable (see docs/HTTP.md)",
        };
        var udp = new Option<string?>("--udp")
        {
            HelpName = "HOST:PORT|off",
            Description = "Also serve video over UDP here, with loss recovery (default: --listen's address; off: none; see docs/PROTOCOL.md)",
        };
        var open = new Option<bool>("--open")
        {
            Description = "Ask for no token even beyond loopback: anyone who reaches the ports may watch, publish and chat (see docs/SECURITY.md)",
        };
        var tokenKey = new Option<string?>("--token-key")
        {
            HelpName = "FILE",
            Description = "Check signed room tokens (socketcam token --key-file) with this key instead of DATA/token.key",
        };
        var rooms = new Option<string?>("--rooms")
        {
            HelpName = "LIST",
            Description = "The only rooms peers may open, e.g. main,team (default: any); another needs a token with the create grant",
        };
        rooms.Validators.Add(v =>
        {
            if (v.GetValueOrDefault<string?>() is { } list && list.Split(',', StringSplitOptions.TrimEntries).FirstOrDefault(n => !Protocol.RoomName.IsValid(n)) is { } bad)
            {
                v.AddError($"--rooms: invalid room name '{Protocol.PrintableText.Of(bad)}': use 1-{Protocol.RoomName.MaxLength} characters from A-Z a-z 0-9 . _ -");
            }
        });
        var maxRooms = CommonOptions.Range(new Option<int>("--max-rooms")
        {
            HelpName = "N",
            Description = "Most rooms open at once; one more is refused (room_limit in /metrics)",
            DefaultValueFactory = _ => new HubOptions().MaxRooms,
        }, 1, 100_000);
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var preview = CommandWindow.PreviewOption();
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("serve", "Run the hub: capture into a room and serve it to viewers; publishers can feed other rooms")
        {
            listen, unix, sources.Source, sources.Loop, sources.NoPassthrough, sources.Size, sources.Fps, codec, sources.Quality, subsampling, sources.Bitrate, sources.KeyframeInterval, sources.IntraRefresh, room, token, maxFrame, record, recordFormat, recordMaxSize, recordMaxDuration, recordMaxTotal, recordMinFree, maxPerAddress, maxPublishFps, maxPublishBitrate, maxParticipants, maxTracks, maxSubscriptions, maxRequests, data, chatHistory, chatRate, https, tlsOn, cert, key, seedTcp, seedRoom, http, allowOrigin, udp, open, tokenKey, rooms, maxRooms, quiet, preview, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token2) =>
        {
            if (r.GetValue(preview))
            {
                CommandWindow.RequireDisplay("serve --preview", "leave out --preview (watch with `socketcam view` elsewhere)");
            }

            string? unixPath = r.GetValue(unix) is { } unixText ? ParseUnixPath(unixText) : null;
            bool tcpOff = IsOff(r.GetValue(listen)!);
            if (tcpOff && unixPath is null)
            {
                throw new ArgumentException("--listen off leaves no way in: add --unix PATH, or give --listen HOST:PORT.");
            }

            bool tls = r.GetValue(tlsOn);
            if (tls && tcpOff)
            {
                throw new ArgumentException("--tls puts TLS on the --listen port: give --listen HOST:PORT (a Unix socket stays plaintext).");
            }

            if (!IsOff(r.GetValue(data)!))
            {
                RequireDataDirectory(r.GetValue(data)!);
            }

            // One certificate for --https and --tls (the fingerprint users compare is the same), made or read once if needed.
            Web.Tls.ServerCertificate? shared = null;
            Web.Tls.ServerCertificate Certificate() => shared ??= CertificateFrom(r.GetValue(cert), r.GetValue(key), r.GetValue(data)!);
            string roomName = r.GetValue(room)!;
            // UDP follows --listen unless told otherwise (with --listen off: no UDP either; with --tls: no plaintext
            // datagrams beside the encrypted port unless --udp asks for them).
            string udpAddress = r.GetValue(udp) ?? (tcpOff || tls ? "off" : r.GetValue(listen)!);
            // HTTP follows --listen's address unless told otherwise: `--listen 127.0.0.1:9999` keeps the whole hub on loopback.
            string httpAddress = r.GetResult(http) is null or { Implicit: true } && !tcpOff ? ListenHostOf(r.GetValue(listen)!) + ":8080" : r.GetValue(http)!;
            var options = new HostOptions
            {
                Tcp = tcpOff ? null : new TcpOptions { EndPoint = await ParseListenAsync(r.GetValue(listen)!, token2), Certificate = tls ? Certificate().Certificate : null },
                Unix = unixPath is null ? null : new UnixOptions { Path = unixPath },
                // A default address already in use (another serve, another program) only costs UDP or HTTP: serve runs without it.
                Udp = IsOff(udpAddress) ? null : new UdpOptions { EndPoint = await ParseListenAsync(udpAddress, token2), SkipIfAddressInUse = r.GetValue(udp) is null },
                Sessions = new SessionOptions { MaxFrameBytes = r.GetValue(maxFrame) },
                FixedRooms = r.GetValue(rooms)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                MaxRooms = r.GetValue(maxRooms),
                Limits = LimitsFrom(r.GetValue(maxPerAddress), r.GetValue(maxPublishFps), r.GetValue(maxPublishBitrate)),
                Rooms = roomDefaults with
                {
                    MaxParticipants = r.GetValue(maxParticipants),
                    MaxTracks = r.GetValue(maxTracks),
                    MaxSubscriptions = r.GetValue(maxSubscriptions),
                    RequestsPerSecond = r.GetValue(maxRequests),
                    RequestBurst = 4 * r.GetValue(maxRequests),
                },
                Chat = IsOff(r.GetValue(data)!) ? null : ChatFrom(r.GetValue(data)!, r.GetValue(chatHistory), r.GetValue(chatRate)),
                Seed = r.GetValue(seedTcp) is { } seedAddress ? await SeedFromAsync(seedAddress, r.GetValue(seedRoom) ?? roomName, token2) : null,
                Http = IsOff(httpAddress) ? null : new HttpOptions
                {
                    EndPoint = await ParseListenAsync(httpAddress, token2),
                    DefaultRoom = roomName,
                    AllowedOrigins = r.GetValue(allowOrigin) ?? [],
                    SkipIfAddressInUse = r.GetResult(http) is null or { Implicit: true },
                    Https = await HttpsFromAsync(r.GetResult(https) is null or { Implicit: true }, r.GetValue(https)!, httpAddress, r.GetValue(cert) is not null, !IsOff(r.GetValue(data)!), Certificate, token2),
                },
                Recording = r.GetValue(record) is { } recordDirectory
                    ? new RecordingDirectoryOptions
                    {
                        Directory = recordDirectory,
                        Format = r.GetValue(recordFormat),
                        Files = RecordingFrom(r.GetValue(recordMaxSize), r.GetValue(recordMaxDuration), r.GetValue(recordMaxTotal), r.GetValue(recordMinFree)),
                    }
                    : null,
            };

            ServeAccess access = ServeAccess.Decide(options, r.GetValue(token), r.GetValue(open), IsOff(r.GetValue(data)!) ? null : r.GetValue(data), r.GetValue(tokenKey));
            options = options with { Sessions = options.Sessions with { Token = access.Token, RoomTokens = access.RoomTokens } };
            if (!string.Equals(r.GetValue(sources.Source)!, "none", StringComparison.OrdinalIgnoreCase))
            {
                IFrameEncoder encoder = sources.CreateEncoder(r, codec, subsampling);
                try
                {
                    (IFrameSource frameSource, string? note) = await sources.OpenAsync(r, options.Sessions.MaxFrameBytes, loggers, token2);
                    if (note is not null)
                    {
                        Console.WriteLine("socketcam: " + note);
                    }

                    options = options with { Captures = [new HostCapture { Room = roomName, Source = new CaptureSource(frameSource, encoder, SourceOptionSet.TrackSourceOf(r.GetValue(sources.Source)!)) }] };
                }
                catch
                {
                    encoder.Dispose();
                    throw;
                }
            }

            // The host owns the capture from here: disposing it stops everything, finishes the recordings and closes the source.
            var host = new SocketCamHost(options, loggers);
            try
            {
                return await RunAsync(host, roomName, access, r.GetValue(quiet), r.GetValue(preview), loggers, token2);
            }
            finally
            {
                await host.DisposeAsync();
                if (host.Recording is { } recording)
                {
                    PrintRecordingSummary(recording);
                }
            }
        }));
        return command;
    }

    private static async Task<int> RunAsync(SocketCamHost host, string roomName, ServeAccess access, bool quiet, bool preview, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        // The preview window stops the server when it is closed, like Ctrl+C.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancellationToken = stop.Token;
        await host.StartAsync(cancellationToken);
        await WarnOfSkippedAsync(host);
        HubServer hub = host.Hub;
        SeedServer? seed = host.Seed;
        HttpServer? web = host.Http;
        RecordingDirectory? recording = host.Recording;
        HostCapture? capture = host.Options.Captures.FirstOrDefault();
        PrintBanner(hub, roomName, capture?.Source.Frames, capture?.Source.Encoder.Codec ?? default, access, recording, seed, web);
        using CommandWindow? window = preview ? await CommandWindow.ForRoomAsync(hub, roomName, stop, loggers) : null;

        long lastFrames = 0;
        var sent = new LiveStats.CounterRate();
        var stats = new LiveStats(
            interval =>
            {
                long frames = hub.FramesPublished;
                // Sent to every client of every transport (the hub's registry), those that left included.
                long bytes = hub.Clients.BytesSent;
                // Every kind of viewer is a room viewer: native (TCP, Unix, UDP), seed, MJPEG, WebSocket, a preview window.
                int viewers = hub.Rooms.Sum(r => r.ViewerCount);
                string line = string.Create(CultureInfo.InvariantCulture, $"{hub.Rooms.Count()} room(s), {viewers} viewer(s), {(frames - lastFrames) / interval.TotalSeconds:0.0} fps in ({frames} frames), {LiveStats.Rate(sent.PerSecond(bytes, interval))} out");
                if (recording is not null)
                {
                    line += string.Create(CultureInfo.InvariantCulture, $", recorded {recording.FramesRecorded} frames ({LiveStats.Size(recording.BytesRecorded)})");
                    if (recording.Quota.StoppedReason is not null)
                    {
                        line += ", recording stopped (see the log)";
                    }
                }

                lastFrames = frames;
                return line;
            },
            quiet);
        Task status = stats.RunAsync(cancellationToken);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("\nShutting down...");
        }

        await status;
        return window?.ExitCode(0) ?? 0;
    }

    private const string DefaultHttp = "0.0.0.0:8080";

    private static Limits.LimitOptions LimitsFrom(int? maxPerAddress, double? maxPublishFps, double? maxPublishBitrate)
    {
        var defaults = new Limits.LimitOptions();
        if (maxPerAddress < 0 || maxPublishFps < 0 || maxPublishBitrate < 0)
        {
            throw new ArgumentException("--max-connections-per-address, --max-publish-fps and --max-publish-bitrate take 0 (no cap) or more.");
        }

        return defaults with
        {
            MaxConnectionsPerAddress = maxPerAddress ?? defaults.MaxConnectionsPerAddress,
            MaxPublishFps = maxPublishFps ?? defaults.MaxPublishFps,
            MaxPublishBitrate = maxPublishBitrate ?? defaults.MaxPublishBitrate,
        };
    }

    /// <summary>--cert/--key, else the certificate kept in the data directory (the per-user one when chat is off).</summary>
    private const string DefaultHttps = "auto";

    /// <summary>
    /// `--https`: off, HOST:PORT, or by default (secure by default, issue 16) port 8443 beside HTTP with the certificate of
    /// --cert/--key or the data directory's; none with --data off and no --cert, or when that port is taken (said in one line).
    /// </summary>
    private static async Task<HttpsOptions?> HttpsFromAsync(bool implicitDefault, string text, string httpAddress, bool ownCertificate, bool dataOn, Func<Web.Tls.ServerCertificate> certificate, CancellationToken cancellationToken)
    {
        if (IsOff(text) || (implicitDefault && !dataOn && !ownCertificate))
        {
            return null;
        }

        if (!implicitDefault && text != DefaultHttps)
        {
            return new HttpsOptions(await ParseListenAsync(text, cancellationToken), certificate());
        }

        IPEndPoint endPoint = await ParseListenAsync(ListenHostOf(httpAddress) + ":8443", cancellationToken);
        try
        {
            using var probe = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(endPoint);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            Console.WriteLine($"socketcam: {endPoint} is taken: serving without HTTPS (--https HOST:PORT picks another port)");
            return null;
        }

        return new HttpsOptions(endPoint, certificate());
    }

    private static Web.Tls.ServerCertificate CertificateFrom(string? certFile, string? keyFile, string data)
    {
        if ((certFile is null) != (keyFile is null))
        {
            throw new ArgumentException("--cert and --key go together: the certificate and its private key, both PEM.");
        }

        return certFile is not null
            ? Web.Tls.ServerCertificate.FromFiles(certFile, keyFile!)
            : Web.Tls.ServerCertificate.LoadOrCreate(IsOff(data) ? new ChatOptions().Directory : data);
    }

    private static ChatOptions ChatFrom(string directory, int history, double rate)
    {
        if (rate is <= 0 or > 1000 || double.IsNaN(rate))
        {
            throw new ArgumentException("--chat-rate takes messages per second above 0 (e.g. 2 or 0.5), at most 1000.");
        }

        return new ChatOptions { Directory = directory, HistoryOnJoin = history, RatePerSecond = rate };
    }

    private static RecordingOptions RecordingFrom(long? maxSize, TimeSpan? maxDuration, long? maxTotal, long? minFree)
    {
        var defaults = new RecordingOptions();
        return defaults with
        {
            MaxFileBytes = maxSize ?? defaults.MaxFileBytes,
            MaxFileDuration = maxDuration ?? defaults.MaxFileDuration,
            MaxDirectoryBytes = maxTotal ?? defaults.MaxDirectoryBytes,
            MinFreeBytes = minFree ?? defaults.MinFreeBytes,
        };
    }

    private static async Task<SeedOptions> SeedFromAsync(string address, string room, CancellationToken cancellationToken)
    {
        Protocol.RoomName.Validate(room);
        return new SeedOptions { EndPoint = await ParseListenAsync(address, cancellationToken), Room = room };
    }

    /// <summary>The data directory made (or found) before anything is kept there, so a bad one is one line naming the flag.</summary>
    private static void RequireDataDirectory(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot use {directory} as the data directory (the chat store, token key and certificate are kept there): {ex.Message} Choose another with --data DIR, or --data off.", ex);
        }
    }

    private static bool IsOff(string address) => string.Equals(address, "off", StringComparison.OrdinalIgnoreCase);

    /// <summary>A default UDP or HTTP address already in use only costs that transport (the host ran without it): say so.</summary>
    private static async Task WarnOfSkippedAsync(SocketCamHost host)
    {
        if (host.Options.Udp is { } udp && host.Hub.UdpEndPoint is null)
        {
            await Console.Error.WriteLineAsync($"socketcam: warning: UDP port {udp.EndPoint.Port} is already in use: running without UDP (pick a free one with --udp HOST:PORT, or --udp off).");
        }

        if (host.Options.Http is { } http && host.Http is null)
        {
            await Console.Error.WriteLineAsync($"socketcam: warning: HTTP port {http.EndPoint.Port} is already in use: running without HTTP (pick a free one with --http HOST:PORT, or --http off).");
        }
    }

    /// <summary>--unix takes a path (absolute or relative) or, as view and publish write it, unix:///PATH.</summary>
    private static string ParseUnixPath(string text) =>
        (text.StartsWith(StreamEndpoint.UnixScheme + ":", StringComparison.OrdinalIgnoreCase)
            ? StreamEndpoint.Parse(text, 1, null, null, [StreamEndpoint.UnixScheme])
            : StreamEndpoint.Unix(text)).Host;

    /// <summary>"127.0.0.1:9999" → "127.0.0.1", "[::1]:9999" → "[::1]", "tcp://host:1" → "host".</summary>
    private static string ListenHostOf(string listen)
    {
        StreamEndpoint endpoint = StreamEndpoint.Parse(listen.Contains("://", StringComparison.Ordinal) ? listen : "tcp://" + listen, 0, "tcp", StreamEndpoint.DefaultPort, ["tcp"]);
        return endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]" : endpoint.Host;
    }

    private static async Task<IPEndPoint> ParseListenAsync(string text, CancellationToken cancellationToken)
    {
        StreamEndpoint endpoint = StreamEndpoint.Parse(text.Contains("://", StringComparison.Ordinal) ? text : "tcp://" + text, 0, "tcp", StreamEndpoint.DefaultPort, ["tcp"]);
        if (endpoint.Host is "*" or "0.0.0.0")
        {
            return new IPEndPoint(IPAddress.Any, endpoint.Port);
        }

        return await endpoint.ResolveAsync(cancellationToken);
    }

    private static void PrintRecordingSummary(RecordingDirectory recording)
    {
        IReadOnlyList<string> files = recording.Files;
        long audio = recording.AudioPacketsRecorded;
        Console.Error.WriteLine($"recorded {recording.FramesRecorded} frames in {files.Count} file(s) ({LiveStats.Size(recording.BytesRecorded)}) to {recording.FullPath}"
            + (audio > 0 ? $", with {audio} audio packets" : ""));
        if (recording.Quota.FramesNotRecorded > 0)
        {
            Console.Error.WriteLine($"socketcam: {recording.Quota.FramesNotRecorded} frames were not recorded: --record-max-total or --record-min-free was reached");
        }

        foreach (Exception failure in recording.Failures)
        {
            Console.Error.WriteLine($"socketcam: a recording stopped early: {failure.Message}");
        }
    }

    private static void PrintBanner(HubServer hub, string room, IFrameSource? source, CodecId codec, ServeAccess access, RecordingDirectory? recording, SeedServer? seed, HttpServer? web)
    {
        string roomArg = room == Protocol.RoomName.Default ? "" : $" --room {room}";
        bool needsToken = access.Token is not null;
        string tokenArg = needsToken ? $" --token {access.Shown}" : "";
        IPEndPoint? bound = hub.HasTcpListener ? hub.TcpEndPoint : null;
        string? unixUrl = hub.UnixSocketPath is { } unixPath ? StreamEndpoint.Unix(unixPath).ToString() : null;
        // With --tls every tcp line becomes tls:// with the pin, ready to paste (--ca FILE works as well).
        string scheme = hub.TcpIsTls ? "tls" : "tcp";
        string? fingerprint = hub.Options.Tcp?.Certificate?.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
        string pinArg = hub.TcpIsTls ? $" --fingerprint {fingerprint}" : "";
        if (bound is not null)
        {
            Console.WriteLine($"SocketCam hub listening on {scheme}://{bound}" + (hub.TcpIsTls ? " (TLS 1.2/1.3)" : ""));
            if (hub.TcpIsTls)
            {
                Console.WriteLine($"  certificate SHA-256 {Client.TlsClientOptions.WithColons(fingerprint!)} (clients pin it with --fingerprint, or trust its CA with --ca FILE)");
            }
        }

        if (unixUrl is not null)
        {
            Console.WriteLine($"SocketCam hub listening on {unixUrl}");
        }

        Console.WriteLine(source is null
            ? "  no local source: rooms are fed by `socketcam publish`"
            : $"  room '{room}': {source.Description}, sent as {CommonOptions.CodecName(codec)}");
        Console.WriteLine("  watch it with:");
        foreach (IPAddress address in bound is null ? [] : ReachableAddresses(bound))
        {
            Console.WriteLine($"    socketcam view {scheme}://{FormatHost(address)}:{bound!.Port}{pinArg}{roomArg}{tokenArg}");
        }

        if (unixUrl is not null)
        {
            Console.WriteLine($"    socketcam view {unixUrl}{roomArg}{tokenArg}");
        }

        if (hub.UdpEndPoint is { } udpBound)
        {
            Console.WriteLine($"SocketCam UDP listening on udp://{udpBound}");
            foreach (IPAddress address in ReachableAddresses(udpBound))
            {
                Console.WriteLine($"    socketcam view udp://{FormatHost(address)}:{udpBound.Port}{roomArg}{tokenArg}");
            }

            // Encrypted UDP takes its keys over the TLS port: the address to give is that port's.
            if (bound is not null && hub.TcpIsTls)
            {
                Console.WriteLine("  encrypted UDP (keys over TLS, every datagram sealed; udp:// above is plaintext):");
                foreach (IPAddress address in ReachableAddresses(bound))
                {
                    Console.WriteLine($"    socketcam view udp+tls://{FormatHost(address)}:{bound.Port}{pinArg}{roomArg}{tokenArg}");
                }
            }
        }

        string feedUrl = bound is not null ? $"{scheme}://HOST:{bound.Port}{pinArg}" : unixUrl!;
        Console.WriteLine($"  feed another room with:  socketcam publish {feedUrl} --room NAME{tokenArg}");
        string callUrl = bound is not null ? $"{scheme}://{FormatHost(PreferLan(ReachableAddresses(bound)))}:{bound.Port}/ROOM{pinArg}" : $"{unixUrl} --room ROOM";
        Console.WriteLine($"  video call (everyone publishes and watches):  socketcam call {callUrl} --name NAME{tokenArg}");
        if (hub.Chat is { } chat)
        {
            Console.WriteLine($"  chat is kept in {chat.FilePath}");
        }

        if (seed is not null)
        {
            IPEndPoint seedBound = seed.EndPoint;
            Console.WriteLine($"SocketCam seed-format listener on tcp://{seedBound} (room '{seed.Options.Room}')");
            Console.WriteLine($"  the seed tutorials' Python client can watch it: set host_ip = '{PreferLan(ReachableAddresses(seedBound))}' and port = {seedBound.Port}"
                + (needsToken ? " (note: the seed format has no token; anyone who can reach this port can watch)" : ""));
        }
        if (web is not null)
        {
            IPEndPoint webBound = web.EndPoint;
            string loopback = webBound.Address.Equals(IPAddress.Any) || webBound.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : FormatHost(webBound.Address);
            // Pages take their token from the fragment, which never reaches a server or a Referer; plain data URLs (VLC, curl) from the query.
            string page = needsToken ? $"#token={access.Shown}" : "";
            string query = needsToken ? $"?token={access.Shown}" : "";
            string lan = $"http://{FormatHost(PreferLan(ReachableAddresses(webBound)))}:{webBound.Port}";
            Console.WriteLine($"SocketCam HTTP listening on http://{loopback}:{webBound.Port}");
            // Bound to loopback only, there are no other machines to name.
            string others = IPAddress.IsLoopback(webBound.Address) ? "" : $"   from other machines: {lan}/call/{room}{page} (cameras need localhost or https)";
            Console.WriteLine($"  video call in a browser: http://{loopback}:{webBound.Port}/call/{room}{page}{others}");
            Console.WriteLine($"  watch in a browser: {lan}/rooms/{room}{page}   all rooms: {lan}/{page}");
            Console.WriteLine($"  publish a browser's camera: http://{loopback}:{webBound.Port}/rooms/NAME/publish{page} (browsers allow cameras on localhost or https only)");
            Console.WriteLine($"  MJPEG for VLC, ffmpeg, OpenCV or an <img>: {lan}/stream.mjpg{query}   other rooms: {lan}/rooms/ROOM/stream.mjpg{query}");
            Console.WriteLine($"  newest frame: {lan}/snapshot.jpg{query}");
            Console.WriteLine($"  state as JSON: {lan}/api/rooms{query}  {lan}/api/stats{query}");
            if (web.HttpsEndPoint is { } httpsBound && web.Options.Https is { } tls)
            {
                string secure = $"https://{FormatHost(PreferLan(ReachableAddresses(httpsBound)))}:{httpsBound.Port}";
                Console.WriteLine($"SocketCam HTTPS listening on https://{(httpsBound.Address.Equals(IPAddress.Any) || httpsBound.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : FormatHost(httpsBound.Address))}:{httpsBound.Port}");
                string who = IPAddress.IsLoopback(httpsBound.Address) ? "video call over https" : "video call from a phone or another computer";
                Console.WriteLine($"  {who}: {secure}/call/{room}{page}");
                Console.WriteLine($"  certificate SHA-256 {tls.Certificate.FingerprintWithColons}"
                    + (tls.Certificate.Path is { } pem ? $" ({(tls.Certificate.Created ? "made now" : "made earlier")}, {pem}: browsers ask once to trust it; compare this fingerprint)" : ""));
            }
        }

        if (recording is not null)
        {
            Console.WriteLine($"  recording every room to {recording.FullPath} ({RecordingFormats.Name(recording.Format)}, {RotationText(recording.Options)})");
        }

        if (access.Generated)
        {
            Console.WriteLine($"  access token: {access.Token} (this hub listens beyond loopback, so it asks for one; it is in every URL and command above"
                + (access.TokenFile is { } file ? $"; kept in {file}" : "") + "). --token picks your own, --open asks for none; socketcam token makes scoped ones.");
        }
        else if (access.Open && !needsToken)
        {
            Console.WriteLine("  --open: no token; anyone who can reach these ports can watch, publish and chat in every room.");
        }

        Console.WriteLine("  Ctrl+C stops the server.");
    }

    private static string RotationText(RecordingOptions options)
    {
        List<string> limits = [];
        if (options.MaxFileBytes > 0)
        {
            limits.Add(CommonOptions.FormatByteSize(options.MaxFileBytes));
        }

        if (options.MaxFileDuration > TimeSpan.Zero)
        {
            limits.Add(CommonOptions.FormatDuration(options.MaxFileDuration));
        }

        return limits.Count == 0 ? "one file per room" : "a new file every " + string.Join(" or ", limits);
    }

    /// <summary>The addresses a viewer can use: the bound one, or every local address when bound to "any".</summary>
    internal static IEnumerable<IPAddress> ReachableAddresses(IPEndPoint bound)
    {
        if (!bound.Address.Equals(IPAddress.Any) && !bound.Address.Equals(IPAddress.IPv6Any))
        {
            return [bound.Address];
        }

        var addresses = new List<IPAddress> { IPAddress.Loopback };
        try
        {
            addresses.AddRange(NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .Where(a => a.AddressFamily == AddressFamily.InterNetwork));
        }
        catch (NetworkInformationException)
        {
            // Listing interfaces is a nicety; loopback always works.
        }

        return addresses.Distinct();
    }

    /// <summary>The address to suggest for another machine: a LAN one when there is one, else loopback.</summary>
    private static IPAddress PreferLan(IEnumerable<IPAddress> addresses) =>
        addresses.FirstOrDefault(a => !IPAddress.IsLoopback(a)) ?? addresses.First();

    internal static string FormatHost(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
}
