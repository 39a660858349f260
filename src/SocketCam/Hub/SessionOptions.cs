using SocketCam.Media;

namespace SocketCam.Hub;

/// <summary>What the hub holds every native session to (TCP, Unix socket and UDP alike).</summary>
public sealed record SessionOptions
{
    /// <summary>
    /// Shared secret clients must present in HELLO (`serve --token`); default null lets anyone in. The HTTP listener asks for
    /// it too unless its own token is set.
    /// </summary>
    public string? Token { get; init; }

    /// <summary>
    /// Checks signed room tokens (`socketcam token`) beside <see cref="Token"/>; default null: only the shared token.
    /// Room tokens are asked for only when <see cref="Token"/> is set (serve makes one up when it listens beyond loopback).
    /// </summary>
    public Auth.RoomTokens? RoomTokens { get; init; }

    /// <summary>The policy <see cref="Token"/> and <see cref="RoomTokens"/> make.</summary>
    public Auth.AccessPolicy Access => new(Token, RoomTokens);

    /// <summary>Cap on one frame's picture data (`serve --max-frame-bytes`); default 16 MiB. Larger frames end the sender's session.</summary>
    public int MaxFrameBytes { get; init; } = FrameLimits.DefaultMaxFrameBytes;

    /// <summary>Time a new connection has to send its preface and HELLO; default 5 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A client that sends nothing for this long is disconnected; default 15 s (clients ping every second). UDP has its own (<see cref="UdpOptions.IdleTimeout"/>).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Connections beyond this are refused, and UDP sessions beyond this (counted apart); default 4096.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>How long shutdown waits for clients to take their GOODBYE; default 2 s.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(2);
}
