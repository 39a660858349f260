using Microsoft.Playwright;
using SocketCam.Tests.Support;
using Xunit;
using Side = SocketCam.Tests.Support.LossyNetwork.Side;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// The case issue 16 exists for: a browser on another machine. The hub runs in one network namespace and Chromium in
/// another, joined by a veth pair, so the page's address (10.199.N.1) is not loopback and plain http is not a secure
/// context. `serve` as a user starts it: its made-up token, its certificate, HTTPS by default.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class SecureContextBrowserTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-secure-context-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Chromium_on_another_address_is_sent_to_https_and_publishes_its_camera_there_and_plain_http_cannot()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync();
        string server = net.ServerAddress;
        await using CliProcess serve = net.StartCli(Side.Server,
            "serve", "--listen", $"{server}:9999", "--udp", "off", "--http", $"{server}:8080", "--data", Path.Combine(_directory, "data"), "--source", "none", "--quiet");
        string tokenLine = await serve.WaitForStdoutLineAsync(l => l.StartsWith("  access token: ", StringComparison.Ordinal), Wait);
        string token = tokenLine["  access token: ".Length..].Split(' ')[0];
        // HTTPS came by default, beside HTTP on the same address, with the call page's URL ready to copy.
        string callLine = await serve.WaitForStdoutLineAsync(l => l.Contains("video call from a phone or another computer: https://", StringComparison.Ordinal), Wait);
        Assert.Contains($"https://{server}:8443/call/main#token={token}", callLine, StringComparison.Ordinal);

        // Chromium itself runs inside the client's namespace: Playwright starts it through `ip netns exec`, which keeps the
        // pipe Playwright drives it by.
        string launcher = Path.Combine(_directory, "chromium-in-netns");
        await File.WriteAllTextAsync(launcher, $"#!/bin/sh\nexec ip netns exec {net.ClientNamespace} {BrowserFixture.ChromiumPath} \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = launcher, Headless = true, Args = BrowserFixture.ChromiumArgs, Timeout = (float)Wait.TotalMilliseconds,
        });
        // The certificate is self-made: the user accepts it once (here: the context ignores the warning).
        await using IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        context.SetDefaultTimeout((float)Wait.TotalMilliseconds);
        IPage page = await context.NewPageAsync();

        // Plain http on a non-loopback address: not a secure context, no camera API at all (what failed before HTTPS).
        await page.GotoAsync($"http://{server}:8080/healthz");
        Assert.False(await page.EvaluateAsync<bool>("() => window.isSecureContext"));
        Assert.True(await page.EvaluateAsync<bool>("() => navigator.mediaDevices === undefined"));

        // The http URL of the call page is redirected to https (the fragment's token comes along, never sent).
        IResponse? response = await page.GotoAsync($"http://{server}:8080/call/main?size=320x180&fps=10#token={token}");
        Assert.NotNull(response);
        Assert.Equal($"https://{server}:8443/call/main?size=320x180&fps=10#token={token}", page.Url);
        Assert.True(await page.EvaluateAsync<bool>("() => window.isSecureContext"));

        await page.FillAsync("#name", "Phone");
        await page.WaitForFunctionAsync("() => document.getElementById('preview').readyState >= 2");
        await page.ClickAsync("#join");
        try
        {
            await page.WaitForFunctionAsync("() => window.socketcam.state === 'live' && window.socketcam.framesSent > 20");
        }
        catch (TimeoutException)
        {
            string state = await page.EvaluateAsync<string>("() => JSON.stringify({ state: window.socketcam.state, reason: window.socketcam.reason, sent: window.socketcam.framesSent, notices: window.socketcam.notices })");
            throw new TimeoutException($"the page did not publish: {state}{Environment.NewLine}{serve.Transcript()}");
        }

        // The hub has the page's camera as a track (asked over https with the page's token, from its cookie).
        string rooms = await page.EvaluateAsync<string>("async () => await (await fetch('/api/rooms')).text()");
        Assert.Contains("\"Phone\"", rooms, StringComparison.Ordinal);
        Assert.Contains("\"camera\"", rooms, StringComparison.Ordinal);

        await context.CloseAsync();
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(Wait));
    }
}
