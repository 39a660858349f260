using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SocketCam.Diagnostics;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>
/// The client side of `tls://`: the handshake over a connected socket, the certificate checked as
/// <see cref="TlsClientOptions"/> says, and every failure turned into one line that says what to do: a certificate not
/// trusted (naming --ca / --fingerprint and the fingerprint the hub presented), or a hub that does not speak TLS at all.
/// </summary>
internal static class ClientTls
{
    public const string Scheme = StreamEndpoint.TlsScheme;

    public static bool IsTls(StreamEndpoint endpoint) => string.Equals(endpoint.Scheme, Scheme, StringComparison.Ordinal);

    public static async Task<ConnectionStream> AuthenticateAsync(Socket socket, StreamEndpoint endpoint, TlsClientOptions? options, CancellationToken cancellationToken)
    {
        options ??= new TlsClientOptions();
        var check = new CertificateCheck(options);
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = check.Validate,
        };
        try
        {
            return await ConnectionStream.TlsAsync(socket, tls => tls.AuthenticateAsClientAsync(authentication, cancellationToken));
        }
        catch (Exception ex) when (check.Refusal(endpoint) is { } refusal && ex is AuthenticationException or IOException)
        {
            throw new UserFacingException(refusal, ex);
        }
        catch (AuthenticationException ex)
        {
            // The handshake broke before any certificate: the hub answered with something that is not TLS (its plaintext preface).
            throw new UserFacingException($"{endpoint}: the hub did not answer TLS; is it started with serve --tls? (use tcp:// for a plaintext hub)", ex);
        }
    }

    /// <summary>Loads the PEM certificates of a --ca file; a missing or empty file is one line.</summary>
    public static X509Certificate2Collection LoadCaFile(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new UserFacingException($"--ca {path}: {ex.Message}", ex);
        }

        return certificates.Count > 0 ? certificates : throw new UserFacingException($"--ca {path}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file.");
    }

    /// <summary>The validation callback and what it saw, for the one-line refusal.</summary>
    private sealed class CertificateCheck(TlsClientOptions options)
    {
        private string? _presented;
        private string? _reason;

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (certificate is null)
            {
                _presented = "none";
                _reason = "it presented no certificate";
                return false;
            }

            X509Certificate2 leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            _presented = leaf.GetCertHashString(HashAlgorithmName.SHA256);
            if (options.Fingerprint is { } pinned)
            {
                // A pin trusts exactly one certificate, whatever its names and issuer.
                if (string.Equals(_presented, pinned, StringComparison.Ordinal))
                {
                    return true;
                }

                _reason = $"it is not the --fingerprint given ({TlsClientOptions.WithColons(pinned)}): refusing (another hub, or someone in between)";
                return false;
            }

            if (options.CaFile is { } caFile)
            {
                return ValidateWithCa(leaf, caFile, errors);
            }

            if (errors == SslPolicyErrors.None)
            {
                return true;
            }

            _reason = Describe(errors) + "; pass --ca FILE (the hub's certificate or its CA, PEM) or --fingerprint with the SHA-256 `serve --tls` printed";
            return false;
        }

        private bool ValidateWithCa(X509Certificate2 leaf, string caFile, SslPolicyErrors errors)
        {
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            {
                _reason = $"its names do not include the address dialled; connect by a name it has, or pin it with --fingerprint";
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.CustomTrustStore.AddRange(LoadCaFile(caFile));
            if (chain.Build(leaf))
            {
                return true;
            }

            string status = string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            _reason = $"it does not chain to a certificate in --ca {caFile} ({status}); pass the right --ca or --fingerprint";
            return false;
        }

        /// <summary>The one line when this check refused the certificate; null when it did not (the failure was elsewhere).</summary>
        public string? Refusal(StreamEndpoint endpoint) => _reason is null ? null
            : $"{endpoint}: the hub's certificate (SHA-256 {(_presented is { Length: 64 } hex ? TlsClientOptions.WithColons(hex) : _presented)}) was refused: {_reason}.";

        private static string Describe(SslPolicyErrors errors) => errors switch
        {
            SslPolicyErrors.RemoteCertificateNameMismatch => "its names do not include the address dialled",
            SslPolicyErrors.RemoteCertificateChainErrors => "it is not signed by a CA this system trusts (self-signed?)",
            _ => "it is not signed by a CA this system trusts and its names do not include the address dialled",
        };
    }
}
