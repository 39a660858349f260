using System.Net.Sockets;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Hub;

/// <summary>
/// A v2 participant over a stream socket (TCP, Unix), plaintext or TLS: frames as one gather write of header and shared
/// payload, or through TLS (<see cref="ConnectionStream"/>).
/// </summary>
internal sealed class SocketParticipantLink(Socket socket, ConnectionStream stream) : IParticipantLink
{
    private const int LingerMaxBytes = 1 << 20;

    public ParticipantTransport Transport { get; } = socket.AddressFamily == AddressFamily.Unix ? ParticipantTransport.Unix : ParticipantTransport.Tcp;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) => stream.SendAsync(message, cancellationToken);

    public ValueTask SendFrameAsync(ArraySegment<byte> header, ArraySegment<byte> payload) => stream.SendFrameAsync(header, payload);

    public Task CloseAsync(ErrorCode code, TimeSpan limit) => socket.LingerAsync(limit, LingerMaxBytes);

    public void Abort()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is ObjectDisposedException || ex.IsDisconnect())
        {
        }
    }

    public void Dispose()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is ObjectDisposedException || ex.IsDisconnect())
        {
        }

        socket.Dispose();
    }
}
