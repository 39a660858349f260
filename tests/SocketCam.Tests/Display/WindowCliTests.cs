using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketCam.Display.Sdl;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// `view --window`, `serve --preview`, `publish --preview` and `demo --window` as a user runs them: the real CLI opens a real
/// SDL2 window on a real X server (Xvfb); xdotool types and resizes, ImageMagick's import takes the screenshots.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed partial class WindowCliTests : IDisposable
{
    /// <summary>Closing the window must end the program within a few seconds; generous for a busy 2-core machine.</summary>
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-window-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task View_window_shows_the_live_test_pattern_at_its_size()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--size", "320x240", "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
        await using CliProcess view = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", url, "--window", "--quiet");
        string id = await x.FindWindowAsync("SocketCam", view);
        Assert.Equal($"SocketCam — main @ {url["tcp://".Length..]}", await x.WindowNameAsync(id));

        // The first picture sizes the window like cv2.imshow: 320x240, the picture filling it exactly.
        RgbImage first = await ShowingPatternAsync(x, id, 320, 240);

        // Live: a later screenshot shows another frame (the clock, the moving square, the scroll).
        await Eventually.UntilAsync(
            async () => WindowTestPattern.DifferentPixels(first, await x.ScreenshotAsync(id)) > 320 * 240 / 100,
            "a later screenshot differs from the first");
        // Still the pattern (retried: the moving square may cross a bar's column in any one shot).
        string? mismatch = null;
        await Eventually.UntilAsync(
            async () => (mismatch = WindowTestPattern.Mismatch(await x.ScreenshotAsync(id), (0, 0, 320, 240), 320, 240)) is null,
            "a later screenshot that shows the pattern");
        Assert.Null(mismatch);

        await x.KeyAsync(id, "q");
        Assert.Equal(0, await view.WaitForExitAsync(ExitTimeout));
    }

    [Theory]
    [InlineData("q", "q")]
    [InlineData("Escape", "Esc")]
    [InlineData("Return", "Enter")]
    [InlineData("KP_Enter", "Enter")]
    public async Task A_key_closes_the_window_and_the_viewer_exits_0_saying_goodbye(string key, string logged)
    {
        await using ViewerWindow window = await OpenViewerWindowAsync("--json");
        (XvfbDisplay x, TestHub hub, CliProcess view, string id) = window;

        await x.KeyAsync(id, key);
        Assert.True(await view.WaitForExitAsync(ExitTimeout) == 0, view.Transcript());
        Assert.Contains(view.Stderr, l => l.Contains($"Window closed ({logged})", StringComparison.Ordinal));
        JsonElement summary = view.LastJsonLine();
        Assert.True(summary.GetProperty("frames").GetInt64() > 0);
        Assert.True(summary.GetProperty("display").GetProperty("frames").GetInt64() > 0);

        // The socket was closed properly: the hub heard GOODBYE, not a reset.
        await hub.Logs.WaitForAsync(e => e.Message.Contains("left room 'main': said goodbye", StringComparison.Ordinal), TestHub.Timeout, "the viewer's goodbye");
    }

    [Fact]
    public async Task The_close_button_closes_the_window_and_the_viewer_exits_0()
    {
        await using ViewerWindow window = await OpenViewerWindowAsync();
        (XvfbDisplay x, TestHub hub, CliProcess view, string id) = window;

        x.RequestClose(id); // WM_DELETE_WINDOW, what a window manager sends for the close button
        Assert.True(await view.WaitForExitAsync(ExitTimeout) == 0, view.Transcript());
        Assert.Contains(view.Stderr, l => l.Contains("Window closed (the close button)", StringComparison.Ordinal));
        await hub.Logs.WaitForAsync(e => e.Message.Contains("left room 'main': said goodbye", StringComparison.Ordinal), TestHub.Timeout, "the viewer's goodbye");
    }

    [Fact]
    public async Task Ctrl_C_still_reaches_the_program_while_the_window_is_open()
    {
        await using ViewerWindow window = await OpenViewerWindowAsync();
        (XvfbDisplay x, TestHub hub, CliProcess view, string id) = window;

        // SDL's own SIGINT handler is off (SDL_NO_SIGNAL_HANDLERS): .NET gets it and the viewer stops as usual.
        await view.InterruptAsync();
        Assert.True(await view.WaitForExitAsync(ExitTimeout) == 0, view.Transcript());
        await hub.Logs.WaitForAsync(e => e.Message.Contains("left room 'main': said goodbye", StringComparison.Ordinal), TestHub.Timeout, "the viewer's goodbye");
    }

    [Fact]
    public async Task A_resized_window_rescales_the_picture_and_keeps_its_aspect_ratio()
    {
        await using ViewerWindow window = await OpenViewerWindowAsync();
        (XvfbDisplay x, _, CliProcess view, string id) = window;

        // Wider than 4:3: the picture is as tall as the window (200), 267 wide, centred between black bars.
        await x.ResizeAsync(id, 640, 200);
        await AssertLetterboxedAsync(x, id, 640, 200, expected: (186, 0, 267, 200));

        // Taller than 4:3: as wide as the window (300), 225 tall, centred between black bars above and below.
        await x.ResizeAsync(id, 300, 500);
        await AssertLetterboxedAsync(x, id, 300, 500, expected: (0, 137, 300, 225));

        await x.KeyAsync(id, "q");
        Assert.Equal(0, await view.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task The_window_answers_while_no_frame_comes_and_closes_with_exit_code_0()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using TestHub hub = TestHub.Start(captureRoom: null); // nobody publishes: the stream never starts
        await using CliProcess view = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", hub.Url, "--window", "--json", "--quiet");
        string id = await x.FindWindowAsync("SocketCam", view);
        await hub.Logs.WaitForAsync(e => e.Message.Contains("joined room 'main' as viewer", StringComparison.Ordinal), TestHub.Timeout, "the viewer joined");

        // "WAITING FOR VIDEO..." in white on black: the render loop draws while nothing arrives.
        await Eventually.UntilAsync(async () => (await x.ScreenshotAsync(id)).NonBlackBounds(threshold: 200) is not null, "the waiting message");

        await x.KeyAsync(id, "Escape");
        Assert.True(await view.WaitForExitAsync(ExitTimeout) == 0, view.Transcript());
        Assert.Equal(0, view.LastJsonLine().GetProperty("frames").GetInt64());
    }

    [Fact]
    public async Task A_hidden_window_drops_frames_while_the_viewer_keeps_receiving()
    {
        const int HiddenFrames = 60;
        await using ViewerWindow window = await OpenViewerWindowAsync("--stats", "--json");
        (XvfbDisplay x, TestHub hub, CliProcess view, string id) = window;
        HubConnection connection = Assert.Single(hub.Server.Connections, c => c.Role == PeerRole.Viewer);

        await x.HideAsync(id); // unmapped, as when minimized: nothing is drawn (xdotool returns once the server did it)
        long sentBeforeHiding = connection.FramesSent;

        // The hub goes on sending; the slack covers frames still on their way to the viewer when it is interrupted.
        await Eventually.UntilAsync(
            () => connection.FramesSent >= sentBeforeHiding + HiddenFrames + 30,
            $"the hub sending {HiddenFrames + 30} more frames to the hidden window's viewer",
            TimeSpan.FromSeconds(60));
        await view.InterruptAsync();
        Assert.True(await view.WaitForExitAsync(ExitTimeout) == 0, view.Transcript());

        JsonElement summary = view.LastJsonLine();
        long received = summary.GetProperty("frames").GetInt64();
        JsonElement display = summary.GetProperty("display");
        long shown = display.GetProperty("frames").GetInt64();
        long dropped = display.GetProperty("dropped").GetInt64();

        // One connection, in order: the viewer's frames after the first sentBeforeHiding are the ones sent after hiding.
        long receivedHidden = received - sentBeforeHiding;
        Assert.True(receivedHidden >= HiddenFrames, $"the viewer received only {receivedHidden} frames after the window was hidden: {summary}");

        // None of them was shown, but the one the render thread may have been taking as the hide arrived (and one more
        // for the race at the other end): they were skipped, counted as dropped.
        Assert.True(dropped >= receivedHidden - 2, $"only {dropped} dropped of {receivedHidden} received while hidden: {summary}");

        // Every frame received was shown or dropped by the window (give or take the one in flight at each end).
        Assert.InRange(received - shown - dropped, -2, 2);
    }

    [Fact]
    public async Task Stats_overlay_draws_text_over_the_video()
    {
        await using ViewerWindow window = await OpenViewerWindowAsync("--stats");
        (XvfbDisplay x, _, CliProcess view, string id) = window;

        // The overlay's translucent box over the top-left corner: the grey bar behind it (191) is darkened, with white text.
        await Eventually.UntilAsync(
            async () =>
            {
                RgbImage shot = await x.ScreenshotAsync(id);
                int white = 0;
                for (int y = 4; y < 30; y++)
                {
                    for (int px = 4; px < 120; px++)
                    {
                        (int r, int g, int b) = shot[px, y];
                        white += Math.Min(r, Math.Min(g, b)) > 230 ? 1 : 0;
                    }
                }

                return white > 100;
            },
            "white overlay text in the top-left corner");

        await x.KeyAsync(id, "q");
        Assert.Equal(0, await view.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task Serve_preview_shows_what_is_sent_and_q_stops_the_server()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using CliProcess serve = CliProcess.StartWithEnvironment(_directory, x.Environment, "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--size", "320x240", "--preview", "--quiet");
        string id = await x.FindWindowAsync("SocketCam", serve);
        Assert.Equal("SocketCam — transmitting 'main' (preview)", await x.WindowNameAsync(id));
        await ShowingPatternAsync(x, id, 320, 240);

        // Viewers still get the stream while the preview shows it.
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
        (int code, CliProcess viewer) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", url, "--frames", "10", "--json", "--quiet");
        await using (viewer)
        {
            Assert.True(code == 0, viewer.Transcript());
        }

        await x.KeyAsync(id, "q");
        Assert.True(await serve.WaitForExitAsync(ExitTimeout) == 0, serve.Transcript());
    }

    [Fact]
    public async Task Serve_preview_as_the_only_viewer_of_an_unpaced_source_keeps_it_going_after_the_window_stalls()
    {
        // --fps 0: capture waits while every viewer still has a frame pending, and after its 50 ms limit it waits until a
        // viewer takes one (Room.NotifyTaken). Here the preview is the only viewer, and the X server stalls long enough
        // for a frame to wait past that limit: capture then goes on only if the preview says when it takes frames.
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using CliProcess serve = CliProcess.StartWithEnvironment(_directory, x.Environment, "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--size", "320x240", "--fps", "0", "--preview");
        string id = await x.FindWindowAsync("SocketCam", serve);
        await ShowingPatternAsync(x, id, 320, 240);
        await Eventually.UntilAsync(() => FramesIn(serve).Count > 0 && FramesIn(serve)[^1] > 0, "serve's status line counting frames", TimeSpan.FromSeconds(60));

        // The render thread blocks on the stopped X server with a frame pending in its slot: capture stops (two status
        // lines in a row with the same total show it waiting, not a guess at how long that takes).
        x.Suspend();
        try
        {
            int linesBefore = serve.Stderr.Count;
            await Eventually.UntilAsync(
                () => FramesIn(serve, linesBefore) is { Count: >= 2 } totals && totals[^1] == totals[^2],
                "capture waiting for the stalled preview (the same total twice)",
                TimeSpan.FromSeconds(60));
        }
        finally
        {
            x.Resume();
        }

        // The preview takes the waiting frame: capture must go on, with nobody but the preview watching.
        int linesAfter = serve.Stderr.Count;
        await Eventually.UntilAsync(
            () => FramesIn(serve, linesAfter) is { Count: >= 2 } totals && totals[^1] > totals[0] + 30,
            "capture going on after the X server came back (the total growing by more than 30 frames)",
            TimeSpan.FromSeconds(60));
        // The status line counts every room viewer: the preview is the only one.
        Assert.DoesNotContain(serve.Stderr, l => l.Contains("viewer(s)", StringComparison.Ordinal) && !l.StartsWith("1 room(s), 1 viewer(s)", StringComparison.Ordinal));

        await x.KeyAsync(id, "q");
        Assert.True(await serve.WaitForExitAsync(ExitTimeout) == 0, serve.Transcript());
    }

    [Fact]
    public async Task A_stalled_x_server_holds_up_neither_the_viewers_nor_ctrl_c_and_the_window_is_left_behind()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using CliProcess serve = CliProcess.StartWithEnvironment(_directory, x.Environment, "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--size", "320x240", "--preview", "--quiet");
        string id = await x.FindWindowAsync("SocketCam", serve);
        await ShowingPatternAsync(x, id, 320, 240);
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();

        x.Suspend();
        try
        {
            // The preview's render thread is stuck in the X server: a network viewer is still served.
            (int code, CliProcess viewer) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", url, "--frames", "30", "--json", "--quiet");
            await using (viewer)
            {
                Assert.True(code == 0, viewer.Transcript());
            }

            // Ctrl+C still ends the server: the window's thread cannot stop (10 s limit), so it is left behind with its
            // feed (decoders, picture buffers) deliberately not freed under it.
            await serve.InterruptAsync();
            Assert.True(await serve.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, serve.Transcript());
        }
        finally
        {
            x.Resume();
        }

        Assert.Contains(serve.Stderr, l => l.Contains("render thread did not stop within 10 s", StringComparison.Ordinal));
        Assert.Contains(serve.Stderr, l => l.Contains("The window's feed is left allocated", StringComparison.Ordinal));
        Assert.DoesNotContain(serve.Stderr, l => l.StartsWith("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ctrl_C_ends_a_viewer_whose_display_never_answers()
    {
        // An X server that accepts the connection and never replies: SDL_Init blocks in XOpenDisplay. Ctrl+C must still
        // end the program (the window's opening is abandoned), with exit code 0 like any Ctrl+C.
        (TcpListener silent, int display) = SilentXServer();
        using (silent)
        {
            var environment = new Dictionary<string, string>
            {
                ["DISPLAY"] = "127.0.0.1:" + display.ToString(CultureInfo.InvariantCulture),
                ["WAYLAND_DISPLAY"] = "",
            };
            await using CliProcess view = CliProcess.StartWithEnvironment(_directory, environment, "view", "tcp://127.0.0.1:9", "--window");
            using TcpClient connected = await silent.AcceptTcpClientAsync().WaitAsync(ProcessTimeout);

            await view.InterruptAsync();
            Assert.True(await view.WaitForExitAsync(ExitTimeout) == 0, view.Transcript());
            Assert.DoesNotContain(view.Stderr, l => l.StartsWith("   at ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Without_sdl2_it_is_one_line_naming_the_package_and_exit_code_1()
    {
        var environment = new Dictionary<string, string>
        {
            ["DISPLAY"] = ":987",
            ["WAYLAND_DISPLAY"] = "",
            [SdlLibrary.OverrideVariable] = "libSDL2-no-such-version.so.9",
        };
        await using CliProcess cli = CliProcess.StartWithEnvironment(_directory, environment, "view", "tcp://127.0.0.1:9", "--window");
        Assert.Equal(1, await cli.WaitForExitAsync(ProcessTimeout));
        string error = Assert.Single(cli.Stderr, l => l.Length > 0);
        Assert.StartsWith("socketcam: SDL2 was not found: ", error, StringComparison.Ordinal);
        Assert.Contains("libsdl2-2.0-0", error, StringComparison.Ordinal);
        Assert.DoesNotContain(cli.Stderr, l => l.StartsWith("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_preview_of_a_passed_through_jpeg_source_shows_it()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        // ffmpeg's JPEGs go out as they are: the preview decodes them itself (there is no raw frame before encoding).
        await using CliProcess serve = CliProcess.StartWithEnvironment(_directory, x.Environment, "serve", "--listen", "127.0.0.1:0", "--source", "lavfi:testsrc2=size=320x240:rate=30", "--preview", "--quiet");
        string id = await x.FindWindowAsync("SocketCam", serve);
        await ShowingVideoAsync(x, id, 320, 240);
        Assert.Contains(serve.Stdout, l => l.Contains("passed through", StringComparison.Ordinal));

        x.RequestClose(id);
        Assert.True(await serve.WaitForExitAsync(ExitTimeout) == 0, serve.Transcript());
    }

    [Fact]
    public async Task Publish_preview_shows_what_is_sent_and_closing_it_stops_publishing()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "cam", reconnect: true);
        await using CliProcess publish = CliProcess.StartWithEnvironment(_directory, x.Environment, "publish", hub.Url, "--room", "cam", "--source", "pattern", "--size", "320x240", "--preview", "--quiet");
        string id = await x.FindWindowAsync("SocketCam", publish);
        Assert.Equal("SocketCam — publishing 'cam' (preview)", await x.WindowNameAsync(id));
        await ShowingPatternAsync(x, id, 320, 240);
        await viewer.WaitForMoreFramesAsync(5);

        await x.KeyAsync(id, "Return");
        Assert.True(await publish.WaitForExitAsync(ExitTimeout) == 0, publish.Transcript());
        Assert.Contains(publish.Stderr, l => l.StartsWith("Sent ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Demo_window_runs_until_closed()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        await using CliProcess demo = CliProcess.StartWithEnvironment(_directory, x.Environment, "demo", "--window", "--size", "320x240", "--json", "--snapshot", "shot.jpg");
        string id = await x.FindWindowAsync("SocketCam", demo);
        RgbImage shot = await ShowingVideoAsync(x, id, 320, 240);
        Assert.True(shot.NonBlackBounds() is not null);

        await x.KeyAsync(id, "q");
        Assert.True(await demo.WaitForExitAsync(ExitTimeout) == 0, demo.Transcript());
        Assert.True(demo.LastJsonLine().GetProperty("display").GetProperty("frames").GetInt64() > 0);
        Assert.True(File.Exists(Path.Combine(_directory, "shot.jpg")));
    }

    [Theory]
    [InlineData("view", "view --window needs a display (DISPLAY is not set): run it in an X11 or Wayland session, or use --snapshot FILE.jpg to save a frame instead.")]
    [InlineData("serve", "serve --preview needs a display (DISPLAY is not set): run it in an X11 or Wayland session, or leave out --preview (watch with `socketcam view` elsewhere).")]
    [InlineData("publish", "publish --preview needs a display (DISPLAY is not set): run it in an X11 or Wayland session, or leave out --preview.")]
    [InlineData("demo", "demo --window needs a display (DISPLAY is not set): run it in an X11 or Wayland session, or leave out --window (the demo prints its figures; --snapshot FILE saves a frame).")]
    public async Task Without_a_display_it_is_one_line_and_a_non_zero_exit(string command, string message)
    {
        string[] args = command switch
        {
            "view" => ["view", "tcp://127.0.0.1:9", "--window"],
            "serve" => ["serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--preview"],
            "publish" => ["publish", "tcp://127.0.0.1:9", "--source", "pattern", "--preview"],
            _ => ["demo", "--window"],
        };
        await using CliProcess cli = CliProcess.StartWithoutVariables(_directory, ["DISPLAY", "WAYLAND_DISPLAY"], args);
        Assert.Equal(1, await cli.WaitForExitAsync(ProcessTimeout));
        string[] errors = [.. cli.Stderr.Where(l => l.Length > 0)];
        Assert.Equal(["socketcam: " + message], errors);
    }

    [Fact]
    public async Task A_display_that_is_not_there_is_one_line_and_a_non_zero_exit()
    {
        // DISPLAY names a server that does not run: SDL cannot connect (and must not fall back to an invisible window).
        var environment = new Dictionary<string, string> { ["DISPLAY"] = ":987", ["WAYLAND_DISPLAY"] = "" };
        await using CliProcess cli = CliProcess.StartWithEnvironment(_directory, environment, "view", "tcp://127.0.0.1:9", "--window");
        Assert.Equal(1, await cli.WaitForExitAsync(ProcessTimeout));
        string error = Assert.Single(cli.Stderr, l => l.Length > 0);
        Assert.StartsWith("socketcam: cannot use the display (DISPLAY=:987): ", error, StringComparison.Ordinal);
        Assert.EndsWith("or use --snapshot FILE.jpg to save a frame instead.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_without_window_is_a_usage_error()
    {
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", "tcp://127.0.0.1:9", "--stats");
        await using (cli)
        {
            Assert.Equal(2, code);
            Assert.Equal(["socketcam: --stats draws over the video window: use it with --window."], cli.Stderr.Where(l => l.Length > 0));
        }
    }

    /// <summary>The frame totals in serve's status lines ("... fps in (N frames) ..."), from stderr line <paramref name="from"/> on.</summary>
    private static List<long> FramesIn(CliProcess serve, int from = 0) =>
        [.. serve.Stderr.Skip(from).Select(l => FramesInLine().Match(l)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    [GeneratedRegex(@"fps in \((\d+) frames\)")]
    private static partial Regex FramesInLine();

    /// <summary>
    /// A TCP "X server" on 127.0.0.1 (display N listens on port 6000+N) that accepts connections and never answers.
    /// Returns the listener and N.
    /// </summary>
    private static (TcpListener Listener, int Display) SilentXServer()
    {
        for (int display = 100; display < 200; display++)
        {
            var listener = new TcpListener(IPAddress.Loopback, 6000 + display);
            try
            {
                listener.Start();
                return (listener, display);
            }
            catch (SocketException)
            {
                listener.Dispose();
            }
        }

        throw new InvalidOperationException("no free port for a fake X display in 6100-6199");
    }

    /// <summary>
    /// Xvfb, a 320x240 <see cref="TestHub"/> and `socketcam view HUB --window OPTIONS --quiet` on it, once its window
    /// shows the video at 320x240.
    /// </summary>
    private async Task<ViewerWindow> OpenViewerWindowAsync(params string[] options)
    {
        XvfbDisplay x = await XvfbDisplay.StartAsync();
        TestHub? hub = null;
        CliProcess? view = null;
        try
        {
            hub = TestHub.Start(width: 320, height: 240);
            view = CliProcess.StartWithEnvironment(_directory, x.Environment, ["view", hub.Url, "--window", .. options, "--quiet"]);
            string id = await x.FindWindowAsync("SocketCam", view);
            await ShowingVideoAsync(x, id, 320, 240);
            return new ViewerWindow(x, hub, view, id);
        }
        catch
        {
            await ViewerWindow.StopAsync(x, hub, view);
            throw;
        }
    }

    /// <summary>Waits until the window has the given size and shows video (not only black), and returns that screenshot.</summary>
    private static async Task<RgbImage> ShowingVideoAsync(XvfbDisplay x, string id, int width, int height)
    {
        RgbImage? shot = null;
        await Eventually.UntilAsync(
            async () =>
            {
                if (await x.WindowSizeAsync(id) != (width, height))
                {
                    return false;
                }

                shot = await x.ScreenshotAsync(id);
                return shot.Width == width && shot.Height == height && shot.NonBlackBounds() is { Width: > 100 };
            },
            $"the window at {width}x{height} showing video");
        return shot!;
    }

    /// <summary>
    /// Waits until the window, at the pattern's own size, shows the test pattern filling it, and returns that screenshot.
    /// (Waiting, not one look: the frame drawn just as the window takes the picture's size may still be laid out for the old size.)
    /// </summary>
    private static async Task<RgbImage> ShowingPatternAsync(XvfbDisplay x, string id, int width, int height)
    {
        RgbImage shot = await ShowingVideoAsync(x, id, width, height);
        string? mismatch = null;
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    mismatch = WindowTestPattern.Mismatch(shot, (0, 0, width, height), width, height);
                    if (mismatch is null)
                    {
                        return true;
                    }

                    shot = await x.ScreenshotAsync(id);
                    return false;
                },
                "the window showing the test pattern");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}: {mismatch}", ex);
        }

        return shot;
    }

    /// <summary>Waits for the picture to sit at <paramref name="expected"/> (±2 pixels: scaling edges) and checks it is the pattern.</summary>
    private static async Task AssertLetterboxedAsync(XvfbDisplay x, string id, int width, int height, (int X, int Y, int Width, int Height) expected)
    {
        RgbImage? shot = null;
        (int X, int Y, int Width, int Height)? bounds = null;
        await Eventually.UntilAsync(
            async () =>
            {
                shot = await x.ScreenshotAsync(id);
                bounds = shot.Width == width && shot.Height == height ? shot.NonBlackBounds() : null;
                return bounds is { } b && Math.Abs(b.X - expected.X) <= 2 && Math.Abs(b.Y - expected.Y) <= 2
                    && Math.Abs(b.Width - expected.Width) <= 2 && Math.Abs(b.Height - expected.Height) <= 2;
            },
            $"the picture letterboxed at {expected} in {width}x{height}");

        // The aspect ratio is the stream's 4:3, and what is there is the pattern, scaled.
        (int bx, int by, int bw, int bh) = bounds!.Value;
        Assert.InRange(bw / (double)bh, 4 / 3.0 * 0.98, 4 / 3.0 * 1.02);
        WindowTestPattern.AssertShown(shot!, expected, 320, 240);
        Assert.True(bx >= 0 && by >= 0);
    }

    /// <summary>What <see cref="OpenViewerWindowAsync"/> started; disposing stops the viewer, then the hub, then Xvfb.</summary>
    private sealed record ViewerWindow(XvfbDisplay X, TestHub Hub, CliProcess View, string Id) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await StopAsync(X, Hub, View);

        public static async Task StopAsync(XvfbDisplay x, TestHub? hub, CliProcess? view)
        {
            await using (x)
            await using (hub)
            await using (view)
            {
            }
        }
    }
}
