using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Udp;

/// <summary>`serve --udp`, `view udp://` and `publish udp://` as a user runs them.</summary>
[Collection(NetworkCollection.Name)]
public sealed class UdpCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udp-cli-").FullName;

    [Fact]
    public async Task Serve_listens_on_UDP_at_its_listen_address_and_view_and_publish_use_it()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--source", "pattern", "--size", "320x240", "--quiet");
        string url = $"udp://127.0.0.1:{await SeedCli.UdpPortAsync(serve)}";

        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout, "view", url, "--frames", "20", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            JsonElement json = view.LastJsonLine();
            Assert.Equal(20, json.GetProperty("frames").GetInt64());
            Assert.Equal(320, json.GetProperty("width").GetInt32());
            Assert.True(json.TryGetProperty("loss_pct", out _) && json.TryGetProperty("recovered", out _) && json.TryGetProperty("frames_lost", out _), json.ToString());
        }

        await using CliProcess publish = CliProcess.Start(_directory, "publish", url, "--room", "cam", "--source", "pattern", "--size", "160x120", "--quiet");
        (code, view) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout, "view", url, "--room", "cam", "--frames", "10", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            Assert.Equal(160, view.LastJsonLine().GetProperty("width").GetInt32());
        }

        await publish.InterruptAsync();
        Assert.Equal(0, await publish.WaitForExitAsync(SeedCli.ProcessTimeout));
        // The publisher said BYE when it stopped: its room's viewers hear "publisher left" at once, not after an idle timeout.
        await Eventually.UntilAsync(() => serve.Stderr.Any(l => l.Contains("publisher left", StringComparison.Ordinal)), "the hub logs that the publisher left", TimeSpan.FromSeconds(4));
        SeedCli.AssertNoStackTrace(serve);
    }

    [Fact]
    public async Task An_explicit_UDP_address_that_is_taken_is_one_line_and_exit_code_1()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        (int code, CliProcess serve) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout, "serve", "--listen", "127.0.0.1:0", "--udp", $"127.0.0.1:{port}", "--http", "off");
        await using (serve)
        {
            Assert.Equal(1, code);
            string error = Assert.Single(serve.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Equal($"socketcam: 127.0.0.1:{port} is already in use (another serve?): stop it or pick another port with --udp HOST:PORT (or --udp off)", error);
            SeedCli.AssertNoStackTrace(serve);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
