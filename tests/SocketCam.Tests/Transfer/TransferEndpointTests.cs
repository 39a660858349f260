using SocketCam.Transport;

namespace SocketCam.Tests.Transfer;

/// <summary>Addresses of send-image (tcp:// or udp://, port required), next to the hub's tcp:// rules that must not change.</summary>
public sealed class TransferEndpointTests
{
    private static readonly string[] Both = ["tcp", "udp"];

    [Theory]
    [InlineData("udp://127.0.0.1:5000", "udp", "127.0.0.1", 5000)]
    [InlineData("tcp://localhost:80", "tcp", "localhost", 80)]
    [InlineData("UDP://[::1]:9/", "udp", "::1", 9)]
    public void Urls_with_either_scheme_parse(string text, string scheme, string host, int port)
    {
        Assert.Equal(new StreamEndpoint(scheme, host, port), StreamEndpoint.Parse(text, 1, null, null, Both));
    }

    [Theory]
    [InlineData("127.0.0.1:5000", "does not say which transport")]
    [InlineData("http://127.0.0.1:5000", "Unsupported address")]
    [InlineData("udp://127.0.0.1", "No port")]
    [InlineData("udp://127.0.0.1:0", "Bad port")]
    [InlineData("udp://:5000", "No host")]
    public void Incomplete_urls_are_refused_with_a_reason(string text, string reason)
    {
        Assert.Contains(reason, Assert.Throws<FormatException>(() => StreamEndpoint.Parse(text, 1, null, null, Both)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_hub_address_rules_are_unchanged()
    {
        Assert.Equal(new StreamEndpoint("tcp", "example", StreamEndpoint.DefaultPort), StreamEndpoint.Parse("example"));
        Assert.Equal(new StreamEndpoint("tcp", "1.2.3.4", 10), StreamEndpoint.Parse("1.2.3.4:10"));
        Assert.Equal(new StreamEndpoint("tcp", "0.0.0.0", 0), StreamEndpoint.Parse("tcp://0.0.0.0:0", minPort: 0));
        Assert.Contains("use tcp://HOST:PORT or tls://HOST:PORT or unix:///PATH.", Assert.Throws<FormatException>(() => StreamEndpoint.Parse("udp://1.2.3.4:5")).Message, StringComparison.Ordinal);
    }
}
