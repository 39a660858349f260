using SocketCam.Display;
using SocketCam.Display.Sdl;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// The newcomer's window (issue 17): `view` opens one by default on a display and says how to get a picture without one;
/// windows open on the screen, several cascade instead of covering each other, a large picture is scaled to fit, and f
/// toggles fullscreen as in ffplay. Real `serve` and `view` processes on a real Xvfb.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class WindowPlacementCliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-placement-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Placement_centres_the_first_window_cascades_the_next_and_keeps_every_one_on_the_screen()
    {
        var screen = new PixelRect(0, 0, 1600, 900);
        Assert.Equal((480, 270), SdlWindow.Placement(screen, 640, 360, slot: 0));
        Assert.Equal((480 + WindowSlots.Step, 270 + WindowSlots.Step), SdlWindow.Placement(screen, 640, 360, slot: 1));
        // A window as large as the screen's usable area, or cascaded far, never starts off its edges.
        Assert.Equal((0, 0), SdlWindow.Placement(screen, 1600, 900, slot: 5));
        (int x, int y) = SdlWindow.Placement(screen, 1440, 810, slot: 7);
        Assert.InRange(x, 0, 1600 - 1440);
        Assert.InRange(y, 0, 900 - 810);
        // A usable area that does not start at 0 (a panel on top).
        Assert.Equal((480, 270 + 30), SdlWindow.Placement(new PixelRect(0, 30, 1600, 900), 640, 360, slot: 0));
    }

    [Fact]
    public async Task View_opens_a_window_by_default_on_a_display_scaled_to_fit_and_a_second_one_cascades()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync(1024, 768);
        (CliProcess serve, string url) = await StartServeAsync("1280x720");
        await using CliProcess hub = serve;

        // No --window: a display is there, so a picture is what a person expects. 1280x720 does not fit 1024x768: scaled.
        await using CliProcess first = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", url, "--quiet");
        string one = await x.FindWindowAsync("SocketCam", first);
        (int X, int Y, int Width, int Height) a = await SizedAsync(x, one);
        Assert.True(a.Width <= 1024 * 9 / 10 && a.Height <= 768 * 9 / 10, $"{a} is not scaled to fit 1024x768");
        Assert.Equal(1280.0 / 720, (double)a.Width / a.Height, 2);
        AssertOnScreen(a, 1024, 768);

        await using CliProcess second = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", url, "--quiet");
        string two = await WaitForAnotherWindowAsync(x, one);
        (int X, int Y, int Width, int Height) b = await SizedAsync(x, two);
        AssertOnScreen(b, 1024, 768);
        Assert.True((a.X, a.Y) != (b.X, b.Y), $"both windows at {a.X},{a.Y}: the second covers the first");

        await x.KeyAsync(two, "q");
        Assert.Equal(0, await second.WaitForExitAsync(ProcessTimeout));
        await x.KeyAsync(one, "q");
        Assert.Equal(0, await first.WaitForExitAsync(ProcessTimeout));
    }

    [Fact]
    public async Task F_toggles_fullscreen_under_a_window_manager_and_back()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync(1024, 768);
        await x.StartWindowManagerAsync(); // fullscreen is the window manager's to grant (_NET_WM_STATE_FULLSCREEN)
        (CliProcess serve, string url) = await StartServeAsync("320x240");
        await using CliProcess hub = serve;
        await using CliProcess view = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", url, "--quiet");
        string id = await x.FindWindowAsync("SocketCam", view);
        (_, _, int width, int height) = await SizedAsync(x, id);

        await x.KeyAsync(id, "f");
        await Eventually.UntilAsync(async () => await x.WindowSizeAsync(id) == (1024, 768), "the window fills the screen after f");
        await x.KeyAsync(id, "f");
        await Eventually.UntilAsync(async () => await x.WindowSizeAsync(id) == (width, height), $"the window back to {width}x{height} after f again");

        await x.KeyAsync(id, "q");
        Assert.Equal(0, await view.WaitForExitAsync(ProcessTimeout));
    }

    [Fact]
    public async Task No_window_keeps_to_the_terminal_and_without_a_display_one_line_says_how_to_get_a_picture()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        (CliProcess serve, string url) = await StartServeAsync("160x120");
        await using CliProcess hub = serve;

        await using (CliProcess view = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", url, "--no-window", "--frames", "5"))
        {
            Assert.True(await view.WaitForExitAsync(ProcessTimeout) == 0, view.Transcript());
            Assert.Empty(x.WindowsNamed("SocketCam"));
            Assert.DoesNotContain(view.Stderr, l => l.Contains("no display", StringComparison.Ordinal));
        }

        // The tests' children have no DISPLAY unless given one: what a terminal on a server sees.
        (int code, CliProcess bare) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", url, "--frames", "5");
        await using (bare)
        {
            Assert.True(code == 0, bare.Transcript());
            string line = Assert.Single(bare.Stderr, l => l.Contains("no display", StringComparison.Ordinal));
            Assert.StartsWith("socketcam: ", line, StringComparison.Ordinal);
            Assert.Contains("/rooms/", line, StringComparison.Ordinal);
            Assert.Contains("--snapshot", line, StringComparison.Ordinal);
        }

        (code, CliProcess insists) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", url, "--window", "--no-window");
        await using (insists)
        {
            Assert.Equal(2, code);
            Assert.Contains(insists.Stderr, l => l.Contains("contradict", StringComparison.Ordinal));
        }
    }

    private async Task<(CliProcess Serve, string Url)> StartServeAsync(string size)
    {
        CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--udp", "off", "--data", "off",
            "--source", "pattern", "--size", size, "--fps", "15", "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        return (serve, banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim());
    }

    /// <summary>The window's geometry once the first picture has sized it (it opens at 640x480 before that).</summary>
    private static async Task<(int X, int Y, int Width, int Height)> SizedAsync(XvfbDisplay x, string id)
    {
        (int X, int Y, int Width, int Height) geometry = default;
        // The size and the place are two X requests: wait until both are applied (the place is checked by the caller).
        await Eventually.UntilAsync(async () => (geometry = await x.WindowGeometryAsync(id)).Width != 640, "the window sized to its first picture");
        (int X, int Y, int Width, int Height) settled = default;
        await Eventually.UntilAsync(async () =>
        {
            await Task.Delay(100);
            settled = await x.WindowGeometryAsync(id);
            bool same = settled == geometry;
            geometry = settled;
            return same;
        }, "the window's size and place settled");
        return geometry;
    }

    private static async Task<string> WaitForAnotherWindowAsync(XvfbDisplay x, string first)
    {
        string? other = null;
        await Eventually.UntilAsync(() => (other = x.WindowsNamed("SocketCam").FirstOrDefault(id => id != first)) is not null, "a second window");
        return other!;
    }

    private static void AssertOnScreen((int X, int Y, int Width, int Height) w, int screenWidth, int screenHeight)
    {
        Assert.True(w.X >= 0 && w.Y >= 0 && w.X + w.Width <= screenWidth && w.Y + w.Height <= screenHeight, $"{w} runs off the {screenWidth}x{screenHeight} screen");
    }
}
