using System.Net;
using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

/// <summary>Shared pieces of the image transfer tests: quick timers, test files, a temporary directory.</summary>
internal static class TransferTesting
{
    /// <summary>Timers short enough for tests (recovery rounds in tens of milliseconds), limits as in production.</summary>
    public static ImageTransferOptions Fast { get; } = new()
    {
        Timeout = TimeSpan.FromSeconds(5),
        NackDelay = TimeSpan.FromMilliseconds(20),
        MaxNackInterval = TimeSpan.FromMilliseconds(200),
        ProbeInterval = TimeSpan.FromMilliseconds(100),
        MaxProbeInterval = TimeSpan.FromMilliseconds(300),
        AckLinger = TimeSpan.FromSeconds(1),
        // Generous: on a busy machine a NACK can overtake the retransmission it asked for and look like no progress.
        MaxStalledRounds = 10,
        MaxBytesPerSecond = 50e6,
    };

    public static IPEndPoint Loopback0 => new(IPAddress.Loopback, 0);

    /// <summary>Deterministic bytes that do not repeat with any short period.</summary>
    public static byte[] Bytes(int length, int seed = 42)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Temporary files left in <paramref name="directory"/> (a failed transfer must leave none).</summary>
    public static string[] TemporaryFiles(string directory) => Directory.GetFiles(directory, "*.tmp");

    /// <summary>Cancels a test that would otherwise hang.</summary>
    public static CancellationTokenSource Deadline() => new(TimeSpan.FromSeconds(30));
}
