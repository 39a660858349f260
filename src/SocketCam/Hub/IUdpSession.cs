using System.Net;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Hub;

/// <summary>An active UDP session on the hub (a viewer or a publisher), fed by <see cref="UdpHubListener"/>'s one receive loop.</summary>
internal interface IUdpSession : IClientStats
{
    ulong Id { get; }

    SocketAddress Address { get; }

    /// <summary>An encrypted session's seal (every datagram both ways goes through it); null for plain UDP.</summary>
    DatagramSeal? Seal { get; }

    /// <summary>A datagram from this session's address carrying its id (prefix checked). Runs on the receive loop: must not block.</summary>
    void OnDatagram(DatagramType type, ReadOnlySpan<byte> datagram);

    /// <summary>The listener's housekeeping, about every 250 ms: idle timeout, repeated no-signal.</summary>
    void Tick(long nowMicros);

    /// <summary>Runs until the session ends, the peer leaves, or the hub stops; says BYE when it is the one ending.</summary>
    Task RunAsync(CancellationToken serverToken);

    /// <summary>Asks the session to end with BYE (code, text). Idempotent.</summary>
    void End(ErrorCode code, string reason);
}
