using System.Net;
using System.Net.Sockets;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Cli;

/// <summary>
/// The first mistakes of someone new to socketcam (issue 17): a room nobody publishes to, nothing listening, the wrong
/// kind of port, a taken address, a wrong file name. Each is one line that says what is wrong and what to type instead.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class NewcomerCliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-newcomer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_room_without_a_publisher_is_named_with_the_rooms_that_have_one_and_the_viewer_waits_for_it()
    {
        await using TestHub hub = TestHub.Start(captureRoom: "main", width: 160, height: 120, fps: 15);
        await using CliProcess view = CliProcess.Start(_directory, "view", hub.Url, "--room", "nosuch", "--frames", "3", "--no-reconnect", "--quiet");
        const string Expected = "Room 'nosuch' has no publisher yet (rooms with a publisher: 'main'); waiting for it to start";
        await Eventually.UntilAsync(() => view.Stderr.Any(l => l.EndsWith(Expected, StringComparison.Ordinal)), "view says the room has no publisher", TestHub.Timeout);
        Assert.False(view.HasExited, view.Transcript());

        // The publisher comes: the same viewer gets its frames and ends as asked.
        hub.StartCapture("nosuch", width: 160, height: 120, fps: 15);
        Assert.Equal(0, await view.WaitForExitAsync(ProcessTimeout));
        Assert.Single(view.Stderr, l => l.Contains("has no publisher", StringComparison.Ordinal));
        Assert.DoesNotContain(view.Stderr, l => l.StartsWith("socketcam:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Nothing_listening_is_said_once_then_retried_quietly_with_the_next_try_on_the_status_line()
    {
        int port = FreePorts.Tcp();
        // 6 s: several retries (250 ms doubling to 5 s), and one status line (every 5 s when redirected).
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", $"tcp://127.0.0.1:{port}", "--seconds", "6");
        await using (view)
        {
            Assert.True(code == 1, view.Transcript());
            string warning = Assert.Single(view.Stderr, l => l.Contains("warn:", StringComparison.Ordinal));
            Assert.EndsWith($"tcp://127.0.0.1:{port}: connection refused: is `socketcam serve` running there, and is {port} its port? Retrying until it answers", warning, StringComparison.Ordinal);
            Assert.Contains(view.Stderr, l => l.StartsWith("not connected (connection refused): retrying", StringComparison.Ordinal) && l.Contains(", attempt ", StringComparison.Ordinal));
        }

        // publish retries the same way: one warning, then its status line says it is not connected.
        (code, CliProcess publish) = await CliProcess.RunAsync(_directory, ProcessTimeout, "publish", $"tcp://127.0.0.1:{port}", "--source", "pattern", "--size", "160x120", "--seconds", "6");
        await using (publish)
        {
            string warning = Assert.Single(publish.Stderr, l => l.Contains("warn:", StringComparison.Ordinal));
            Assert.Contains("connection refused: is `socketcam serve` running there", warning, StringComparison.Ordinal);
            Assert.Contains(publish.Stderr, l => l.StartsWith("not connected (connection refused): retrying", StringComparison.Ordinal));
        }

        (code, view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", $"tcp://127.0.0.1:{port}", "--no-reconnect", "--quiet");
        await using (view)
        {
            Assert.True(code == 1, view.Transcript());
            string error = Assert.Single(view.Stderr, l => l.StartsWith("socketcam:", StringComparison.Ordinal));
            Assert.Equal($"socketcam: tcp://127.0.0.1:{port}: connection refused: is `socketcam serve` running there, and is {port} its port?", error);
            Assert.DoesNotContain(view.Stderr, l => l.Contains("warn:", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Viewing_the_http_https_or_seed_port_says_which_address_to_use()
    {
        int tcp = FreePorts.Tcp(), http = FreePorts.Tcp(), https = FreePorts.Tcp(), seed = FreePorts.Tcp();
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", $"127.0.0.1:{tcp}", "--udp", "off",
            "--http", $"127.0.0.1:{http}", "--https", $"127.0.0.1:{https}", "--seed-tcp", $"127.0.0.1:{seed}",
            "--data", Path.Combine(_directory, "data"), "--source", "pattern", "--size", "160x120", "--fps", "10", "--quiet");
        await serve.WaitForStdoutLineAsync(l => l.Contains("Ctrl+C stops the server", StringComparison.Ordinal), TestHub.Timeout);

        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{http} is an HTTP port, not the hub's native port: open http://127.0.0.1:{http}/ in a browser, or view the hub's native port (default 9999)",
            "view", $"tcp://127.0.0.1:{http}");
        // `socketcam rooms` reads the same first bytes.
        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{http} is an HTTP port, not the hub's native port: open http://127.0.0.1:{http}/ in a browser, or view the hub's native port (default 9999)",
            "rooms", $"tcp://127.0.0.1:{http}");
        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{seed} serves the seed tutorials' format (pickled frames), not the hub's: view it with seed+tcp://127.0.0.1:{seed}",
            "view", $"tcp://127.0.0.1:{seed}");
        // An HTTPS server drops a plaintext client without a byte: the line says what that usually means.
        await AssertOneLineAsync(
            $"socketcam: tcp://127.0.0.1:{https} closed the connection without answering: if that port speaks TLS (an HTTPS port does), use tls://; a hub's native port is 9999 by default",
            "view", $"tcp://127.0.0.1:{https}");
    }

    [Theory]
    [InlineData(new byte[] { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46 }, "127.0.0.1:8443 speaks TLS: connect with tls://127.0.0.1:8443 (an HTTPS port is for browsers: open https://127.0.0.1:8443/)")]
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x40 }, "127.0.0.1:8443 speaks TLS: connect with tls://127.0.0.1:8443 (an HTTPS port is for browsers: open https://127.0.0.1:8443/)")]
    [InlineData(new byte[] { (byte)'S', (byte)'S', (byte)'H', (byte)'-', (byte)'2' }, "127.0.0.1:8443 is an SSH server, not a SocketCam hub: check the port (a hub listens on 9999 by default)")]
    [InlineData(new byte[] { 0x12, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x04 }, "127.0.0.1:8443 serves the seed tutorials' format (pickled frames), not the hub's: view it with seed+tcp://127.0.0.1:8443")]
    [InlineData(new byte[] { 0x00, 0x01, 0x02, 0x03 }, null)]
    public void The_first_bytes_of_a_wrong_port_name_what_answered(byte[] seen, string? expected) =>
        Assert.Equal(expected, PortHints.Explain(new StreamEndpoint("tcp", "127.0.0.1", 8443), seen));

    [Fact]
    public async Task A_taken_address_names_itself_and_the_option_that_owns_it()
    {
        using Socket taken = ListenOnLoopback();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{port} is already in use (another serve?): stop it or pick another port with --listen HOST:PORT",
            "serve", "--listen", $"127.0.0.1:{port}", "--udp", "off", "--http", "off", "--data", "off", "--source", "pattern", "--quiet");
        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{port} is already in use (another serve?): stop it or pick another port with --seed-tcp HOST:PORT",
            "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--http", "off", "--data", "off", "--source", "pattern", "--seed-tcp", $"127.0.0.1:{port}", "--quiet");
        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{port} is already in use (another serve?): stop it or pick another port with --https HOST:PORT (or --https off)",
            "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--http", "127.0.0.1:0", "--https", $"127.0.0.1:{port}",
            "--data", Path.Combine(_directory, "data"), "--source", "pattern", "--quiet");
        await AssertOneLineAsync(
            $"socketcam: 127.0.0.1:{port} is already in use (another receive-image?): stop it or pick another port with --tcp HOST:PORT",
            "receive-image", "--tcp", $"127.0.0.1:{port}", "--out", Path.Combine(_directory, "in.jpg"));
    }

    [Fact]
    public async Task A_wrong_file_name_or_directory_is_named_in_our_words()
    {
        await AssertOneLineAsync(
            "socketcam: 'x.gif': the file name must end in .jpg, .jpeg or .png (a JPEG or PNG is written).",
            "snapshot", "tcp://127.0.0.1:1", "x.gif");
        string missing = Path.Combine(_directory, "no-such-dir");
        await AssertOneLineAsync(
            $"socketcam: --record '{missing}/x.mjpeg': the directory {missing} does not exist: create it or record somewhere else",
            "view", "tcp://127.0.0.1:1", "--record", Path.Combine(missing, "x.mjpeg"));
    }

    private async Task AssertOneLineAsync(string expected, params string[] args)
    {
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, [.. args, .. args[0] is "view" ? new[] { "--no-reconnect", "--quiet" } : []]);
        await using (cli)
        {
            Assert.True(code is 1 or 2, $"exit code {code}{Environment.NewLine}{cli.Transcript()}");
            string line = Assert.Single(cli.Stderr, l => l.StartsWith("socketcam:", StringComparison.Ordinal));
            Assert.Equal(expected, line);
            Assert.DoesNotContain(cli.Stderr, l => l.Contains("   at ", StringComparison.Ordinal));
        }
    }

    private static Socket ListenOnLoopback()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen();
        return socket;
    }
}
