using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using SocketCam.Tests.Support;
using SocketCam.Web;
using SocketCam.Web.Tls;
using Xunit;

namespace SocketCam.Tests.Web;

/// <summary>`serve --https` (issue 16, first part): the generated certificate, and real curl and openssl talking TLS to Kestrel.</summary>
[Collection(NetworkCollection.Name)]
public sealed class HttpsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-https-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_generated_certificate_names_every_local_address_is_kept_and_reused_with_its_key_private()
    {
        ServerCertificate first = ServerCertificate.LoadOrCreate(_directory);
        Assert.True(first.Created);
        Assert.Equal(64, first.Fingerprint.Length);
        X509SubjectAlternativeNameExtension names = first.Certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("localhost", names.EnumerateDnsNames());
        Assert.Contains(IPAddress.Loopback, names.EnumerateIPAddresses());
        Assert.All(ServerCertificate.LocalAddresses(), a => Assert.Contains(a, names.EnumerateIPAddresses()));
        using (System.Security.Cryptography.ECDsa? key = first.Certificate.GetECDsaPrivateKey())
        {
            Assert.Equal(256, key!.KeySize);
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, "tls", "key.pem")));
        }

        ServerCertificate again = ServerCertificate.LoadOrCreate(_directory);
        Assert.False(again.Created);
        Assert.Equal(first.Fingerprint, again.Fingerprint);
    }

    [Fact]
    public async Task Curl_reads_healthz_and_the_api_over_https_trusting_the_generated_certificate_and_openssl_negotiates_TLS_1_3()
    {
        ServerCertificate certificate = ServerCertificate.LoadOrCreate(_directory);
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: "main", web: o => o with { Https = new HttpsOptions(new IPEndPoint(IPAddress.Loopback, 0), certificate) });
        int port = server.Web.HttpsEndPoint!.Port;

        (int code, string output) = await RunAsync("curl", "-sS", "--cacert", certificate.Path!, $"https://127.0.0.1:{port}/healthz");
        Assert.True(code == 0, output);
        Assert.Equal("ok", output.Trim());
        (code, output) = await RunAsync("curl", "-sS", "--cacert", certificate.Path!, $"https://localhost:{port}/api/rooms");
        Assert.True(code == 0, output);
        Assert.Contains("\"main\"", output, StringComparison.Ordinal);
        // Without trusting it, curl refuses: the certificate is not a public one, and nothing pretends it is.
        (code, _) = await RunAsync("curl", "-sS", $"https://127.0.0.1:{port}/healthz");
        Assert.NotEqual(0, code);

        (code, output) = await RunAsync("openssl", "s_client", "-connect", $"127.0.0.1:{port}", "-tls1_3", "-CAfile", certificate.Path!, "-brief");
        Assert.Contains("TLSv1.3", output, StringComparison.Ordinal);
        Assert.Contains("Verification: OK", output, StringComparison.Ordinal);
        (code, output) = await RunAsync("openssl", "s_client", "-connect", $"127.0.0.1:{port}", "-tls1_1", "-brief");
        Assert.DoesNotContain("Protocol version: TLSv1.1", output, StringComparison.Ordinal);
        Assert.NotEqual(0, code);

        // Plain HTTP goes on as before next to it.
        Assert.Equal("ok", (await server.Http.GetStringAsync("/healthz")).Trim());
    }

    [Fact]
    public async Task Ffmpeg_reads_the_live_mjpeg_stream_over_https_verifying_the_generated_certificate()
    {
        ServerCertificate certificate = ServerCertificate.LoadOrCreate(_directory);
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: "main", web: o => o with { Https = new HttpsOptions(new IPEndPoint(IPAddress.Loopback, 0), certificate) });
        string url = $"https://127.0.0.1:{server.Web.HttpsEndPoint!.Port}/stream.mjpg";

        // framemd5 prints one line per decoded frame: three frames of the live stream, decoded through TLS.
        (int code, string output) = await RunAsync("ffmpeg", "-hide_banner", "-loglevel", "error", "-tls_verify", "1", "-ca_file", certificate.Path!,
            "-i", url, "-frames:v", "3", "-f", "framemd5", "-");
        Assert.True(code == 0, output);
        Assert.Equal(3, output.Split('\n').Count(l => l.StartsWith("0,", StringComparison.Ordinal)));

        // Verifying without the certificate as CA fails: ffmpeg is not quietly trusting anything.
        (code, output) = await RunAsync("ffmpeg", "-hide_banner", "-loglevel", "error", "-tls_verify", "1", "-i", url, "-frames:v", "1", "-f", "null", "-");
        Assert.NotEqual(0, code);
    }

    [Fact]
    public async Task Serve_https_prints_the_https_urls_and_the_fingerprint_curl_can_check()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--http", "127.0.0.1:0",
            "--https", "127.0.0.1:0", "--data", Path.Combine(_directory, "data"), "--source", "pattern", "--size", "160x120", "--quiet");
        string line = await serve.WaitForStdoutLineAsync(l => l.Contains("HTTPS listening on https://", StringComparison.Ordinal), TestHub.Timeout);
        string url = line[line.IndexOf("https://", StringComparison.Ordinal)..].Split(' ')[0].Trim();
        string fingerprintLine = await serve.WaitForStdoutLineAsync(l => l.Contains("SHA-256", StringComparison.Ordinal), TestHub.Timeout);
        ServerCertificate certificate = ServerCertificate.LoadOrCreate(Path.Combine(_directory, "data"));
        Assert.Contains(certificate.FingerprintWithColons, fingerprintLine, StringComparison.Ordinal);
        Assert.Contains(serve.Stdout, l => l.Contains("/call/main", StringComparison.Ordinal) && l.Contains("https://", StringComparison.Ordinal));

        (int code, string output) = await RunAsync("curl", "-sS", "--cacert", certificate.Path!, url + "/healthz");
        Assert.True(code == 0, output + serve.Transcript());
        Assert.Equal("ok", output.Trim());
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(TestHub.Timeout));
    }

    private static async Task<(int Code, string Output)> RunAsync(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using Process process = Process.Start(info)!;
        process.StandardInput.Close(); // openssl s_client waits for input otherwise
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TestHub.Timeout);
        return (process.ExitCode, await stdout + await stderr);
    }
}
