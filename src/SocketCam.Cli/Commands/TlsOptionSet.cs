using System.CommandLine;
using SocketCam.Client;
using SocketCam.Protocol;

namespace SocketCam.Cli.Commands;

/// <summary>
/// A client's trust in a `tls://` hub (--ca, --fingerprint), spelled and documented once for view, publish, call,
/// snapshot, rooms and bench, and turned into <see cref="TlsClientOptions"/> in one place.
/// </summary>
internal sealed class TlsOptionSet
{
    public Option<string?> Ca { get; } = new("--ca")
    {
        HelpName = "FILE",
        Description = "tls:// only: trust the hub's certificate if it chains to one in FILE (PEM: a CA or the hub's cert.pem); see docs/SECURITY.md",
    };

    public Option<string?> Fingerprint { get; } = new("--fingerprint")
    {
        HelpName = "SHA256",
        Description = "tls:// only: trust exactly the certificate with this SHA-256 (as `serve --tls` prints it); see docs/SECURITY.md",
    };

    public TlsOptionSet()
    {
        Fingerprint.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text)
            {
                try
                {
                    TlsClientOptions.ParseFingerprint(text);
                }
                catch (FormatException ex)
                {
                    // Validators run inside Parse, outside CliHost: report, never throw.
                    r.AddError(ex.Message);
                }
            }
        });
    }

    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Ca);
        command.Options.Add(Fingerprint);
    }

    /// <summary>The trust chosen; null (the system store and the host name) when neither option is given.</summary>
    /// <param name="url">the hub's URL as given: a trust option on one without TLS is a mistake said in one line, not ignored</param>
    public TlsClientOptions? Get(ParseResult result, string url)
    {
        string? ca = result.GetValue(Ca);
        string? fingerprint = result.GetValue(Fingerprint);
        if (ca is not null && fingerprint is not null)
        {
            throw new ArgumentException("--ca and --fingerprint are two ways to trust the hub: give one.");
        }

        if ((ca ?? fingerprint) is not null && !UsesTls(url))
        {
            throw new ArgumentException(
                $"{(ca is null ? "--fingerprint" : "--ca")} is for a hub reached over TLS, and {PrintableText.Of(url)} is not encrypted: use tls://HOST:PORT (or udp+tls://).");
        }

        if (ca is not null)
        {
            // Read now, so a wrong path is one line before connecting rather than a refused handshake later.
            ClientTls.LoadCaFile(ca);
        }

        return ca is null && fingerprint is null ? null : new TlsClientOptions
        {
            CaFile = ca is null ? null : Path.GetFullPath(ca),
            Fingerprint = fingerprint is null ? null : TlsClientOptions.ParseFingerprint(fingerprint),
        };
    }

    private static bool UsesTls(string url) =>
        url.StartsWith(ClientTls.Scheme + "://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith(UdpKeyExchange.Scheme + "://", StringComparison.OrdinalIgnoreCase);
}
