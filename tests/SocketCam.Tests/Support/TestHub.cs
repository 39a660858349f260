using System.Net;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Tests.Support;

/// <summary>
/// A real <see cref="HubServer"/> on 127.0.0.1 (port 0 unless told otherwise) with the hub's own capture of a test pattern
/// in room "main", and every log line captured for assertions.
/// </summary>
internal sealed class TestHub : IAsyncDisposable
{
    /// <summary>How long any single wait in a test may take before the test fails instead of hanging.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<(CapturePipeline Pipeline, Task Task, IFrameSource Source, IFrameEncoder Encoder)> _captures = [];
    private readonly ILoggerFactory _loggerFactory;
    private bool _disposed;

    private TestHub(HubServer server, CapturingLoggerProvider logs, ILoggerFactory loggerFactory)
    {
        Server = server;
        Logs = logs;
        _loggerFactory = loggerFactory;
    }

    public HubServer Server { get; }

    public CapturingLoggerProvider Logs { get; }

    /// <summary>The capture pipeline of room "main" (null when started without one).</summary>
    public CapturePipeline? Capture => _captures.Count > 0 ? _captures[0].Pipeline : null;

    /// <summary>The encoder of room "main"'s capture (null when started without one).</summary>
    public IFrameEncoder? CaptureEncoder => _captures.Count > 0 ? _captures[0].Encoder : null;

    public IPEndPoint EndPoint => Server.TcpEndPoint;

    public StreamEndpoint Endpoint => new("tcp", "127.0.0.1", Server.TcpEndPoint.Port);

    public string Url => $"tcp://127.0.0.1:{Server.TcpEndPoint.Port}";

    /// <summary>The hub's UDP endpoint (only when started with <see cref="HubOptions.Udp"/>).</summary>
    public StreamEndpoint UdpEndpoint => new("udp", "127.0.0.1", (Server.UdpEndPoint ?? throw new InvalidOperationException("The hub has no UDP listener.")).Port);

    /// <summary>The hub's Unix socket (only when started with one).</summary>
    public StreamEndpoint UnixEndpoint => StreamEndpoint.Unix(Server.UnixSocketPath ?? throw new InvalidOperationException("The hub has no Unix socket."));

    /// <summary>
    /// Starts a hub. <paramref name="options"/>' endpoint (not its TLS certificate) is replaced by <paramref name="endPoint"/> (default 127.0.0.1:0);
    /// with <paramref name="unixSocketPath"/> it also listens on that Unix socket.
    /// With <paramref name="captureRoom"/> set, the hub captures a <paramref name="width"/>x<paramref name="height"/>
    /// test pattern at <paramref name="fps"/> (0 = unpaced) into that room.
    /// </summary>
    public static TestHub Start(
        HubOptions? options = null,
        string? captureRoom = "main",
        CodecId codec = CodecId.Jpeg,
        int width = 320,
        int height = 240,
        double fps = 30,
        IPEndPoint? endPoint = null,
        IFrameSource? source = null,
        string? unixSocketPath = null)
    {
        var logs = new CapturingLoggerProvider();
        ILoggerFactory factory = logs.CreateFactory();
        options = (options ?? new HubOptions()) with { Tcp = (options?.Tcp ?? new()) with { EndPoint = endPoint ?? new IPEndPoint(IPAddress.Loopback, 0) }, Unix = unixSocketPath is null ? null : new() { Path = unixSocketPath } };
        var server = new HubServer(options, factory);
        var hub = new TestHub(server, logs, factory);
        try
        {
            server.Start();
            if (captureRoom is not null)
            {
                hub.StartCapture(captureRoom, codec, width, height, fps, source);
            }

            return hub;
        }
        catch
        {
            hub.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>Starts the hub's own capture into <paramref name="room"/> (claims the room's publisher seat at once).</summary>
    /// <param name="encoder">The capture's encoder (the hub disposes it); null: <paramref name="codec"/>'s, with <paramref name="h264"/> for H.264.</param>
    public CapturePipeline StartCapture(string room, CodecId codec = CodecId.Jpeg, int width = 320, int height = 240, double fps = 30, IFrameSource? source = null, TimeSpan? retryDelay = null, SocketCam.Codecs.H264.H264Options? h264 = null, IFrameEncoder? encoder = null)
    {
        source ??= new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = fps });
        encoder ??= CodecFactory.CreateEncoder(codec, h264Options: h264, fps: fps > 0 ? fps : 30);
        var pipeline = new CapturePipeline(source, encoder, Server.GetOrCreateRoom(room), _loggerFactory.CreateLogger("SocketCam.Capture"), retryDelay is { } delay ? new CaptureOptions { RetryDelay = delay, MaxRetryDelay = delay } : null);
        // RunAsync claims the publisher seat synchronously, before its first await.
        Task task = pipeline.RunAsync(_stop.Token);
        _captures.Add((pipeline, task, source, encoder));
        return pipeline;
    }

    /// <summary>Log lines at Warning or above.</summary>
    public IReadOnlyList<LogEntry> Warnings => [.. Logs.Entries.Where(e => e.Level >= LogLevel.Warning)];

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stop.CancelAsync();
        foreach (var capture in _captures)
        {
            await capture.Task.WaitAsync(Timeout);
        }

        await Server.DisposeAsync().AsTask().WaitAsync(Timeout);
        foreach (var capture in _captures)
        {
            capture.Encoder.Dispose();
            await capture.Source.DisposeAsync();
        }

        _loggerFactory.Dispose();
        _stop.Dispose();
    }
}
