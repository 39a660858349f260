using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Recording;
using SocketCam.Seed;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Web.Hosting;

/// <summary>
/// The whole server from one <see cref="HostOptions"/>, what `socketcam serve` runs: the recording directory, the hub
/// (TCP, Unix socket, UDP), the seed-format listener, HTTP and the hub's own captures. <see cref="StartAsync"/> starts
/// them in that order; <see cref="DisposeAsync"/> stops them in reverse (captures, HTTP, seed, hub: clients leave their
/// rooms while the hub still has them), then finishes the recordings (no more frames come) and disposes the captures'
/// sources and encoders. A failed start leaves whatever did start for <see cref="DisposeAsync"/>.
/// </summary>
internal sealed class SocketCamHost : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly CancellationTokenSource _stopCaptures = new();
    private readonly List<CapturePipeline> _pipelines = [];
    private readonly List<Task> _captureRuns = [];
    private HubServer? _hub;
    private int _started;
    private int _disposed;

    public SocketCamHost(HostOptions options, ILoggerFactory? loggerFactory = null)
    {
        Options = options;
        _loggers = loggerFactory ?? NullLoggerFactory.Instance;
    }

    public HostOptions Options { get; }

    /// <summary>The hub (once <see cref="StartAsync"/> has created it): its bound TCP, Unix and UDP addresses, rooms, guards.</summary>
    public HubServer Hub => _hub ?? throw new InvalidOperationException("The host is not started.");

    /// <summary>The seed-format listener, or null (<see cref="HostOptions.Seed"/> not set, or not started).</summary>
    public SeedServer? Seed { get; private set; }

    /// <summary>The HTTP listener, or null (<see cref="HostOptions.Http"/> not set, its address taken and skipped, or not started).</summary>
    public HttpServer? Http { get; private set; }

    /// <summary>The recording directory, or null (<see cref="HostOptions.Recording"/> not set); its counts stay readable after disposal.</summary>
    public RecordingDirectory? Recording { get; private set; }

    /// <summary>The running captures, in <see cref="HostOptions.Captures"/> order.</summary>
    public IReadOnlyList<CapturePipeline> Captures => _pipelines;

    /// <summary>
    /// Starts everything. Errors a user can act on are <see cref="UserFacingException"/> (an explicit UDP or HTTP address
    /// already in use, a recording directory that cannot be made) or <see cref="SocketException"/> (the TCP address);
    /// a UDP or HTTP address in use with <c>SkipIfAddressInUse</c> only leaves that transport out.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The host has already been started.");
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        HostOptions options = Options;
        // Checked before anything starts, as the HTTP address cannot be: nothing half-started for a taken UDP port.
        UdpOptions? udp = options.Udp is { } asked && IsUdpAddressFree(asked) ? asked : null;
        if (options.Recording is { } recording)
        {
            Recording = new RecordingDirectory(recording.Directory, recording.Format, recording.Files, _loggers);
        }

        _hub = new HubServer(options.ToHubOptions() with { Udp = udp }, _loggers);
        Recording?.AttachTo(_hub);
        // The TCP listener binds first (UDP's address was checked above): a taken address here is --listen's.
        try
        {
            _hub.Start();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && options.Tcp is { } tcp)
        {
            throw new UserFacingException(AddressInUse.Describe(tcp.EndPoint, "--listen"), ex);
        }

        if (options.Seed is { } seed)
        {
            Seed = new SeedServer(_hub, seed, _loggers);
            AddressInUse.Wrap(() => { Seed.Start(); return 0; }, seed.EndPoint, "--seed-tcp");
        }

        if (options.Http is { } http)
        {
            RecordingDirectory? recorder = Recording;
            Http = await StartHttpAsync(http with
            {
                Token = http.Token ?? options.Sessions.Token,
                RoomTokens = http.RoomTokens ?? options.Sessions.RoomTokens,
                RecordingBytes = recorder is null ? http.RecordingBytes : () => recorder.BytesRecorded,
            }, cancellationToken);
        }

        foreach (HostCapture capture in options.Captures)
        {
            CapturePipeline pipeline = capture.Source.CaptureInto(_hub.GetOrCreateRoom(capture.Room), _loggers.CreateLogger("SocketCam.Capture"));
            // RunAsync claims the room's publisher seat before its first await: a room that already has one fails here.
            Task run = pipeline.RunAsync(_stopCaptures.Token);
            _pipelines.Add(pipeline);
            _captureRuns.Add(run);
            if (run.IsFaulted)
            {
                await run;
            }
        }
    }

    /// <summary>
    /// Whether UDP can bind its address. Taken: with <see cref="UdpOptions.SkipIfAddressInUse"/> false (the default) an
    /// error, before anything has started; with true, the host runs without UDP (several servers on one machine keep
    /// working).
    /// </summary>
    private static bool IsUdpAddressFree(UdpOptions udp)
    {
        using var probe = new Socket(udp.EndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(udp.EndPoint);
            return true;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && !udp.SkipIfAddressInUse)
        {
            throw new UserFacingException(AddressInUse.Describe(udp.EndPoint, "--udp", canBeOff: true), ex);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return false;
        }
    }

    /// <summary>Starts HTTP; its address already in use is an error, or, with <see cref="HttpOptions.SkipIfAddressInUse"/>, no HTTP (null).</summary>
    private async Task<HttpServer?> StartHttpAsync(HttpOptions options, CancellationToken cancellationToken)
    {
        var web = new HttpServer(Hub, options, _loggers);
        try
        {
            await web.StartAsync(cancellationToken);
            return web;
        }
        catch (IOException ex) when (IsAddressInUse(ex))
        {
            await web.DisposeAsync();
            if (options.SkipIfAddressInUse)
            {
                return null;
            }

            // Kestrel binds HTTP and HTTPS together: whichever of the two cannot be bound now is the one that was taken.
            (EndPoint taken, string option) = options.Https is { } https && IsTcpAddressFree(options.EndPoint) ? ((EndPoint)https.EndPoint, "--https") : (options.EndPoint, "--http");
            throw new UserFacingException(AddressInUse.Describe(taken, option, canBeOff: true), ex);
        }
        catch
        {
            await web.DisposeAsync();
            throw;
        }
    }

    private static bool IsTcpAddressFree(EndPoint address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(address);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool IsAddressInUse(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is Microsoft.AspNetCore.Connections.AddressInUseException or SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Stops what started, in reverse, and disposes the captures' sources and encoders (started or not). Every step runs
    /// even when one before it failed; the first failure is thrown at the end.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ExceptionDispatchInfo? failure = null;
        async Task StepAsync(Func<ValueTask> step)
        {
            try
            {
                await step();
            }
            catch (Exception ex)
            {
                failure ??= ExceptionDispatchInfo.Capture(ex);
            }
        }

        await _stopCaptures.CancelAsync();
        foreach (Task run in _captureRuns)
        {
            await StepAsync(() => new ValueTask(run));
        }

        await StepAsync(() => Http?.DisposeAsync() ?? ValueTask.CompletedTask);
        await StepAsync(() => Seed?.DisposeAsync() ?? ValueTask.CompletedTask);
        await StepAsync(() => _hub?.DisposeAsync() ?? ValueTask.CompletedTask);
        // After the hub has stopped (no more frames): write what is queued and finish every file.
        await StepAsync(() => Recording?.DisposeAsync() ?? ValueTask.CompletedTask);
        foreach (HostCapture capture in Options.Captures)
        {
            await StepAsync(capture.Source.DisposeAsync);
        }

        _stopCaptures.Dispose();
        failure?.Throw();
    }
}
