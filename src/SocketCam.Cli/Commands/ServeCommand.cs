using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Cli.Output;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen", "-l") { Description = "TCP address to listen on (HOST:PORT)", DefaultValueFactory = _ => "0.0.0.0:9999" };
        var source = CommonOptions.Source();
        source.Description = "Frames for --room: pattern (built-in test pattern), or none to let publishers feed every room";
        var size = CommonOptions.Size();
        var fps = CommonOptions.Fps();
        var codec = CommonOptions.Codec();
        var quality = CommonOptions.Quality();
        var subsampling = CommonOptions.Subsampling();
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var maxFrame = CommonOptions.MaxFrameBytes();
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("serve", "Run the hub: capture into a room and serve it to viewers; publishers can feed other rooms")
        {
            listen, source, size, fps, codec, quality, subsampling, room, token, maxFrame, quiet, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token2) =>
        {
            var options = new HubOptions
            {
                TcpEndPoint = await ParseListenAsync(r.GetValue(listen)!, token2),
                Token = r.GetValue(token),
                MaxFrameBytes = r.GetValue(maxFrame),
            };
            string sourceSpec = r.GetValue(source)!;
            IFrameSource? frameSource = null;
            IFrameEncoder? encoder = null;
            CodecId codecId = r.GetValue(codec);
            if (!string.Equals(sourceSpec, "none", StringComparison.OrdinalIgnoreCase))
            {
                encoder = CodecFactory.CreateEncoder(codecId, CommonOptions.Jpeg(r.GetValue(quality), r.GetValue(subsampling)!));
                frameSource = SourceFactory.Create(sourceSpec, r.GetValue(size), r.GetValue(fps));
            }

            try
            {
                return await RunAsync(options, r.GetValue(room)!, frameSource, encoder, codecId, r.GetValue(quiet), loggers, token2);
            }
            finally
            {
                encoder?.Dispose();
                if (frameSource is not null)
                {
                    await frameSource.DisposeAsync();
                }
            }
        }));
        return command;
    }

    private static async Task<int> RunAsync(HubOptions options, string roomName, IFrameSource? source, IFrameEncoder? encoder, CodecId codec, bool quiet, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        await using var hub = new HubServer(options, loggers);
        hub.Start();
        PrintBanner(hub, roomName, source, codec, options.Token is not null);
        Task capture = Task.CompletedTask;
        if (source is not null && encoder is not null)
        {
            var pipeline = new CapturePipeline(source, encoder, hub.GetOrCreateRoom(roomName), loggers.CreateLogger("SocketCam.Capture"));
            capture = pipeline.RunAsync(cancellationToken);
        }

        long lastFrames = 0;
        long lastBytes = 0;
        var stats = new LiveStats(
            interval =>
            {
                long frames = hub.FramesPublished;
                long bytes = hub.Connections.Sum(c => c.BytesSent);
                int viewers = hub.Connections.Count(c => c.Role == Protocol.PeerRole.Viewer);
                string line = string.Create(CultureInfo.InvariantCulture, $"{hub.Rooms.Count()} room(s), {viewers} viewer(s), {(frames - lastFrames) / interval.TotalSeconds:0.0} fps in, {LiveStats.Rate((bytes - lastBytes) / interval.TotalSeconds)} out");
                lastFrames = frames;
                lastBytes = bytes;
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

        await capture;
        await status;
        return 0;
    }

    private static async Task<IPEndPoint> ParseListenAsync(string text, CancellationToken cancellationToken)
    {
        StreamEndpoint endpoint = StreamEndpoint.Parse(text.Contains("://", StringComparison.Ordinal) ? text : "tcp://" + text, minPort: 0);
        if (endpoint.Host is "*" or "0.0.0.0")
        {
            return new IPEndPoint(IPAddress.Any, endpoint.Port);
        }

        return await endpoint.ResolveAsync(cancellationToken);
    }

    private static void PrintBanner(HubServer hub, string room, IFrameSource? source, CodecId codec, bool needsToken)
    {
        IPEndPoint bound = hub.TcpEndPoint;
        string roomArg = room == Protocol.RoomName.Default ? "" : $" --room {room}";
        string tokenArg = needsToken ? " --token SECRET" : "";
        Console.WriteLine($"SocketCam hub listening on tcp://{bound}");
        Console.WriteLine(source is null
            ? "  no local source: rooms are fed by `socketcam publish`"
            : $"  room '{room}': {source.Description}, {CommonOptions.CodecName(codec)}");
        Console.WriteLine("  watch it with:");
        foreach (IPAddress address in ReachableAddresses(bound))
        {
            Console.WriteLine($"    socketcam view tcp://{FormatHost(address)}:{bound.Port}{roomArg}{tokenArg}");
        }

        Console.WriteLine($"  feed another room with:  socketcam publish tcp://HOST:{bound.Port} --room NAME{tokenArg}");
        Console.WriteLine("  Ctrl+C stops the server.");
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

    internal static string FormatHost(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
}
