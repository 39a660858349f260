using Microsoft.Playwright;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web.Browser;

/// <summary>The call page as the browser tests drive it: one way to join, shared by the page's and its audio's tests.</summary>
internal static class CallPage
{
    /// <summary>A small, slow camera: several pages on two cores still run at their real pace.</summary>
    public const string LightVideo = "size=320x180&fps=10";

    /// <summary>
    /// Opens /call/ROOM (unless <paramref name="navigate"/> is false: the page is already there), fills the name, waits
    /// for the camera preview, joins, and returns the participant id the hub gave.
    /// </summary>
    public static async Task<uint> JoinAsync(BrowserPage page, string url, string name, string room = "call", string video = LightVideo, bool navigate = true)
    {
        if (navigate)
        {
            IResponse response = await page.GotoAsync($"{url}/call/{room}{(video.Length > 0 ? "?" + video : "")}");
            Assert.Equal(200, response.Status);
        }

        await page.Page.FillAsync("#name", name);
        await page.UntilAsync("document.getElementById('preview').readyState >= 2", "the camera preview plays");
        await page.Page.ClickAsync("#join");
        await page.UntilAsync("window.socketcam.state === 'live' && window.socketcam.participantId > 0", $"{name} is in the call");
        return await page.EvalAsync<uint>("() => window.socketcam.participantId");
    }
}
