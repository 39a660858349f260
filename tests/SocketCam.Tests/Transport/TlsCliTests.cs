using System.Diagnostics;
using SocketCam.Tests.Support;
using SocketCam.Web.Tls;

namespace SocketCam.Tests.Transport;

/// <summary>
/// `serve --tls` end to end with the CLI as child processes: the banner's copy-pasteable `view tls://… --fingerprint`,
/// snapshot over TLS with --ca, real openssl negotiating TLS 1.3, and the one lines of a plaintext client and a wrong pin.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class TlsCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-tls-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_tls_prints_a_pinned_view_command_that_works_and_snapshot_openssl_and_the_refusals_behave()
    {
        string data = Path.Combine(_directory, "data");
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--tls", "--listen", "127.0.0.1:0", "--http", "off",
            "--data", data, "--source", "pattern", "--size", "160x120", "--fps", "15", "--quiet");
        string viewLine = await serve.WaitForStdoutLineAsync(l => l.Contains("socketcam view tls://", StringComparison.Ordinal), TestHub.Timeout);
        ServerCertificate certificate = ServerCertificate.LoadOrCreate(data);
        Assert.Contains(serve.Stdout, l => l.Contains("listening on tls://127.0.0.1:", StringComparison.Ordinal));
        Assert.Contains(serve.Stdout, l => l.Contains($"certificate SHA-256 {certificate.FingerprintWithColons}", StringComparison.Ordinal));
        Assert.DoesNotContain(serve.Stdout, l => l.Contains("udp://", StringComparison.Ordinal));

        // The banner's command as printed, plus what makes it end.
        string[] printed = viewLine.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.Equal(["view", printed[1], "--fingerprint", certificate.Fingerprint], printed);
        string url = printed[1];
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, TestHub.Timeout, [.. printed, "--frames", "5", "--no-reconnect", "--quiet"]);
        await using (view)
        {
            Assert.True(code == 0, view.Transcript() + serve.Transcript());
        }

        string snapshot = Path.Combine(_directory, "frame.jpg");
        (code, CliProcess snap) = await CliProcess.RunAsync(_directory, TestHub.Timeout, "snapshot", url, snapshot, "--ca", certificate.Path!);
        await using (snap)
        {
            Assert.True(code == 0, snap.Transcript());
            Assert.True(new FileInfo(snapshot).Length > 100);
        }

        (code, string output) = await RunToolAsync("openssl", "s_client", "-connect", url["tls://".Length..], "-tls1_3", "-CAfile", certificate.Path!, "-brief");
        Assert.Contains("TLSv1.3", output, StringComparison.Ordinal);
        Assert.Contains("Verification: OK", output, StringComparison.Ordinal);

        // A plaintext client: one line saying what to type instead.
        string plain = "tcp://" + url["tls://".Length..];
        (code, CliProcess wrongScheme) = await CliProcess.RunAsync(_directory, TestHub.Timeout, "view", plain, "--no-reconnect", "--quiet");
        await using (wrongScheme)
        {
            Assert.Equal(1, code);
            Assert.Contains(wrongScheme.Stderr, l => l.Contains($"this hub's port speaks TLS: connect with {url}", StringComparison.Ordinal));
        }

        // A pin given for a plaintext URL is a mistake said at once, before connecting, not a pin silently ignored.
        foreach (string command in new[] { "view", "publish", "snapshot", "rooms" })
        {
            string[] args = command switch
            {
                "snapshot" => [command, plain, Path.Combine(_directory, "never.jpg")],
                "rooms" => [command, plain],
                _ => [command, plain, "--no-reconnect"],
            };
            (code, CliProcess ignored) = await CliProcess.RunAsync(_directory, TestHub.Timeout, [.. args, "--fingerprint", certificate.Fingerprint]);
            await using (ignored)
            {
                Assert.True(code == 2, ignored.Transcript()); // a usage error, like any other wrong option
                string line = Assert.Single(ignored.Stderr, l => l.StartsWith("socketcam:", StringComparison.Ordinal));
                Assert.Contains("--fingerprint is for a hub reached over TLS", line, StringComparison.Ordinal);
                Assert.Contains("use tls://", line, StringComparison.Ordinal);
            }
        }

        // A wrong pin: one line naming the certificate the hub presented.
        (code, CliProcess wrongPin) = await CliProcess.RunAsync(_directory, TestHub.Timeout, "view", url, "--fingerprint", new string('a', 64), "--no-reconnect", "--quiet");
        await using (wrongPin)
        {
            Assert.Equal(1, code);
            string line = Assert.Single(wrongPin.Stderr, l => l.StartsWith("socketcam:", StringComparison.Ordinal));
            Assert.Contains(certificate.FingerprintWithColons, line, StringComparison.Ordinal);
            Assert.Contains("--fingerprint", line, StringComparison.Ordinal);
        }

        Assert.False(serve.HasExited, serve.Transcript());
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(TestHub.Timeout));
    }

    [Fact]
    public async Task Bench_compares_tcp_and_tls_in_one_run_with_the_hub_apart_and_measures_handshakes_per_second()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, TimeSpan.FromMinutes(2),
            "bench", "--transport", "tcp,tls", "--hub-process", "--viewers", "3", "--size", "320x240", "--fps", "30", "--frames", "30", "--json");
        await using (bench)
        {
            Assert.True(code == 0, bench.Transcript());
            string[] transports = [.. bench.Stdout.Where(l => l.StartsWith('{')).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("transport").GetString()!)];
            Assert.Equal(["tcp", "tls"], transports);
            JsonElementAssert(bench.LastJsonLine());
            Assert.Contains(bench.Stderr, l => l.StartsWith("comparison (3 viewers", StringComparison.Ordinal));
        }

        (code, CliProcess handshakes) = await CliProcess.RunAsync(_directory, TimeSpan.FromMinutes(2), "bench", "--handshakes", "50", "--concurrency", "4", "--json");
        await using (handshakes)
        {
            Assert.True(code == 0, handshakes.Transcript());
            System.Text.Json.JsonElement[] lines = [.. handshakes.Stdout.Where(l => l.StartsWith('{')).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)];
            Assert.Equal(["tcp", "tls"], lines.Select(j => j.GetProperty("transport").GetString()));
            Assert.All(lines, j => Assert.True(j.GetProperty("handshakes_per_second").GetDouble() > 0));
        }

        static void JsonElementAssert(System.Text.Json.JsonElement tls)
        {
            Assert.True(tls.GetProperty("fps").GetDouble() > 0);
            Assert.True(tls.GetProperty("hub_cpu_ms_per_frame").GetDouble() > 0);
            Assert.Equal(0, tls.GetProperty("corrupt").GetInt64());
        }
    }

    private static async Task<(int Code, string Output)> RunToolAsync(string tool, params string[] args)
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
