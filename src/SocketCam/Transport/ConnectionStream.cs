using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;

namespace SocketCam.Transport;

/// <summary>
/// The bytes of one stream-socket connection, plaintext or TLS, for its one writer and its one reader. Plaintext writes
/// go straight to the socket (a frame's header and shared payload in one gather send, never copied together); TLS writes
/// go through the <see cref="SslStream"/> (a small frame copied behind its header into one record, a large one as two
/// writes). Either way <see cref="Stream"/> is what a <see cref="System.IO.Pipelines.PipeReader"/> reads.
/// </summary>
internal sealed class ConnectionStream : IAsyncDisposable
{
    /// <summary>Up to this many bytes a TLS frame is copied into one write (one record instead of two, one syscall).</summary>
    private const int CoalesceBytes = 16 * 1024;

    private readonly SslStream? _tls;
    private readonly GatherSender? _gather;
    private readonly NetworkStream _network;
    private int _disposed;

    private ConnectionStream(Socket socket, NetworkStream network, SslStream? tls)
    {
        Socket = socket;
        _network = network;
        _tls = tls;
        _gather = tls is null ? new GatherSender() : null;
    }

    /// <summary>Plaintext over <paramref name="socket"/> (not owned: the caller closes it).</summary>
    public static ConnectionStream Plain(Socket socket) => new(socket, new NetworkStream(socket, ownsSocket: false), null);

    /// <summary>
    /// TLS over <paramref name="socket"/>: <paramref name="authenticate"/> runs the handshake on the stream it is given;
    /// when it fails everything but the socket is disposed and the exception goes to the caller.
    /// </summary>
    public static async Task<ConnectionStream> TlsAsync(Socket socket, Func<SslStream, Task> authenticate)
    {
        var network = new NetworkStream(socket, ownsSocket: false);
        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await authenticate(tls);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }

        return new ConnectionStream(socket, network, tls);
    }

    public Socket Socket { get; }

    /// <summary>What to read from: the socket's <see cref="NetworkStream"/> or the TLS stream over it.</summary>
    public Stream Stream => _tls is not null ? _tls : _network;

    public bool IsTls => _tls is not null;

    /// <summary>The TLS version agreed, or null for plaintext (logs).</summary>
    public System.Security.Authentication.SslProtocols? TlsProtocol => _tls?.SslProtocol;

    /// <summary>Writes every byte of one message.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) =>
        _tls is null ? Socket.SendAllAsync(message, cancellationToken) : _tls.WriteAsync(message, cancellationToken);

    /// <summary>
    /// Writes a frame's header and shared payload as one message, with no token like the gather send: a stuck write ends
    /// when the socket is closed.
    /// </summary>
    public ValueTask SendFrameAsync(ArraySegment<byte> header, ArraySegment<byte> payload) =>
        _tls is null ? _gather!.SendAllAsync(Socket, header, payload) : SendTlsFrameAsync(_tls, header, payload);

    private static async ValueTask SendTlsFrameAsync(SslStream tls, ArraySegment<byte> header, ArraySegment<byte> payload)
    {
        int total = header.Count + payload.Count;
        if (total > CoalesceBytes)
        {
            // Large: the copy would cost more than the second record's 22 bytes and second syscall.
            await tls.WriteAsync(header.AsMemory());
            await tls.WriteAsync(payload.AsMemory());
            return;
        }

        byte[] joined = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            header.AsSpan().CopyTo(joined);
            payload.AsSpan().CopyTo(joined.AsSpan(header.Count));
            await tls.WriteAsync(joined.AsMemory(0, total));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    /// <summary>Disposes the streams (and the gather sender); the socket stays the caller's.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_tls is not null)
        {
            await _tls.DisposeAsync();
        }

        await _network.DisposeAsync();
        _gather?.Dispose();
    }
}
