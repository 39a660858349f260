using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Seed;

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
    private Socket? _socket;
    private SeedStreamReader? _reader;
    private VideoFrame? _first;
    private long _sequence;

    private SeedTcpSource(StreamEndpoint endpoint, int maxFrameBytes, TimeSpan timeout, ILogger logger)
    {
        _endpoint = endpoint;
        _maxFrameBytes = maxFrameBytes;
        _timeout = timeout;
        _logger = logger;
    }

    public string Description => $"seed server {_endpoint} ({Width}x{Height})";

    public int Width { get; private set; }

    public int Height { get; private set; }

    public double Fps => 0;

    /// <summary>Connects and reads the first frame, so a wrong address or a server that is not a seed server is reported at once.</summary>
    public static async Task<SeedTcpSource> OpenAsync(StreamEndpoint endpoint, int maxFrameBytes, ILogger logger, CancellationToken cancellationToken)
    {
        var source = new SeedTcpSource(endpoint, maxFrameBytes, TimeSpan.FromSeconds(10), logger);
        try
        {
            source._first = await source.ReceiveAsync(cancellationToken)
                ?? throw new UserFacingException($"{endpoint} closed the connection before sending a frame.");
            source.Width = source._first.Width;
            source.Height = source._first.Height;
            return source;
        }
        catch (Exception ex) when (ex is SourceFailedException)
        {
            await source.DisposeAsync();
            throw new UserFacingException(ex.Message, ex);
        }
        catch
        {
            await source.DisposeAsync();
            throw;
        }
    }

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (_first is { } first)
        {
            _first = null;
            return first;
        }

        // A seed server that closes is a live source going away (its camera loop ended): retried, not "ended".
        return await ReceiveAsync(cancellationToken) ?? throw Fail($"{_endpoint} closed the connection");
    }

    public ValueTask DisposeAsync()
    {
        _first?.Dispose();
        _first = null;
        Disconnect();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<VideoFrame?> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_reader is null)
            {
                _socket = await SeedClient.ConnectAsync(_endpoint, _timeout, cancellationToken);
                _reader = new SeedStreamReader(_socket, _maxFrameBytes, _timeout);
                SeedLog.Connected(_logger, _endpoint.ToString());
            }

            if (!await _reader.ReadAsync(cancellationToken))
            {
                Disconnect();
                return null;
            }

            SeedPicture picture = _reader.Decode();
            VideoFrame frame = VideoFrame.Rent(picture.Width, picture.Height);
            CopyRows(picture, frame);
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

    private static void CopyRows(SeedPicture picture, VideoFrame frame)
    {
        int row = picture.Width * VideoFrame.BytesPerPixel;
        ReadOnlySpan<byte> source = picture.Bgr.Span;
        if (frame.Stride == row)
        {
            source.CopyTo(frame.Pixels);
            return;
        }

        for (int y = 0; y < picture.Height; y++)
        {
            source.Slice(y * row, row).CopyTo(frame.Buffer.AsSpan(frame.Offset + (y * frame.Stride), row));
        }
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
