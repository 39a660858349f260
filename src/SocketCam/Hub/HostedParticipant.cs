using System.IO.Pipelines;
using SocketCam.Limits;
using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>
/// A protocol v2 participant whose transport a host brings: the web host's <c>socketcam.v2</c> WebSocket (docs/PROTOCOL.md
/// §4.16). The session is the very one TCP and Unix participants run (JOIN, requests, chat, events, frames, every cap and
/// refusal); only the bytes come and go through the <see cref="IParticipantLink"/>. Register it in
/// <see cref="HubServer.Clients"/> while it runs.
/// </summary>
public sealed class HostedParticipant : IClientStats, IDisposable
{
    private readonly HubServer _hub;
    private readonly ParticipantConnection _connection;
    private readonly SendCounters _sent = new();
    private readonly ReceiveCounters _received = new();
    private readonly CancellationTokenSource _receiveTimeout;

    /// <summary>Prepares the session; <paramref name="address"/> is the peer's (per-address budgets and the token throttle).</summary>
    public HostedParticipant(HubServer hub, IParticipantLink link, string remote, AddressKey? address, CancellationToken serverToken)
    {
        _hub = hub;
        Remote = remote;
        _receiveTimeout = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        _connection = new ParticipantConnection(link, address, hub, hub.Options.Sessions, hub.Logger, remote, _receiveTimeout, _sent, _received);
    }

    /// <inheritdoc/>
    public ClientKind Kind => _connection.Participant?.Hidden == true ? ClientKind.V2Watcher : ClientKind.Participant;

    /// <inheritdoc/>
    public string Remote { get; }

    /// <inheritdoc/>
    public string? RoomName => _connection.RoomName;

    /// <inheritdoc/>
    public ReceiveCounters? Received => _received;

    /// <inheritdoc/>
    public long FramesSent => _sent.FramesSent;

    /// <inheritdoc/>
    public long BytesSent => _sent.BytesSent;

    /// <inheritdoc/>
    public long FramesDropped => _connection.FramesDropped;

    /// <inheritdoc/>
    public double SendFps => _sent.PerSecond;

    /// <inheritdoc/>
    public long LastLatencyMicros => _sent.LastLatencyMicros;

    /// <summary>Runs the session from JOIN (within the handshake timeout) to its end, reading what the link's transport received.</summary>
    public Task RunAsync(PipeReader reader, CancellationToken serverToken)
    {
        _receiveTimeout.CancelAfter(_hub.Options.Sessions.HandshakeTimeout);
        return _connection.RunAsync(reader, serverToken);
    }

    /// <summary>Frees the session's timer (after <see cref="RunAsync"/> ended).</summary>
    public void Dispose() => _receiveTimeout.Dispose();
}
