using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web.Browser;

/// <summary>The browser fixture itself: Debian's Chromium starts headless under Playwright and loads a page from our server.</summary>
[Collection(NetworkCollection.Name)]
public sealed class BrowserSmokeTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Chromium_loads_healthz_from_the_in_process_server()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage page = await browser.NewPageAsync();

        Microsoft.Playwright.IResponse response = await page.GotoAsync($"{server.Url}/healthz");

        Assert.Equal(200, response.Status);
        Assert.Equal("ok", (await page.EvalAsync<string>("() => document.body.innerText")).Trim());
        // The page is a secure context (getUserMedia and WebCodecs need one): http://127.0.0.1 is.
        Assert.True(await page.EvalAsync<bool>("() => window.isSecureContext"), page.Transcript());
    }
}
