using System.Net;
using System.Net.Sockets;

namespace SocketCam.Transport;

/// <summary>
/// A hub address as users type it: <c>tcp://HOST:PORT</c> (or just <c>HOST:PORT</c>, <c>HOST</c>); commands that speak
/// other transports (image transfer: <c>udp://HOST:PORT</c>) parse theirs with the same rules.
/// </summary>
public sealed record StreamEndpoint(string Scheme, string Host, int Port)
{
    public const int DefaultPort = 9999;

    private static readonly string[] TcpOnly = ["tcp"];

    /// <param name="text">The address.</param>
    /// <param name="minPort">1 for addresses to connect to; 0 for addresses to listen on (0 = any free port).</param>
    public static StreamEndpoint Parse(string text, int minPort = 1) => Parse(text, minPort, "tcp", DefaultPort, TcpOnly);

    /// <param name="text">The address.</param>
    /// <param name="minPort">1 for addresses to connect to; 0 for addresses to listen on (0 = any free port).</param>
    /// <param name="defaultScheme">The scheme when the text has none; null when the text must say it.</param>
    /// <param name="defaultPort">The port when the text has none; null when the text must say it.</param>
    /// <param name="schemes">The schemes accepted, lower case.</param>
    public static StreamEndpoint Parse(string text, int minPort, string? defaultScheme, int? defaultPort, IReadOnlyList<string> schemes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        ArgumentNullException.ThrowIfNull(schemes);
        string rest = text;
        string? scheme = defaultScheme;
        int sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep >= 0)
        {
            scheme = text[..sep].ToLowerInvariant();
            rest = text[(sep + 3)..].TrimEnd('/');
        }

        if (scheme is null || !schemes.Contains(scheme))
        {
            string forms = string.Join(" or ", schemes.Select(s => $"{s}://HOST:PORT"));
            throw new FormatException(scheme is null
                ? $"'{text}' does not say which transport: use {forms}."
                : $"Unsupported address '{text}': use {forms}.");
        }

        string host = rest;
        int port = defaultPort ?? 0;
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

        if (colon < 0 && defaultPort is null)
        {
            throw new FormatException($"No port in '{text}': use {scheme}://{rest}:PORT.");
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
