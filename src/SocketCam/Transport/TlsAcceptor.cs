using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace SocketCam.Transport;

/// <summary>
/// The server side of TLS on a stream listener (`serve --tls`): one certificate context built once for every
/// connection, TLS 1.2 and 1.3 only, no client certificates; and the first-byte peek that tells a TLS client (its
/// ClientHello starts a handshake record, 0x16) from a plaintext one, so the latter can be told what to do instead.
/// </summary>
internal sealed class TlsAcceptor
{
    /// <summary>A TLS record of type handshake: the first byte of every ClientHello.</summary>
    public const byte HandshakeRecord = 0x16;

    private readonly SslServerAuthenticationOptions _options;

    public TlsAcceptor(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("The TLS certificate has no private key.", nameof(certificate));
        }

        Fingerprint = certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
        _options = new SslServerAuthenticationOptions
        {
            // offline: a self-signed or private certificate must not make every handshake wait for a chain download.
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, null, offline: true),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            AllowRenegotiation = false,
        };
    }

    /// <summary>The certificate's SHA-256, upper-case hex without separators (logs).</summary>
    public string Fingerprint { get; }

    /// <summary>The first byte the peer sent, left in the socket for whoever reads next; null when it closed first.</summary>
    public static async Task<byte?> PeekFirstByteAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] first = new byte[1];
        int read = await socket.ReceiveAsync(first, SocketFlags.Peek, cancellationToken);
        return read == 0 ? null : first[0];
    }

    /// <summary>Runs the server handshake over <paramref name="socket"/>, bounded by <paramref name="cancellationToken"/>.</summary>
    public Task<ConnectionStream> AuthenticateAsync(Socket socket, CancellationToken cancellationToken) =>
        ConnectionStream.TlsAsync(socket, tls => tls.AuthenticateAsServerAsync(_options, cancellationToken));
}
