using SocketCam.Auth;
using SocketCam.Tests.Support;
using Xunit;

namespace SocketCam.Tests.Auth;

/// <summary>
/// Secure by default, as a user meets it (issue 16): `serve` beyond loopback makes up a token and prints it in its
/// commands, keeps it across restarts, `--open` asks for none, and `socketcam token` makes scoped ones the hub checks.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class AccessCliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-access-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private CliProcess Serve(int port, params string[] extra) =>
        CliProcess.Start(_directory, ["serve", "--listen", $"0.0.0.0:{port}", "--udp", "off", "--http", "off", "--data", Path.Combine(_directory, "data"), "--size", "160x120", "--fps", "10", "--quiet", .. extra]);

    private async Task<(int Code, CliProcess View)> ViewAsync(int port, params string[] extra) =>
        await CliProcess.RunAsync(_directory, Wait, ["view", $"tcp://127.0.0.1:{port}", "--frames", "3", "--no-reconnect", "--quiet", .. extra]);

    [Fact]
    public async Task Serve_beyond_loopback_makes_up_a_token_prints_it_in_its_commands_and_keeps_it_across_restarts()
    {
        int port = FreePorts.Tcp();
        string token;
        await using (CliProcess serve = Serve(port))
        {
            string line = await serve.WaitForStdoutLineAsync(l => l.StartsWith("  access token: ", StringComparison.Ordinal), Wait);
            token = line["  access token: ".Length..].Split(' ')[0];
            Assert.Equal(22, token.Length);
            Assert.Contains(serve.Stdout, l => l.Contains($"socketcam view tcp://", StringComparison.Ordinal) && l.EndsWith($" --token {token}", StringComparison.Ordinal));
            Assert.Contains(Path.Combine(_directory, "data", SecretFile.AccessTokenFileName), line, StringComparison.Ordinal);

            // Without it: one line that says what is missing; with it (copied from the banner): frames.
            (int refusedCode, CliProcess refused) = await ViewAsync(port);
            await using (refused)
            {
                Assert.Equal(1, refusedCode);
                Assert.Contains(refused.Stderr, l => l.Contains("this hub needs a token", StringComparison.Ordinal));
            }

            (int code, CliProcess view) = await ViewAsync(port, "--token", token);
            await using (view)
            {
                Assert.True(code == 0, view.Transcript());
            }

            await serve.InterruptAsync();
            Assert.Equal(0, await serve.WaitForExitAsync(Wait));
        }

        // The same data directory: the same token, so printed URLs and open pages keep working after a restart.
        await using (CliProcess again = Serve(port))
        {
            string line = await again.WaitForStdoutLineAsync(l => l.StartsWith("  access token: ", StringComparison.Ordinal), Wait);
            Assert.StartsWith($"  access token: {token} ", line, StringComparison.Ordinal);
            await again.InterruptAsync();
            Assert.Equal(0, await again.WaitForExitAsync(Wait));
        }
    }

    [Fact]
    public async Task Open_asks_for_no_token_and_says_what_that_exposes_and_loopback_needs_none()
    {
        int port = FreePorts.Tcp();
        await using (CliProcess serve = Serve(port, "--open"))
        {
            await serve.WaitForStdoutLineAsync(l => l.StartsWith("  --open: no token; anyone who can reach these ports", StringComparison.Ordinal), Wait);
            Assert.DoesNotContain(serve.Stdout, l => l.Contains("--token", StringComparison.Ordinal) && l.Contains("socketcam view", StringComparison.Ordinal));
            (int code, CliProcess view) = await ViewAsync(port);
            await using (view)
            {
                Assert.True(code == 0, view.Transcript());
            }

            await serve.InterruptAsync();
            Assert.Equal(0, await serve.WaitForExitAsync(Wait));
        }

        await using CliProcess local = CliProcess.Start(_directory, "serve", "--listen", $"127.0.0.1:{port}", "--udp", "off", "--data", "off", "--size", "160x120", "--quiet");
        await local.WaitForStdoutLineAsync(l => l.StartsWith("  Ctrl+C stops", StringComparison.Ordinal), Wait);
        // HTTP followed --listen onto loopback (on 0.0.0.0 it would have made this hub ask for a token).
        Assert.DoesNotContain(local.Stdout, l => l.Contains("token", StringComparison.Ordinal));
        await local.InterruptAsync();
        Assert.Equal(0, await local.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task A_token_made_by_socketcam_token_lets_its_holder_watch_and_not_publish_and_open_contradicts_token()
    {
        string data = Path.Combine(_directory, "data");
        (int made, CliProcess tokenCli) = await CliProcess.RunAsync(_directory, Wait, "token", "--data", data, "--identity", "carol", "--room", "main", "--grants", "subscribe", "--ttl", "10m");
        string token;
        await using (tokenCli)
        {
            Assert.True(made == 0, tokenCli.Transcript());
            token = Assert.Single(tokenCli.Stdout, l => l.Length > 0);
            Assert.Contains(tokenCli.Stderr, l => l.StartsWith("socketcam: a token for 'carol' in room 'main': subscribe, until ", StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(data, SecretFile.KeyFileName)));
        }

        int port = FreePorts.Tcp();
        await using CliProcess serve = Serve(port);
        await serve.WaitForStdoutLineAsync(l => l.StartsWith("  access token: ", StringComparison.Ordinal), Wait);

        (int code, CliProcess view) = await ViewAsync(port, "--token", token);
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
        }

        (int publishCode, CliProcess publish) = await CliProcess.RunAsync(_directory, Wait, "publish", $"tcp://127.0.0.1:{port}", "--room", "main", "--source", "pattern", "--seconds", "5", "--no-reconnect", "--quiet", "--token", token);
        await using (publish)
        {
            Assert.NotEqual(0, publishCode);
            Assert.Contains(publish.Stderr, l => l.Contains("does not grant publish", StringComparison.Ordinal));
            Assert.DoesNotContain(token, publish.Transcript(), StringComparison.Ordinal);
        }

        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(Wait));

        (int both, CliProcess contradiction) = await CliProcess.RunAsync(_directory, Wait, "serve", "--open", "--token", "x", "--http", "off");
        await using (contradiction)
        {
            Assert.NotEqual(0, both);
            Assert.Contains(contradiction.Stderr, l => l.Contains("--open and --token contradict each other", StringComparison.Ordinal));
        }
    }
}
