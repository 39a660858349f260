using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SocketCam.Web.Tls;

/// <summary>
/// The certificate `serve --https` presents: the user's own (`--cert FILE --key FILE`, PEM), or one SocketCam makes on
/// first run and keeps in its data directory (<c>DIR/tls/cert.pem</c>, <c>key.pem</c>): ECDSA P-256, valid a year, its
/// subject alternative names every local address, "localhost" and the host name, so a phone on the LAN can be told to
/// trust exactly it (by its SHA-256 fingerprint, which the banner prints). Made again when it is about to expire or no
/// longer names an address this machine has.
/// </summary>
public sealed class ServerCertificate
{
    private static readonly TimeSpan Validity = TimeSpan.FromDays(365);
    private static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    private ServerCertificate(X509Certificate2 certificate, string? path, bool created)
    {
        Certificate = certificate;
        Path = path;
        Created = created;
        Fingerprint = Convert.ToHexString(SHA256.HashData(certificate.RawData));
    }

    /// <summary>The certificate with its private key, for Kestrel.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>SHA-256 of the certificate (DER), 64 hex digits: what a client pins (`--fingerprint`), what a person compares.</summary>
    public string Fingerprint { get; }

    /// <summary>The fingerprint as browsers and openssl show it: pairs of hex digits separated by colons.</summary>
    public string FingerprintWithColons => string.Join(':', Enumerable.Range(0, Fingerprint.Length / 2).Select(i => Fingerprint.Substring(i * 2, 2)));

    /// <summary>The PEM file of a generated certificate (a client's `--ca`, curl's `--cacert`); null for the user's own.</summary>
    public string? Path { get; }

    /// <summary>Whether this run made it (the banner says so: browsers will ask to trust it once).</summary>
    public bool Created { get; }

    /// <summary>The user's certificate and key (PEM); an unreadable or mismatched pair is one <see cref="IOException"/> line.</summary>
    public static ServerCertificate FromFiles(string certFile, string keyFile)
    {
        try
        {
            return new ServerCertificate(Exportable(X509Certificate2.CreateFromPemFile(certFile, keyFile)), null, created: false);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new IOException($"cannot use --cert {certFile} --key {keyFile}: {ex.Message.Trim()} (give a PEM certificate and its PEM private key)", ex);
        }
    }

    /// <summary>The generated certificate in <paramref name="dataDirectory"/>/tls, made (or made again) when needed.</summary>
    public static ServerCertificate LoadOrCreate(string dataDirectory)
    {
        string directory = System.IO.Path.Combine(dataDirectory, "tls");
        string certPath = System.IO.Path.Combine(directory, "cert.pem");
        string keyPath = System.IO.Path.Combine(directory, "key.pem");
        IReadOnlyList<IPAddress> addresses = LocalAddresses();
        try
        {
            // Two servers starting at once on one data directory must not write the pair over each other.
            Directory.CreateDirectory(directory);
            using FileStream held = HoldLock(System.IO.Path.Combine(directory, ".lock"));
            if (File.Exists(certPath) && File.Exists(keyPath))
            {
                X509Certificate2 existing = Exportable(X509Certificate2.CreateFromPemFile(certPath, keyPath));
                if (existing.NotAfter.ToUniversalTime() - DateTime.UtcNow > RenewBefore && Covers(existing, addresses))
                {
                    return new ServerCertificate(existing, certPath, created: false);
                }

                existing.Dispose();
            }

            Directory.CreateDirectory(directory);
            using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN=SocketCam on {Dns.GetHostName()}", key, HashAlgorithmName.SHA256);
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddDnsName(Dns.GetHostName());
            foreach (IPAddress address in addresses)
            {
                names.AddIpAddress(address);
            }

            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
            DateTimeOffset now = DateTimeOffset.UtcNow;
            using X509Certificate2 made = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(Validity));
            // The key first, readable by its owner only; then the certificate (a half-written pair is made again next run).
            WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(certPath, made.ExportCertificatePem());
            return new ServerCertificate(Exportable(X509Certificate2.CreateFromPemFile(certPath, keyPath)), certPath, created: true);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot make or read the HTTPS certificate in {directory}: {ex.Message.Trim()} (choose another --data DIR, or give --cert and --key)", ex);
        }
    }

    /// <summary>This machine's unicast addresses on interfaces that are up, loopback included.</summary>
    public static IReadOnlyList<IPAddress> LocalAddresses()
    {
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        try
        {
            foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces().Where(n => n.OperationalStatus == OperationalStatus.Up))
            {
                foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    IPAddress a = unicast.Address;
                    if (a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal)
                    {
                        // A certificate names an address without a scope (IPv6 zone); a copy, the interface's is shared.
                        var bare = new IPAddress(a.GetAddressBytes());
                        if (!addresses.Contains(bare))
                        {
                            addresses.Add(bare);
                        }
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
        }

        return addresses;
    }

    private static bool Covers(X509Certificate2 certificate, IReadOnlyList<IPAddress> addresses)
    {
        X509SubjectAlternativeNameExtension? names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (names is null)
        {
            return false;
        }

        var named = names.EnumerateIPAddresses().ToHashSet();
        return addresses.All(named.Contains);
    }

    /// <summary>A PEM-loaded key is ephemeral; SslStream on Linux wants it as a PKCS#12 round trip.</summary>
    private static X509Certificate2 Exportable(X509Certificate2 pem)
    {
        using (pem)
        {
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
    }

    /// <summary>An exclusive lock file (flock on Unix, taken without waiting: retried for up to 10 s).</summary>
    private static FileStream HoldLock(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 200)
            {
                Thread.Sleep(50);
            }
        }
    }

    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
