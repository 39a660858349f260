using System.Text;

namespace SocketCam.Transport;

/// <summary>
/// What a client reached when the answer was not a hub's preface ('SCAM'), told from its first bytes, and the address
/// to use instead: one line for someone who typed the HTTP port, a TLS port, a seed server's or an SSH server's.
/// </summary>
public static class PortHints
{
    /// <summary>The one wording for a TLS port reached in plaintext, from either side (the hub answers a plaintext client with it too).</summary>
    public static string SpeaksTls(string subject, string hostPort) => $"{subject} speaks TLS: connect with tls://{hostPort}";

    /// <summary>The line for <paramref name="endpoint"/> answering with <paramref name="seen"/>, or null when they say nothing we know.</summary>
    public static string? Explain(StreamEndpoint endpoint, ReadOnlySpan<byte> seen)
    {
        if (endpoint.IsUnix || seen.IsEmpty)
        {
            return null;
        }

        string hostPort = endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]:{endpoint.Port}" : $"{endpoint.Host}:{endpoint.Port}";
        bool tls = string.Equals(endpoint.Scheme, StreamEndpoint.TlsScheme, StringComparison.Ordinal);
        if (StartsWith(seen, "HTTP"u8))
        {
            // An HTTP server answers our preface with 400 (inside TLS when we came with tls:// to an HTTPS port).
            string web = tls ? "https" : "http";
            return $"{hostPort} is an HTTP port, not the hub's native port: open {web}://{hostPort}/ in a browser, or view the hub's native port (default {StreamEndpoint.DefaultPort})";
        }

        // A TLS record header: alert (0x15) or handshake (0x16), then version major 3.
        if (seen.Length >= 2 && seen[0] is 0x15 or 0x16 && seen[1] == 0x03)
        {
            return SpeaksTls(hostPort, hostPort) + (tls ? "" : " (an HTTPS port is for browsers: open https://" + hostPort + "/)");
        }

        if (StartsWith(seen, "SSH-"u8))
        {
            return $"{hostPort} is an SSH server, not a SocketCam hub: check the port (a hub listens on {StreamEndpoint.DefaultPort} by default)";
        }

        // The seed tutorials' format: an 8-byte length (either byte order, well under 4 GB) and a pickle (PROTO opcode 0x80).
        if (seen.Length >= 9 && seen[8] == 0x80 && (seen[4..8].IndexOfAnyExcept((byte)0) < 0 || seen[..4].IndexOfAnyExcept((byte)0) < 0))
        {
            return $"{hostPort} serves the seed tutorials' format (pickled frames), not the hub's: view it with seed+tcp://{hostPort}";
        }

        return null;
    }

    private static bool StartsWith(ReadOnlySpan<byte> seen, ReadOnlySpan<byte> prefix) =>
        seen.Length >= prefix.Length ? seen.StartsWith(prefix) : prefix.StartsWith(seen) && seen.Length >= 2;
}
