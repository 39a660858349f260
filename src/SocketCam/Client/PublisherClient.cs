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

    public Task RunAsync(CancellationToken cancellationToken) =>
        Reconnector.RunAsync(_endpoint, _options, _logger, RunSessionAsync, () => Interlocked.Increment(ref _reconnects), cancellationToken);

    private async Task RunSessionAsync(CancellationToken cancellationToken)
    {
        await using ClientSession session = await ClientSession.ConnectAsync(_endpoint, PeerRole.Publisher, _options, cancellationToken);
        ClientLog.Connected(_logger, _endpoint.ToString(), _options.Room, session.Welcome.SessionId);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pings = session.PingLoopAsync(_options.PingInterval, stop.Token);
        Task receive = session.ReceiveAsync(0, _options.IdleTimeout, onFrame: null, () => RttMilliseconds = session.LastRttMilliseconds, stop.Token);
        Task send = SendLoopAsync(session, stop.Token);
        try
        {
            // Whichever ends first (the hub closed, an error, the source ended) ends the session.
            Task first = await Task.WhenAny(receive, send);
            await first;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(pings, receive, send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await session.CloseAsync();
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

                MessageWriter.PatchCaptureMicros(MemoryMarshalExtensions.AsWritable(message.Message), message.Header.CaptureMicros + session.ClockOffsetMicros);
                await session.SendAsync(message.Message, cancellationToken);
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
