namespace SocketCam.Tests.Support;

/// <summary>
/// The seed tutorials' programs against our CLI: two minutes of mostly waiting (Python start-up, retry back-offs, a
/// hostile server's scenario after another), so they run beside the network collection, the suite's longest chain,
/// rather than in it. Their checks are on bytes, lines and exit codes, never on times.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SeedCollection
{
    public const string Name = "Seed programs (loopback)";
}
