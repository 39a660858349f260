using System.Text.Json;
using SocketCam.Display;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// `socketcam call` with its window, as a user runs it: a real `serve`, two real `call --no-window` participants
/// publishing the test pattern, and a third `call` whose SDL window (on a real Xvfb) shows them as a labelled grid that
/// re-flows when one leaves. Screenshots by ImageMagick's import, keys by xdotool.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class CallWindowCliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-call-window-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_call_window_shows_each_other_participant_in_a_grid_that_reflows_when_one_leaves()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync(1280, 800);
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--udp", "off", "--source", "none", "--data", Path.Combine(_directory, "data"), "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), Wait);
        string hub = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
        await using CliProcess ana = Publisher(hub, "Ana");
        await using CliProcess zoe = Publisher(hub, "Zoë <img src=x onerror=alert(1)>");
        await using CliProcess me = CliProcess.StartWithEnvironment(_directory, x.Environment, "call", $"{hub}/family", "--name", "Me", "--source", "none", "--json", "--quiet");
        string id = await x.FindWindowAsync("SocketCam call", me);
        Assert.Equal("SocketCam call: family (Me)", await x.WindowNameAsync(id));
        (int width, int height) = await x.WindowSizeAsync(id);

        // Two tiles, each showing a live picture (not the flat placeholder).
        PixelRect[] two = CallGridLayout.Compute(2, width, height);
        await Eventually.UntilAsync(async () => ShowsPicture(await x.ScreenshotAsync(id), two[0]) && ShowsPicture(await x.ScreenshotAsync(id), two[1]),
            $"both tiles show a picture{Environment.NewLine}{me.Transcript()}", Wait);
        await x.SavePngAsync(id, Path.Combine(_directory, "two.png"));

        // Zoë leaves: one tile, re-flowed to the middle, still live.
        await zoe.WriteLineAsync("/quit");
        Assert.Equal(0, await zoe.WaitForExitAsync(Wait));
        PixelRect[] one = CallGridLayout.Compute(1, width, height);
        await Eventually.UntilAsync(async () => ShowsPicture(await x.ScreenshotAsync(id), one[0]) && !ShowsPicture(await x.ScreenshotAsync(id), Outside(one[0], two[1])),
            $"one tile left, in the middle{Environment.NewLine}{me.Transcript()}", Wait);

        // The text side saw it all; q closes the window and the call ends with its summary.
        Assert.Contains(me.Stdout, l => l.Contains("\"type\":\"left\"", StringComparison.Ordinal));
        await x.KeyAsync(id, "q");
        Assert.Equal(0, await me.WaitForExitAsync(Wait));
        JsonElement summary = me.LastJsonLine();
        Assert.True(summary.GetProperty("participants").EnumerateArray().All(p => p.GetProperty("frames").GetInt64() > 0), me.Transcript());
        await ana.InterruptAsync();
        Assert.Equal(0, await ana.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task Without_a_display_call_says_in_one_line_to_use_no_window()
    {
        (int code, CliProcess call) = await Task.Run(async () =>
        {
            CliProcess started = CliProcess.StartWithoutVariables(_directory, ["DISPLAY", "WAYLAND_DISPLAY"], "call", "tcp://127.0.0.1:9/family", "--name", "Me", "--source", "none");
            return (await started.WaitForExitAsync(Wait), started);
        });
        await using (call)
        {
            Assert.NotEqual(0, code);
            Assert.Contains(call.Stderr, l => l.Contains("--no-window", StringComparison.Ordinal));
            Assert.DoesNotContain(call.Stderr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        }
    }

    private CliProcess Publisher(string hub, string name) =>
        CliProcess.Start(_directory, "call", $"{hub}/family", "--name", name, "--no-window", "--source", "pattern", "--size", "320x180", "--fps", "10", "--quiet");

    /// <summary>A picture, not a flat fill: many distinct colours inside the rectangle (its inner half, clear of the label).</summary>
    internal static bool ShowsPicture(RgbImage shot, PixelRect r)
    {
        var colours = new HashSet<(int, int, int)>();
        for (int y = r.Y + (r.Height / 4); y < r.Y + (r.Height * 3 / 4); y += 4)
        {
            for (int x = r.X + (r.Width / 4); x < r.X + (r.Width * 3 / 4); x += 4)
            {
                colours.Add(shot[x, y]);
            }
        }

        return colours.Count > 50;
    }

    /// <summary>The part of <paramref name="old"/> that <paramref name="now"/> does not cover (where a removed tile was).</summary>
    private static PixelRect Outside(PixelRect now, PixelRect old)
    {
        int right = now.X + now.Width;
        return old.X >= right ? old : new PixelRect(right, old.Y, Math.Max(8, old.X + old.Width - right), old.Height);
    }
}
