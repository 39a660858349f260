using System.Net;
using System.Net.Sockets;

namespace SocketCam.Transport;

/// <summary>A hub address as users type it: <c>tcp://HOST:PORT</c> (or just <c>HOST:PORT</c>, <c>HOST</c>).</summary>
public sealed record StreamEndpoint(string Scheme, string Host, int Port)
{
    public const int DefaultPort = 9999;

    /// <param name="text">The address.</param>
    /// <param name="minPort">1 for addresses to connect to; 0 for addresses to listen on (0 = any free port).</param>
    public static StreamEndpoint Parse(string text, int minPort = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string rest = text;
        string scheme = "tcp";
        int sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep >= 0)
        {
            scheme = text[..sep].ToLowerInvariant();
            rest = text[(sep + 3)..].TrimEnd('/');
        }

        if (scheme != "tcp")
        {
            throw new FormatException($"Unsupported address '{text}': use tcp://HOST:PORT.");
        }

        string host = rest;
        int port = DefaultPort;
        int colon = rest.LastIndexOf(':');
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Bad IPv6 address in '{text}'.");
            }

            host = rest[1..close];
            colon = rest.IndexOf(':', close);
        }
        else if (colon >= 0)
        {
            host = rest[..colon];
        }

        if (colon >= 0 && (!int.TryParse(rest[(colon + 1)..], out port) || port < minPort || port > 65535))
        {
            throw new FormatException($"Bad port in '{text}': expected {minPort}-65535.");
        }

        if (host.Length == 0)
        {
            throw new FormatException($"No host in '{text}'.");
        }

        return new StreamEndpoint(scheme, host, port);
    }

    public async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(Host, out IPAddress? address))
        {
            return new IPEndPoint(address, Port);
        }

        if (string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, Port);
        }

        IPAddress[] addresses = await Dns.GetHostAddressesAsync(Host, cancellationToken);
        IPAddress chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
        return new IPEndPoint(chosen, Port);
    }

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"{Scheme}://[{Host}]:{Port}" : $"{Scheme}://{Host}:{Port}";
}
