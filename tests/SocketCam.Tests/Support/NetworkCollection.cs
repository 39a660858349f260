namespace SocketCam.Tests.Support;

/// <summary>
/// Hub and CLI tests run one class at a time: each starts hubs, viewers and child processes, and on a small machine
/// running them side by side only makes every one of them slower.
/// </summary>
[CollectionDefinition(Name)]
public sealed class NetworkCollection
{
    public const string Name = "Network (hub and CLI)";
}
