using System.Net;
using SocketCam.Protocol;

namespace SocketCam.Seed;

/// <summary>Settings of the seed-format listener (`serve --seed-tcp`).</summary>
public sealed record SeedOptions
{
    /// <summary>Where to listen; default 0.0.0.0:9998. Port 0 picks a free port.</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Any, 9998);

    /// <summary>The room seed clients watch (the protocol cannot name one); default "main".</summary>
    public string Room { get; init; } = RoomName.Default;

    /// <summary>Seed connections beyond this are refused; default 256.</summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>
    /// A client that takes longer than this to accept one frame is disconnected; default 30 s. (A slow client only skips
    /// frames; this is for one that stopped reading for good.)
    /// </summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Seed clients never send; one that sends more than this is not one and is disconnected; default 64 KiB.</summary>
    public int MaxInboundBytes { get; init; } = 64 * 1024;
}
