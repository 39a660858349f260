using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>
/// Feeds a room from a local source: capture → encode → send, with capture times moved to the hub's clock.
/// TCP back-pressure paces it; a paced source skips ahead rather than queueing when the network is slow.
/// </summary>
internal sealed class PublisherClient
{
    private readonly StreamEndpoint _endpoint;
    private readonly ClientOptions _options;
    /// <summary>Pause before a failed source is started again.</summary>
    private static readonly TimeSpan SourceRetryDelay = TimeSpan.FromSeconds(2);

    private readonly IFrameSource _source;
    private readonly IFrameEncoder _encoder;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _signalLock = new(1, 1);
    private volatile ClientSession? _session;

    // Null while the source is live. Kept across sessions, so a hub we reconnect to hears that the source is still down.
    private volatile string? _noSignalReason;
    private long _framesSent;
    private long _bytesSent;
    private int _reconnects;

    public PublisherClient(StreamEndpoint endpoint, ClientOptions options, IFrameSource source, IFrameEncoder encoder, ILoggerFactory? loggerFactory = null)
    {
        _endpoint = endpoint;
        _options = options;
        _source = source;
        _encoder = encoder;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Publish");
    }

    public long FramesSent => Interlocked.Read(ref _framesSent);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public int Reconnects => Volatile.Read(ref _reconnects);

    public double RttMilliseconds { get; private set; }

    /// <summary>
    /// Called on the send loop with each encoded frame just before it is sent (capture time still on this process's clock),
    /// e.g. a local preview. The frame is valid only during the call: take a reference to keep it. Must not block.
    /// </summary>
    internal Action<SharedFrame>? FrameEncoded { get; set; }

    public Task RunAsync(CancellationToken cancellationToken) =>
        Reconnector.RunAsync(_endpoint, _options, _logger, RunSessionAsync, () => Interlocked.Increment(ref _reconnects), cancellationToken);

    /// <summary>
    /// Tells the hub (SIGNAL) whether this publisher's source is live, so the room's viewers see "no signal" and why.
    /// For the capture loop: false when the source dies (the reason, e.g. ffmpeg's last error line, is shown to
    /// viewers), true when it is back (optional: the next frame says so too). Safe from any thread. The state outlives
    /// the session: while disconnected it is kept, and a no-signal is sent again right after each WELCOME until a frame
    /// goes out. A send that fails because the connection is gone is not thrown: the session's loops report that.
    /// </summary>
    public async ValueTask SendSignalAsync(bool live, string reason, CancellationToken cancellationToken)
    {
        string text = MessageWriter.Printable(reason).Trim();
        // One sender of SIGNAL at a time, so a state change and the re-send after WELCOME cannot swap places.
        await _signalLock.WaitAsync(cancellationToken);
        try
        {
            _noSignalReason = live ? null : text;
            if (_session is { } session)
            {
                await TrySendSignalAsync(session, new SignalMessage(live, text), cancellationToken);
            }
        }
        finally
        {
            _signalLock.Release();
        }
    }

    private async Task RunSessionAsync(CancellationToken cancellationToken)
    {
        await using ClientSession session = await ClientSession.ConnectAsync(_endpoint, PeerRole.Publisher, _options, cancellationToken);
        ClientLog.Connected(_logger, _endpoint.ToString(), _options.Room, session.Welcome.SessionId);
        await AttachAsync(session, cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pings = session.PingLoopAsync(_options.PingInterval, stop.Token);
        Task receive = session.ReceiveAsync(0, _options.IdleTimeout, onFrame: null, onSignal: null, () => RttMilliseconds = session.LastRttMilliseconds, stop.Token);
        Task send = SendLoopAsync(session, stop.Token);
        try
        {
            // Whichever ends first (the hub closed, an error, the source ended) ends the session.
            Task first = await Task.WhenAny(receive, send);
            await first;
        }
        finally
        {
            // Not under the signal lock: a signal send stuck on this session ends when the session is disposed.
            _session = null;
            await stop.CancelAsync();
            await Task.WhenAll(pings, receive, send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await session.CloseAsync();
        }
    }

    /// <summary>Repeats a no-signal the source reported, then makes <paramref name="session"/> the one SIGNALs go to.</summary>
    private async Task AttachAsync(ClientSession session, CancellationToken cancellationToken)
    {
        await _signalLock.WaitAsync(cancellationToken);
        try
        {
            if (_noSignalReason is { } reason)
            {
                await TrySendSignalAsync(session, new SignalMessage(false, reason), cancellationToken);
            }

            _session = session;
        }
        finally
        {
            _signalLock.Release();
        }
    }

    private static async ValueTask TrySendSignalAsync(ClientSession session, SignalMessage signal, CancellationToken cancellationToken)
    {
        try
        {
            await session.SendSignalAsync(signal, cancellationToken);
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            // The connection is gone (or going): its receive loop reports that; the state is re-sent after the next WELCOME.
        }
    }

    private async Task SendLoopAsync(ClientSession session, CancellationToken cancellationToken)
    {
        int maxFrame = (int)Math.Min(session.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes);
        while (true)
        {
            SharedFrame? message;
            try
            {
                message = await FrameEncoding.ReadAsync(_source, _encoder, cancellationToken);
            }
            catch (SourceFailedException ex)
            {
                // A live source (camera, screen) failed: keep the session, retry the source with a pause.
                ClientLog.SourceFailed(_logger, ex.Message, SourceRetryDelay.TotalSeconds);
                await SendSignalAsync(false, ex.Message, cancellationToken); // viewers see NO SIGNAL with the reason
                await Task.Delay(SourceRetryDelay, cancellationToken);
                continue;
            }

            if (message is null)
            {
                throw new SourceEndedException();
            }

            try
            {
                if (message.DataLength > maxFrame)
                {
                    throw new UserFacingException($"A {message.DataLength}-byte frame exceeds the hub's {maxFrame}-byte limit: lower --size or --quality.");
                }

                FrameEncoded?.Invoke(message);
                MessageWriter.PatchCaptureMicros(MemoryMarshalExtensions.AsWritable(message.Message), message.Header.CaptureMicros + session.ClockOffsetMicros);
                await session.SendAsync(message.Message, cancellationToken);
                if (_noSignalReason is not null)
                {
                    // The hub took the frame as "live again"; a reconnect must not repeat the old no-signal.
                    _noSignalReason = null;
                }

                Interlocked.Increment(ref _framesSent);
                Interlocked.Add(ref _bytesSent, message.Message.Length);
            }
            finally
            {
                message.Release();
            }
        }
    }
}

internal static class MemoryMarshalExtensions
{
    /// <summary>The publisher owns its frame's buffer exclusively until it is sent, so patching it in place is safe.</summary>
    public static Span<byte> AsWritable(ReadOnlyMemory<byte> memory) =>
        System.Runtime.InteropServices.MemoryMarshal.AsMemory(memory).Span;
}

/// <summary>A finite source has no more frames: the publisher is done (this is not retried like a lost connection).</summary>
public sealed class SourceEndedException : Exception
{
    public SourceEndedException()
        : base("The source ended.")
    {
    }

    public SourceEndedException(string message)
        : base(message)
    {
    }

    public SourceEndedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
