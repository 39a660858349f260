using System.Net;
using System.Net.Sockets;

namespace SocketCam.Transport;

/// <summary>
/// A hub address as users type it: <c>tcp://HOST:PORT</c> (or just <c>HOST:PORT</c>, <c>HOST</c>), <c>tls://HOST:PORT</c>
/// (the same over TLS, the same default port), or a Unix domain
/// socket, <c>unix:///ABSOLUTE/PATH</c> or <c>unix:RELATIVE/PATH</c> (then <see cref="Host"/> is the full path and
/// <see cref="Port"/> 0); commands that speak other transports (image transfer: <c>udp://HOST:PORT</c>) parse theirs with
/// the same rules.
/// </summary>
public sealed record StreamEndpoint(string Scheme, string Host, int Port)
{
    public const int DefaultPort = 9999;

    public const string UnixScheme = "unix";

    /// <summary>
    /// Longest path a Unix socket can have, in UTF-8 bytes: Linux's sockaddr_un holds 108 bytes including the
    /// terminating NUL (.NET would otherwise fail with an ArgumentOutOfRangeException that names no path).
    /// </summary>
    public const int MaxUnixPathBytes = 107;

    /// <summary>TLS over TCP (`serve --tls`): the same protocol, the same default port.</summary>
    public const string TlsScheme = "tls";

    /// <summary>What hub clients (view, publish, snapshot, call, rooms) connect to: the stream transports.</summary>
    public static readonly IReadOnlyList<string> HubSchemes = ["tcp", TlsScheme, UnixScheme];

    /// <summary>What `view` and `publish` connect to: the stream transports and UDP live video (docs/PROTOCOL.md §2.0).</summary>
    public static readonly IReadOnlyList<string> LiveSchemes = ["tcp", TlsScheme, UnixScheme, "udp", "udp+tls"];

    /// <param name="text">The address.</param>
    /// <param name="minPort">1 for addresses to connect to; 0 for addresses to listen on (0 = any free port).</param>
    public static StreamEndpoint Parse(string text, int minPort = 1) => Parse(text, minPort, "tcp", DefaultPort, HubSchemes);

    /// <summary>A Unix socket endpoint for <paramref name="path"/> (made absolute; checked like a parsed one).</summary>
    public static StreamEndpoint Unix(string path) => ParseUnixPath(path, path);

    /// <summary>True for <c>unix:</c> addresses: <see cref="Host"/> is the socket's path.</summary>
    public bool IsUnix => string.Equals(Scheme, UnixScheme, StringComparison.Ordinal);

    /// <param name="text">The address.</param>
    /// <param name="minPort">1 for addresses to connect to; 0 for addresses to listen on (0 = any free port).</param>
    /// <param name="defaultScheme">The scheme when the text has none; null when the text must say it.</param>
    /// <param name="defaultPort">The port when the text has none; null when the text must say it.</param>
    /// <param name="schemes">The schemes accepted, lower case.</param>
    public static StreamEndpoint Parse(string text, int minPort, string? defaultScheme, int? defaultPort, IReadOnlyList<string> schemes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        ArgumentNullException.ThrowIfNull(schemes);
        if (schemes.Contains(UnixScheme) && text.StartsWith(UnixScheme + ":", StringComparison.OrdinalIgnoreCase))
        {
            return ParseUnix(text);
        }

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
            string forms = string.Join(" or ", schemes.Select(s => s == UnixScheme ? "unix:///PATH" : $"{s}://HOST:PORT"));
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

    /// <summary>
    /// <c>unix:///ABSOLUTE/PATH</c> (as URLs write it: an empty host, then the path) or <c>unix:PATH</c> (absolute or
    /// relative to the current directory, as gRPC and others accept it). <c>unix://NAME/...</c> is refused rather than
    /// guessed at: it reads as a host called NAME.
    /// </summary>
    private static StreamEndpoint ParseUnix(string text)
    {
        string rest = text[(UnixScheme.Length + 1)..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            rest = rest[2..];
            if (rest.Length > 0 && !rest.StartsWith('/'))
            {
                throw new FormatException($"'{text}': a Unix socket address is unix:///ABSOLUTE/PATH (three slashes) or unix:RELATIVE/PATH.");
            }
        }

        return ParseUnixPath(rest, text);
    }

    private static StreamEndpoint ParseUnixPath(string path, string text)
    {
        if (path.Length == 0 || path.EndsWith('/'))
        {
            throw new FormatException($"'{text}': no socket file name: use unix:///ABSOLUTE/PATH or unix:RELATIVE/PATH.");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new FormatException($"'{text}': a Unix socket path cannot contain a NUL character.");
        }

        // Made absolute now: the banner, the logs and the cleanup on shutdown all name the same file whatever the
        // current directory is later.
        string full = Path.GetFullPath(path);
        int bytes = System.Text.Encoding.UTF8.GetByteCount(full);
        if (bytes > MaxUnixPathBytes)
        {
            throw new FormatException($"Unix socket path '{full}' is {bytes} bytes long; the limit is {MaxUnixPathBytes}: pick a shorter path.");
        }

        return new StreamEndpoint(UnixScheme, full, 0);
    }

    /// <summary>The address to connect a socket to: a <see cref="UnixDomainSocketEndPoint"/>, or the resolved IP endpoint.</summary>
    public async Task<EndPoint> ToEndPointAsync(CancellationToken cancellationToken) =>
        IsUnix ? new UnixDomainSocketEndPoint(Host) : await ResolveAsync(cancellationToken);

    /// <summary>A stream socket of the right family for this endpoint (not connected).</summary>
    public Socket CreateSocket(EndPoint address) => IsUnix
        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        : new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);

    public async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        if (IsUnix)
        {
            throw new InvalidOperationException($"{this} is a Unix socket, not an IP address.");
        }

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

    public override string ToString() => IsUnix ? $"unix://{Host}" : Host.Contains(':', StringComparison.Ordinal) ? $"{Scheme}://[{Host}]:{Port}" : $"{Scheme}://{Host}:{Port}";
}
