using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>
/// What carries a protocol v2 participant (docs/PROTOCOL.md Part II): a stream socket (TCP, Unix) or a WebSocket
/// (`socketcam.v2`, §4.16). The session's send loop is its only writer; incoming bytes reach the session through a
/// <see cref="System.IO.Pipelines.PipeReader"/> the transport fills.
/// </summary>
public interface IParticipantLink : IDisposable
{
    /// <summary>How the participant came (§4.4 transport), as the room announces it.</summary>
    ParticipantTransport Transport { get; }

    /// <summary>Writes one whole v2 message (header and payload).</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>Writes one FRAME: its message and FRAME headers, then the shared payload, as one message.</summary>
    ValueTask SendFrameAsync(ArraySegment<byte> header, ArraySegment<byte> payload);

    /// <summary>
    /// After the last message (a farewell, or none): closes politely within <paramref name="limit"/>, reading and dropping
    /// what the peer still sends so the close does not become a reset that destroys the farewell.
    /// </summary>
    Task CloseAsync(ErrorCode code, TimeSpan limit);

    /// <summary>Ends a write that is stuck (a peer that stopped reading): the only way to end it.</summary>
    void Abort();
}
