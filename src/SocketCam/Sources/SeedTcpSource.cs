using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Seed;
using SocketCam.Transport;

namespace SocketCam.Sources;

/// <summary>
/// `--source seed+tcp://HOST:PORT`: a seed tutorial server's frames as a source, so `publish` can relay it into a room
/// (and `serve` can re-serve it). Frames come as fast as that server sends them (unpaced). A rejected frame or a lost
/// connection fails the source (the room shows NO SIGNAL with the reason); the next read connects again.
/// </summary>
internal sealed class SeedTcpSource : IFrameSource
{
    private readonly StreamEndpoint _endpoint;
    private readonly int _maxFrameBytes;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly RawDecoder _raw = new();
    private Socket? _socket;
    private SeedStreamReader? _reader;
    private long _sequence;

    private SeedTcpSource(StreamEndpoint endpoint, int maxFrameBytes, TimeSpan timeout, ILogger logger)
    {
        _endpoint = endpoint;
        _maxFrameBytes = maxFrameBytes;
        _timeout = timeout;
        _logger = logger;
    }

    public string Description => Width == 0 ? $"seed server {_endpoint}" : $"seed server {_endpoint} ({Width}x{Height})";

    /// <summary>The last frame's width; 0 until the first frame (the seed format announces nothing).</summary>
    public int Width { get; private set; }

    public int Height { get; private set; }

    public double Fps => 0;

    /// <summary>
    /// Connects, so a wrong address or a server that is not running is reported at once. Frames are only read later:
    /// a first frame that is rejected fails the source like any later one (NO SIGNAL with the reason, retried), so a
    /// hostile or broken server never ends the hub or the publisher.
    /// </summary>
    public static async Task<SeedTcpSource> OpenAsync(StreamEndpoint endpoint, int maxFrameBytes, ILogger logger, CancellationToken cancellationToken)
    {
        var source = new SeedTcpSource(endpoint, maxFrameBytes, TimeSpan.FromSeconds(10), logger);
        try
        {
            await source.ConnectAsync(cancellationToken);
            return source;
        }
        catch (SourceFailedException ex)
        {
            await source.DisposeAsync();
            throw new UserFacingException(ex.Message, ex);
        }
    }

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        // A seed server that closes is a live source going away (its camera loop ended): retried, not "ended".
        return await ReceiveAsync(cancellationToken) ?? throw Fail($"{_endpoint} closed the connection");
    }

    public ValueTask DisposeAsync()
    {
        Disconnect();
        _raw.Dispose();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<VideoFrame?> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_reader is null)
            {
                await ConnectAsync(cancellationToken);
            }

            if (!await _reader!.ReadAsync(cancellationToken))
            {
                Disconnect();
                return null;
            }

            SeedPicture picture = _reader.Decode();
            VideoFrame frame = VideoFrame.Rent(picture.Width, picture.Height);
            _raw.Decode(picture.Bgr.Span, picture.Width, picture.Height, frame); // packed rows into the frame's stride
            frame.Sequence = _sequence++;
            frame.CaptureMicros = Clock.NowMicros();
            Width = picture.Width;
            Height = picture.Height;
            return frame;
        }
        catch (SocketException ex)
        {
            throw Fail(ex.SocketErrorCode == SocketError.ConnectionRefused
                ? $"{_endpoint}: connection refused (is the seed server running?)"
                : $"{_endpoint}: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or TimeoutException)
        {
            // A rejected frame (SeedFormatException) closes the connection like a lost one; the messages name the server.
            throw Fail($"{_endpoint}: {ex.Message}");
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            _socket = await SeedClient.ConnectAsync(_endpoint, _timeout, cancellationToken);
        }
        catch (SocketException ex)
        {
            throw Fail(ex.SocketErrorCode == SocketError.ConnectionRefused
                ? $"{_endpoint}: connection refused (is the seed server running?)"
                : $"{_endpoint}: {ex.Message}");
        }
        catch (TimeoutException ex)
        {
            throw Fail(ex.Message);
        }

        _reader = new SeedStreamReader(_socket, _maxFrameBytes, _timeout);
        SeedLog.Connected(_logger, _endpoint.ToString());
    }

    private SourceFailedException Fail(string reason)
    {
        Disconnect();
        return new SourceFailedException(reason);
    }

    private void Disconnect()
    {
        _reader?.Dispose();
        _reader = null;
        _socket?.Dispose();
        _socket = null;
    }
}
