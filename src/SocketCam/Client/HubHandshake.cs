using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>A connected socket with its reader, after the hub's answer to our opening: what a v1 and a v2 client start from.</summary>
internal sealed record HubLink<TWelcome>(Socket Socket, ConnectionStream Stream, PipeReader Reader, TWelcome Welcome);

/// <summary>
/// The part of connecting that protocol v1 (<see cref="ClientSession"/>) and v2 (<see cref="RoomClient"/>) share: resolve,
/// connect (a Unix socket's failures reworded to name the file), TLS for `tls://` (<see cref="ClientTls"/>), send the opening bytes (preface and HELLO or JOIN), read
/// the answer, all within <see cref="ClientOptions.ConnectTimeout"/>; on any failure everything is disposed.
/// </summary>
internal static class HubHandshake
{
    /// <summary>The server closed the connection before sending a single byte (not even a preface).</summary>
    internal sealed class SilentCloseException() : IOException("The server closed the connection without answering.");

    public static async Task<HubLink<TWelcome>> ConnectAsync<TWelcome>(
        StreamEndpoint endpoint,
        ClientOptions options,
        bool boundBuffers,
        ReadOnlyMemory<byte> opening,
        Func<PipeReader, CancellationToken, Task<TWelcome>> readWelcome,
        CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        EndPoint address = await endpoint.ToEndPointAsync(timeout.Token);
        Socket socket = endpoint.CreateSocket(address);
        ConnectionStream? stream = null;
        PipeReader? reader = null;
        try
        {
            stream = await OpenAsync(socket, endpoint, address, options, boundBuffers, timeout.Token);
            await stream.SendAsync(opening, timeout.Token);
            reader = PipeReader.Create(stream.Stream, new StreamPipeReaderOptions(bufferSize: 128 * 1024, minimumReadSize: 32 * 1024, leaveOpen: true));
            TWelcome welcome = await readWelcome(reader, timeout.Token);
            return new HubLink<TWelcome>(socket, stream, reader, welcome);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await DisposeAllAsync(socket, stream, reader);
            throw new TimeoutException($"{endpoint} did not complete the handshake within {options.ConnectTimeout.TotalSeconds:0.#} s.");
        }
        catch (SilentCloseException ex) when (!endpoint.IsUnix && !ClientTls.IsTls(endpoint))
        {
            // A TLS server (an HTTPS port) drops a plaintext client without a byte; a hub always answers with its preface.
            await DisposeAllAsync(socket, stream, reader);
            throw new IOException($"{endpoint} closed the connection without answering: if that port speaks TLS (an HTTPS port does), use tls://; a hub's native port is {StreamEndpoint.DefaultPort} by default", ex);
        }
        catch (Protocol.ProtocolException ex) when (WrongPort(endpoint, ex) is { } wrongPort)
        {
            await DisposeAllAsync(socket, stream, reader);
            throw wrongPort;
        }
        catch
        {
            await DisposeAllAsync(socket, stream, reader);
            throw;
        }
    }

    /// <summary>
    /// Connects <paramref name="socket"/> to <paramref name="address"/> and, for `tls://`, runs the TLS handshake over it:
    /// the byte stream every client message then goes through.
    /// </summary>
    public static async Task<ConnectionStream> OpenAsync(Socket socket, StreamEndpoint endpoint, EndPoint address, ClientOptions options, bool boundBuffers, CancellationToken cancellationToken)
    {
        // Bounded before connecting, so the TCP window is negotiated with it (on a Unix socket the send buffer bounds
        // what is in flight the same way).
        socket.ConfigureForVideo(boundBuffers);
        await ConnectSocketAsync(socket, endpoint, address, cancellationToken);
        return ClientTls.IsTls(endpoint)
            ? await ClientTls.AuthenticateAsync(socket, endpoint, options.Tls, cancellationToken)
            : ConnectionStream.Plain(socket);
    }

    /// <summary>Not a hub's preface but something we recognise (an HTTP or TLS port...): the one line naming what to use instead.</summary>
    public static Diagnostics.UserFacingException? WrongPort(StreamEndpoint endpoint, Protocol.ProtocolException ex) =>
        ex.Code == Protocol.ErrorCode.BadMagic && ex.Seen is { } seen && PortHints.Explain(endpoint, seen) is { } hint
            ? new Diagnostics.UserFacingException(hint, ex)
            : null;

    /// <summary>Completes the reader, then disposes the stream and the socket (each may be missing).</summary>
    public static async ValueTask DisposeAllAsync(Socket socket, ConnectionStream? stream, PipeReader? reader)
    {
        if (reader is not null)
        {
            await reader.CompleteAsync();
        }

        if (stream is not null)
        {
            await stream.DisposeAsync();
        }

        socket.Dispose();
    }

    /// <summary>
    /// Connects; a Unix socket's failures are reworded to name the file (the socket errors' own texts, "Connection
    /// refused" or "No such file or directory", do not say which). They stay IOExceptions, which the reconnector retries.
    /// </summary>
    private static async Task ConnectSocketAsync(Socket socket, StreamEndpoint endpoint, EndPoint address, CancellationToken cancellationToken)
    {
        try
        {
            await socket.ConnectAsync(address, cancellationToken);
        }
        catch (SocketException ex) when (endpoint.IsUnix)
        {
            throw new IOException(ex.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported when !File.Exists(endpoint.Host)
                    => $"{endpoint}: no such socket file: is `socketcam serve --unix {endpoint.Host}` running?",
                SocketError.ConnectionRefused => $"{endpoint}: connection refused: nothing listens on that socket file (is `socketcam serve --unix {endpoint.Host}` running?).",
                SocketError.AccessDenied => $"{endpoint}: permission denied: the socket file's permissions do not let this user connect.",
                _ => $"{endpoint}: {ex.Message}",
            }, ex);
        }
    }
}
