namespace SocketCam.Tests.Support;

/// <summary>
/// The sniff tests on loopback run beside the network collection rather than after it: that collection is the suite's
/// longest chain (about 9 of its 12 minutes), while the other thread is mostly idle. Their checks compare counts
/// with tolerances for frames in flight, never times, so sharing the machine costs them nothing but seconds.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SniffCollection
{
    public const string Name = "Sniff (loopback)";
}
