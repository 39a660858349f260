using System.Text.Json;
using SocketCam.Tests.Support;
using SocketCam.Web.Tls;

namespace SocketCam.Tests.Udp;

/// <summary>`serve --tls --udp` and `view udp+tls://` (encrypted UDP, issue 16 part 3) as a user runs them, and the bench's udp+tls.</summary>
[Collection(NetworkCollection.Name)]
public sealed class EncryptedUdpCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udptls-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_tls_with_udp_prints_an_encrypted_view_command_that_works_beside_plain_udp()
    {
        string data = Path.Combine(_directory, "data");
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--tls", "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--http", "off",
            "--data", data, "--source", "pattern", "--size", "160x120", "--fps", "15", "--quiet");
        string sealedLine = await serve.WaitForStdoutLineAsync(l => l.Contains("socketcam view udp+tls://", StringComparison.Ordinal), TestHub.Timeout);
        string plainLine = Assert.Single(serve.Stdout, l => l.Contains("socketcam view udp://", StringComparison.Ordinal));
        ServerCertificate certificate = ServerCertificate.LoadOrCreate(data);

        // The banner's command as printed (pinned to the certificate), plus what makes it end.
        string[] printed = sealedLine.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.Equal(["view", printed[1], "--fingerprint", certificate.Fingerprint], printed);
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, TestHub.Timeout, [.. printed, "--frames", "10", "--json", "--quiet", "--no-reconnect"]);
        await using (view)
        {
            Assert.True(code == 0, view.Transcript() + serve.Transcript());
            JsonElement json = view.LastJsonLine();
            Assert.Equal(10, json.GetProperty("frames").GetInt64());
            Assert.Equal(160, json.GetProperty("width").GetInt32());
        }

        string[] plain = plainLine.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
        (code, view) = await CliProcess.RunAsync(_directory, TestHub.Timeout, [.. plain, "--frames", "5", "--quiet", "--no-reconnect"]);
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
        }

        // Without the pin the key exchange fails like any tls:// client: one line naming the certificate.
        (code, view) = await CliProcess.RunAsync(_directory, TestHub.Timeout, "view", printed[1], "--frames", "1", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.NotEqual(0, code);
            Assert.Contains(view.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal) && l.Contains(certificate.FingerprintWithColons, StringComparison.Ordinal));
            SeedCli.AssertNoStackTrace(view);
        }

        Assert.Contains(serve.Stderr, l => l.Contains("udp key for a viewer", StringComparison.Ordinal));
        SeedCli.AssertNoStackTrace(serve);
    }

    [Fact]
    public async Task Bench_compares_plain_and_encrypted_udp_in_one_run()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, TimeSpan.FromMinutes(2),
            "bench", "--transport", "udp,udp+tls", "--viewers", "2", "--size", "320x240", "--fps", "30", "--frames", "30", "--json");
        await using (bench)
        {
            Assert.True(code == 0, bench.Transcript());
            string[] transports = [.. bench.Stdout.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("transport").GetString()!)];
            Assert.Equal(["udp", "udp+tls"], transports);
        }
    }
}
