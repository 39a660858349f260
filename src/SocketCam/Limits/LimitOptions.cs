namespace SocketCam.Limits;

/// <summary>
/// The limits that keep one hostile peer from hurting everyone else (docs/LIMITS.md lists each with its default and the
/// `serve` flag that changes it). Defaults are sized so that whatever one address does, the hub stays well under 512 MB.
/// </summary>
public sealed record LimitOptions
{
    /// <summary>Connections one address may hold on each listener (TCP/Unix hub, seed, MJPEG, WebSocket); default 64. 0 = no cap.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 64;

    /// <summary>Bytes of frames still arriving (TCP/Unix and WebSocket publishers) the hub holds in total; default 192 MiB.</summary>
    public long FramesInFlightBytes { get; init; } = 192L << 20;

    /// <summary>... and for one address; default 48 MiB.</summary>
    public long FramesInFlightBytesPerAddress { get; init; } = 48L << 20;

    /// <summary>Bytes of UDP frames being reassembled in total; default 128 MiB.</summary>
    public long ReassemblyBytes { get; init; } = 128L << 20;

    /// <summary>... and for one address; default 32 MiB.</summary>
    public long ReassemblyBytesPerAddress { get; init; } = 32L << 20;

    /// <summary>
    /// A frame in progress must arrive at least this fast (bytes per second, measured over each <see cref="MinDataRateGrace"/>
    /// window), like Kestrel's MinRequestBodyDataRate; default 64 KiB/s. 0 = no minimum.
    /// </summary>
    public double MinFrameDataRate { get; init; } = 64 * 1024;

    /// <summary>The window over which <see cref="MinFrameDataRate"/> is measured (and the grace before the first check); default 5 s.</summary>
    public TimeSpan MinDataRateGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Failed handshakes (wrong token, garbage) an address may make before it is slowed down; default 5.</summary>
    public int FreeFailedAttempts { get; init; } = 5;

    /// <summary>Frames per second one publisher may send; frames beyond it are dropped and counted (the publisher stays); default 0 = no cap.</summary>
    public double MaxPublishFps { get; init; }

    /// <summary>Bits per second one publisher may send (a 2-second burst allowed); frames beyond it are dropped; default 0 = no cap.</summary>
    public double MaxPublishBitrate { get; init; }
}

/// <summary>The shared state behind <see cref="LimitOptions"/>: one per server, used by every transport.</summary>
public sealed class ServerGuards
{
    public ServerGuards(LimitOptions options, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        Options = options;
        FailedAttempts = new(options.FreeFailedAttempts);
        Memory = new MemoryReclaimer(logger);
        // A burst is half an address's share: more than a few legitimate frames hold, and reachable with small test limits.
        FramesInFlight = new(options.FramesInFlightBytes, options.FramesInFlightBytesPerAddress)
        {
            BurstBytes = BurstOf(options.FramesInFlightBytesPerAddress),
            AfterBurst = () => Memory.RequestCollection("A burst of frames in flight"),
        };
        Reassembly = new(options.ReassemblyBytes, options.ReassemblyBytesPerAddress)
        {
            BurstBytes = BurstOf(options.ReassemblyBytesPerAddress),
            AfterBurst = () => Memory.RequestCollection("A burst of UDP reassembly"),
        };
    }

    public LimitOptions Options { get; }

    public RefusalCounters Refusals { get; } = new();

    /// <summary>Failed handshakes per address, for every transport: a guesser is slowed down wherever it guesses.</summary>
    public FailedAttemptThrottle FailedAttempts { get; }

    /// <summary>Frames being received over TCP, Unix sockets and WebSockets.</summary>
    public ByteBudget FramesInFlight { get; }

    /// <summary>UDP frames being reassembled.</summary>
    public ByteBudget Reassembly { get; }

    /// <summary>Gives memory back once a burst (of either budget, or a wave of HTTP connections) is over.</summary>
    public MemoryReclaimer Memory { get; }

    /// <summary>A new per-address connection cap for one listener (each listener counts its own).</summary>
    public AddressSlots NewAddressSlots() => new(Options.MaxConnectionsPerAddress <= 0 ? int.MaxValue : Options.MaxConnectionsPerAddress);

    private static long BurstOf(long perAddress) => Math.Min(32L << 20, Math.Max(1, perAddress / 2));
}
