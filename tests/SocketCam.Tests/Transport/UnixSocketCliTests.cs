using System.Text.Json;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Transport;

/// <summary>`serve --unix`, `view unix:///`, `publish unix:///` and `bench --transport unix` as a user runs them.</summary>
[Collection(NetworkCollection.Name)]
public sealed class UnixSocketCliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("scu-cli-").FullName;

    private string SocketPath => Path.Combine(_directory, "hub.sock");

    private string Url => "unix://" + SocketPath;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_on_a_Unix_socket_alone_serves_view_and_leaves_no_file_after_sigint()
    {
        await using CliProcess serve = StartServe("--listen", "off");
        string line = await serve.WaitForStdoutLineAsync(l => l.Contains("socketcam view unix://", StringComparison.Ordinal), ProcessTimeout);
        Assert.Equal($"socketcam view {Url}", line.Trim());
        Assert.DoesNotContain(serve.Stdout, l => l.Contains("tcp://", StringComparison.Ordinal));

        await AssertViewGetsFramesAsync();

        await serve.InterruptAsync();
        int code = await serve.WaitForExitAsync(ProcessTimeout);
        Assert.True(code == 0, $"serve exit code {code} after SIGINT{Environment.NewLine}{serve.Transcript()}");
        Assert.False(File.Exists(SocketPath), $"the socket file is still there after SIGINT{Environment.NewLine}{serve.Transcript()}");
        AssertNoStackTrace(serve);
    }

    [Fact]
    public async Task Serve_on_TCP_and_a_Unix_socket_at_once_serves_both()
    {
        await using CliProcess serve = StartServe("--listen", "127.0.0.1:0");
        string tcp = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        await serve.WaitForStdoutLineAsync(l => l == $"SocketCam hub listening on {Url}", ProcessTimeout);

        await AssertViewGetsFramesAsync();
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "view", tcp["SocketCam hub listening on ".Length..], "--frames", "5", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, $"TCP view exit code {code}{Environment.NewLine}{view.Transcript()}");
        }

        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(ProcessTimeout));
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task A_second_serve_on_a_live_Unix_socket_fails_with_one_line_and_the_first_keeps_serving()
    {
        await using CliProcess first = StartServe("--listen", "off");
        await first.WaitForStdoutLineAsync(l => l.Contains("socketcam view unix://", StringComparison.Ordinal), ProcessTimeout);

        (int code, CliProcess second) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "serve", "--unix", SocketPath, "--listen", "off", "--http", "off", "--source", "none", "--quiet");
        await using (second)
        {
            Assert.True(code == 1, $"second serve exit code {code}{Environment.NewLine}{second.Transcript()}");
            string error = Assert.Single(second.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Equal($"socketcam: --unix {SocketPath}: another process is listening on {SocketPath}: stop it or pick another path.", error);
            AssertNoStackTrace(second);
        }

        Assert.True(File.Exists(SocketPath));
        await AssertViewGetsFramesAsync();
        await first.InterruptAsync();
        Assert.Equal(0, await first.WaitForExitAsync(ProcessTimeout));
    }

    [Fact]
    public async Task Serve_replaces_the_stale_socket_file_a_killed_serve_left_behind()
    {
        await using (CliProcess crashed = StartServe("--listen", "off"))
        {
            await crashed.WaitForStdoutLineAsync(l => l.Contains("socketcam view unix://", StringComparison.Ordinal), ProcessTimeout);
            await crashed.KillAsync(); // SIGKILL: no cleanup, the file stays
            await crashed.WaitForExitAsync(ProcessTimeout);
        }

        Assert.True(File.Exists(SocketPath), "kill -9 should have left the socket file behind");
        await using CliProcess serve = StartServe("--listen", "off");
        await serve.WaitForStdoutLineAsync(l => l.Contains("socketcam view unix://", StringComparison.Ordinal), ProcessTimeout);
        await AssertViewGetsFramesAsync();
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(ProcessTimeout));
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task Serve_refuses_a_regular_file_at_the_path_and_leaves_it_alone()
    {
        await File.WriteAllTextAsync(SocketPath, "keep me");
        (int code, CliProcess serve) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "serve", "--unix", SocketPath, "--http", "off", "--listen", "127.0.0.1:0", "--source", "none", "--quiet");
        await using (serve)
        {
            Assert.Equal(1, code);
            Assert.Contains(serve.Stderr, l => l == $"socketcam: --unix {SocketPath}: the path exists and is not a socket: not replacing it (remove it yourself or pick another path).");
            AssertNoStackTrace(serve);
        }

        Assert.Equal("keep me", await File.ReadAllTextAsync(SocketPath));
    }

    [Fact]
    public async Task Serve_with_listen_off_and_no_unix_socket_is_a_usage_error()
    {
        (int code, CliProcess serve) = await CliProcess.RunAsync(_directory, ProcessTimeout, "serve", "--listen", "off", "--http", "off", "--source", "none");
        await using (serve)
        {
            Assert.Equal(2, code);
            Assert.Contains(serve.Stderr, l => l.Contains("--listen off leaves no way in", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Publish_over_a_Unix_socket_reaches_a_TCP_viewer()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null, unixSocketPath: SocketPath);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "cam");
        await using CliProcess publish = CliProcess.Start(_directory, "publish", Url, "--room", "cam", "--size", "160x120", "--fps", "30", "--quiet");

        await viewer.WaitForFramesAsync(10, ProcessTimeout);
        Assert.Equal(160, viewer.Stats.Width);
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains($"unix:{SocketPath} (pid {publish.Id}) joined room 'cam' as publisher", StringComparison.Ordinal));

        await publish.InterruptAsync();
        Assert.Equal(0, await publish.WaitForExitAsync(ProcessTimeout));
    }

    [Fact]
    public async Task Bench_over_a_Unix_socket_names_its_transport_and_leaves_no_socket_file()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, TimeSpan.FromSeconds(120),
            "bench", "--transport", "unix", "--codec", "raw", "--size", "320x240", "--frames", "50", "--json");
        await using (bench)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{bench.Transcript()}");
            JsonElement json = bench.LastJsonLine();
            Assert.Equal("unix", json.GetProperty("transport").GetString());
            Assert.Equal(0, json.GetProperty("corrupt").GetInt64());
            Assert.True(json.GetProperty("fps").GetDouble() > 0, bench.Transcript());
            Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"socketcam-bench-{bench.Id}-*"));
            Assert.Empty(Directory.GetFiles("/tmp", $"socketcam-bench-{bench.Id}-*"));
        }
    }

    [Fact]
    public async Task Bench_refuses_an_unknown_transport_with_one_line()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, ProcessTimeout, "bench", "--transport", "carrier-pigeon");
        await using (bench)
        {
            Assert.Equal(2, code);
            Assert.Contains(bench.Stderr, l => l == "socketcam: Unknown --transport 'carrier-pigeon': use tcp, tls, udp, udp+tls or unix (several: comma-separated).");
        }
    }

    private CliProcess StartServe(params string[] more) =>
        CliProcess.Start(_directory, ["serve", "--unix", SocketPath, "--http", "off", "--size", "320x240", "--quiet", .. more]);

    private async Task AssertViewGetsFramesAsync()
    {
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", Url, "--frames", "10", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, $"view exit code {code}{Environment.NewLine}{view.Transcript()}");
            JsonElement json = view.LastJsonLine();
            Assert.True(json.GetProperty("frames").GetInt64() >= 10);
            Assert.Equal(320, json.GetProperty("width").GetInt32());
        }
    }

    private static void AssertNoStackTrace(CliProcess process) =>
        Assert.False(process.Stderr.Concat(process.Stdout).Any(l => l.Contains("   at ", StringComparison.Ordinal)), $"a stack trace was printed{Environment.NewLine}{process.Transcript()}");
}
