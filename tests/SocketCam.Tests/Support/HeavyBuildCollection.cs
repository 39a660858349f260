namespace SocketCam.Tests.Support;

/// <summary>
/// Tests that build and pack the whole solution (the README's `scripts/install` on a clean copy): a minute of both cores.
/// Run alone, after the parallel tests, so the others' timeouts (a 5 s handshake) never compete with a compiler.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeavyBuildCollection
{
    public const string Name = "Heavy build (alone)";
}
