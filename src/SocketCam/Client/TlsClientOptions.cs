using System.Globalization;

namespace SocketCam.Client;

/// <summary>
/// How a client trusts a `tls://` hub (`--ca`, `--fingerprint`). With neither: the system's trusted roots and the host
/// name, as a browser would. With <see cref="CaFile"/>: certificates chaining to the file's (PEM) certificates, and the
/// host name. With <see cref="Fingerprint"/>: exactly the certificate of that SHA-256 (what `serve --tls` prints), and
/// nothing else; its name and chain do not matter then (a self-signed hub reached by any address).
/// </summary>
public sealed record TlsClientOptions
{
    /// <summary>PEM file of the certificates (a CA, or the hub's own) to trust instead of the system store; default null.</summary>
    public string? CaFile { get; init; }

    /// <summary>The pinned certificate's SHA-256, 64 hex digits upper case without separators (<see cref="ParseFingerprint"/>); default null.</summary>
    public string? Fingerprint { get; init; }

    /// <summary>
    /// A SHA-256 fingerprint as users paste it: hex with or without colons (or spaces), any case; returns 64 upper-case
    /// hex digits or throws <see cref="FormatException"/> naming the expected form.
    /// </summary>
    public static string ParseFingerprint(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string hex = new([.. text.Where(c => c is not (':' or ' ' or '-'))]);
        if (text.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[6..];
        }

        if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
        {
            throw new FormatException($"--fingerprint '{text}' is not a SHA-256 fingerprint: 64 hex digits, with or without colons (as `serve --tls` prints it).");
        }

        return hex.ToUpper(CultureInfo.InvariantCulture);
    }

    /// <summary>64 hex digits as pairs joined by colons, as the banner prints them.</summary>
    public static string WithColons(string hex) => string.Join(':', Enumerable.Range(0, hex.Length / 2).Select(i => hex.Substring(i * 2, 2)));
}
