using SkiaSharp;
using SocketCam.Display;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// The call window as `socketcam call` will use it, in this process: a real SDL2 window on a real X server (Xvfb), checked
/// on screenshots (ImageMagick's import) against the layout the grid computes.
/// </summary>
[Collection(InProcessDisplayCollection.Name)]
public sealed class CallGridWindowTests
{
    /// <summary>Set to a folder to keep the four-tile screenshot (docs/images/call-window.png is made this way).</summary>
    private const string ScreenshotVariable = "SOCKETCAM_CALL_SCREENSHOT_DIR";

    [Fact]
    public async Task Tiles_appear_and_reflow_as_participants_come_and_go()
    {
        await using Session session = await Session.OpenAsync("room-42");
        (XvfbDisplay x, CallGridWindow window, string id) = session;

        // Nobody yet: one centred line of light text on the dark background.
        RgbImage empty = null!;
        await Eventually.UntilAsync(async () => (empty = await x.ScreenshotAsync(id)).NonBlackBounds(threshold: 100) is not null, "the waiting text");
        (int X, int Y, int Width, int Height) text = empty.NonBlackBounds(threshold: 100)!.Value;
        Assert.Equal(empty.Width / 2, text.X + (text.Width / 2), tolerance: 2);
        Assert.Equal(empty.Height / 2, text.Y + (text.Height / 2), tolerance: text.Height);
        Assert.InRange(text.Width, empty.Width / 5, empty.Width * 4 / 5);

        window.SetTile(1, "Ana");
        window.SetTile(2, "Ben");
        window.SetTile(3, "Cy");
        await ShowingAsync(x, id, [1, 2, 3]);

        // Ben leaves: Cy moves up into the first row, beside Ana.
        window.RemoveTile(2);
        await ShowingAsync(x, id, [1, 3]);

        // Five people: three columns, the second row of two centred.
        foreach (uint participant in new uint[] { 4, 5, 6 })
        {
            window.SetTile(participant, "P" + participant);
        }

        await ShowingAsync(x, id, [1, 3, 4, 5, 6]);

        foreach (uint participant in new uint[] { 1, 3, 4, 5, 6 })
        {
            window.RemoveTile(participant);
        }

        await Eventually.UntilAsync(async () => (await x.ScreenshotAsync(id)).NonBlackBounds(threshold: 100) is { } t && t == text, "the waiting text is back");

        // The window still answers: 'q' closes it.
        await x.KeyAsync(id, "q");
        await Eventually.UntilAsync(() => window.Closed.IsCancellationRequested, "the window closed by 'q'");
        Assert.Equal("q", window.ClosedBy);
    }

    [Fact]
    public async Task A_picture_offered_to_a_tile_shows_letterboxed_in_that_tile_only()
    {
        await using Session session = await Session.OpenAsync("main");
        (XvfbDisplay x, CallGridWindow window, string id) = session;
        window.SetTile(7, "Ana");
        window.SetTile(9, "Ben");

        // A 4:3 picture in a 16:9 tile: as tall as the tile, black bars left and right.
        using (VideoFrame solid = Solid(640, 480, r: 200, g: 40, b: 160))
        {
            Assert.True(window.Offer(9, solid));
        }

        using (VideoFrame stray = Solid(2, 2, 0, 0, 0))
        {
            Assert.False(window.Offer(8, stray), "no tile 8");
        }

        await Eventually.UntilAsync(
            async () =>
            {
                RgbImage shot = await x.ScreenshotAsync(id);
                PixelRect[] tiles = CallGridLayout.Compute(2, shot.Width, shot.Height);
                PixelRect fit = Within(tiles[1], Letterbox.Fit(640, 480, tiles[1].Width, tiles[1].Height));
                return fit.X > tiles[1].X + 10
                    && Is(shot[fit.X + 3, fit.Y + 3], (200, 40, 160)) && Is(shot[fit.X + fit.Width - 4, fit.Y + (fit.Height / 2)], (200, 40, 160))
                    && Is(shot[tiles[1].X + 3, tiles[1].Y + (tiles[1].Height / 2)], (0, 0, 0)) && Is(shot[fit.X + fit.Width + 3, fit.Y + 3], (0, 0, 0))
                    && !Is(shot[fit.X - 3, fit.Y + 3], (200, 40, 160))
                    && IsPlaceholder(shot, tiles[0]);
            },
            "the picture letterboxed in the second tile, the first still a placeholder");

        // The test pattern at 16:9 fills its tile: its colour bars and counter box where the tile is.
        var pattern = new TestPatternSource(new TestPatternOptions { Width = 1280, Height = 720, Fps = 0 });
        await using (pattern)
        {
            using (VideoFrame frame = (await pattern.ReadFrameAsync(CancellationToken.None))!)
            {
                Assert.True(window.Offer(7, frame));
            }

            string? mismatch = "no screenshot yet";
            await Eventually.UntilAsync(
                async () =>
                {
                    RgbImage shot = await x.ScreenshotAsync(id);
                    PixelRect tile = CallGridLayout.Compute(2, shot.Width, shot.Height)[0];
                    PixelRect fit = Within(tile, Letterbox.Fit(1280, 720, tile.Width, tile.Height));
                    mismatch = WindowTestPattern.Mismatch(shot, (fit.X, fit.Y, fit.Width, fit.Height), 1280, 720);
                    return mismatch is null;
                },
                "the test pattern in the first tile");
            Assert.Null(mismatch);
        }

        await Eventually.UntilAsync(() => window.Stats.FramesShown == 2, "two pictures shown");
    }

    [Fact]
    public async Task Names_are_anti_aliased_text_in_any_script_and_plain_text_whatever_they_contain()
    {
        await using Session session = await Session.OpenAsync("main");
        (XvfbDisplay x, CallGridWindow window, string id) = session;
        string[] names = ["Ana", "Борис", "李雷", "<script>alert(1)</script>\u0007\u001b[31m\u202Eevil\r\n"];
        for (int i = 0; i < names.Length; i++)
        {
            window.SetTile((uint)i + 1, names[i]);
        }

        RgbImage shot = await ShowingAsync(x, id, [1, 2, 3, 4]);
        PixelRect[] tiles = CallGridLayout.Compute(4, shot.Width, shot.Height);
        for (int i = 0; i < names.Length; i++)
        {
            (int levels, int bright) = LabelInk(shot, tiles[i]);
            Assert.True(levels > 2, $"'{names[i]}': {levels} grey levels in its label: not anti-aliased");
            Assert.True(bright > 20, $"'{names[i]}': {bright} bright pixels in its label: nothing drawn");
        }

        // The CJK label is as wide as two ideographs, not empty or one box: compare it with "Ana"'s.
        Assert.True(LabelInk(shot, tiles[2]).Bright > LabelInk(shot, tiles[0]).Bright / 2);

        // The hostile name is shown as text (the same tile's label as "<script>..." cleaned), and the window goes on.
        Assert.Equal("<script>alert(1)</script> [31mevil", CallGridWindow.CleanName(names[3], "?"));
        window.SetTile(4, "Dee");
        await Eventually.UntilAsync(async () => LabelInk(await x.ScreenshotAsync(id), tiles[3]).Bright < LabelInk(shot, tiles[3]).Bright, "the renamed label, shorter");
        Assert.False(window.Closed.IsCancellationRequested);
        Assert.Null(window.Failure);
    }

    [Fact]
    public async Task Every_offered_picture_is_shown_or_counted_as_dropped_and_a_hidden_window_drops_them_all()
    {
        await using Session session = await Session.OpenAsync("main");
        (XvfbDisplay x, CallGridWindow window, string id) = session;
        window.SetTile(1, "Ana");
        window.SetTile(2, "Ben");
        using VideoFrame a = Solid(320, 180, 250, 0, 0);
        using VideoFrame b = Solid(320, 180, 0, 0, 250);

        // Two producers as fast as they can: newest wins in each tile, and nothing goes uncounted.
        const int PerTile = 150;
        await Task.WhenAll(
            Task.Run(() => OfferMany(window, 1, a, PerTile)),
            Task.Run(() => OfferMany(window, 2, b, PerTile)));
        await Eventually.UntilAsync(() => window.Stats.FramesShown + window.Stats.Dropped == 2 * PerTile, "every picture shown or dropped");
        Assert.True(window.Stats.FramesShown >= 2);

        // Hidden (as when minimized): pictures are taken but not drawn, each counted as dropped.
        await x.HideAsync(id);
        long shownBefore = 0;
        await Eventually.UntilAsync(
            () =>
            {
                shownBefore = window.Stats.FramesShown;
                long dropped = window.Stats.Dropped;
                Assert.True(window.Offer(1, a));
                return SpinWait.SpinUntil(() => window.Stats.Dropped > dropped || window.Stats.FramesShown > shownBefore, TestHub.Timeout)
                    && window.Stats.FramesShown == shownBefore;
            },
            "a picture offered to the hidden window dropped");
        long droppedBefore = window.Stats.Dropped;
        for (int i = 0; i < 20; i++)
        {
            Assert.True(window.Offer(2, b));
            await Eventually.UntilAsync(() => window.Stats.Dropped == droppedBefore + i + 1, "the hidden window's drop");
        }

        Assert.Equal(shownBefore, window.Stats.FramesShown);
    }

    [Fact]
    public async Task A_four_tile_call_looks_right()
    {
        await using Session session = await Session.OpenAsync("standup");
        (XvfbDisplay x, CallGridWindow window, string id) = session;
        (uint Id, string Name, int Width, int Height)[] people = [(1, "Ana", 1280, 720), (2, "Bartłomiej", 640, 480), (3, "Zoë", 960, 540), (4, "李雷", 0, 0)];
        foreach ((uint participant, string name, int width, int height) in people)
        {
            window.SetTile(participant, name);
            if (width > 0)
            {
                var pattern = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });
                await using (pattern)
                {
                    using VideoFrame frame = (await pattern.ReadFrameAsync(CancellationToken.None))!;
                    Assert.True(window.Offer(participant, frame));
                }
            }
        }

        await Eventually.UntilAsync(() => window.Stats.FramesShown == 3, "three pictures shown");
        // (Presented is not yet on the X server's screen: the screenshot is retried until it shows everything.)
        string? mismatch = "no screenshot yet";
        await Eventually.UntilAsync(
            async () =>
            {
                RgbImage shot = await x.ScreenshotAsync(id);
                PixelRect[] tiles = CallGridLayout.Compute(4, shot.Width, shot.Height);
                mismatch = WindowTestPattern.Mismatch(shot, Tuple(Within(tiles[0], Letterbox.Fit(1280, 720, tiles[0].Width, tiles[0].Height))), 1280, 720)
                    ?? WindowTestPattern.Mismatch(shot, Tuple(Within(tiles[1], Letterbox.Fit(640, 480, tiles[1].Width, tiles[1].Height))), 640, 480)
                    ?? WindowTestPattern.Mismatch(shot, Tuple(Within(tiles[2], Letterbox.Fit(960, 540, tiles[2].Width, tiles[2].Height))), 960, 540)
                    ?? PlaceholderMismatch(shot, tiles[3..], [4]);
                return mismatch is null;
            },
            "three test patterns and a placeholder");
        Assert.Null(mismatch);

        if (Environment.GetEnvironmentVariable(ScreenshotVariable) is { Length: > 0 } directory)
        {
            await x.SavePngAsync(id, Path.Combine(directory, "call-window.png"));
        }
    }

    private static void OfferMany(CallGridWindow window, uint id, VideoFrame picture, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Assert.True(window.Offer(id, picture));
        }
    }

    /// <summary>Waits until the screenshot shows exactly these participants' placeholder tiles, in this order, and returns it.</summary>
    private static async Task<RgbImage> ShowingAsync(XvfbDisplay x, string id, uint[] participants)
    {
        RgbImage? last = null;
        string why = "";
        await Eventually.UntilAsync(
            async () =>
            {
                last = await x.ScreenshotAsync(id);
                why = PlaceholderMismatch(last, participants) ?? "";
                return why.Length == 0;
            },
            $"tiles {string.Join(", ", participants)}: {why}");
        return last!;
    }

    private static string? PlaceholderMismatch(RgbImage shot, uint[] participants) =>
        PlaceholderMismatch(shot, CallGridLayout.Compute(participants.Length, shot.Width, shot.Height), participants);

    /// <summary>Why <paramref name="tiles"/> do not show these participants' placeholders, or null when they do.</summary>
    private static string? PlaceholderMismatch(RgbImage shot, PixelRect[] tiles, uint[] participants)
    {
        for (int i = 0; i < tiles.Length; i++)
        {
            PixelRect tile = tiles[i];
            if (!IsPlaceholder(shot, tile))
            {
                return $"tile {i} at {tile} is not a placeholder";
            }

            if (!Is(AvatarPixel(shot, tile), Colour(CallGridWindow.AvatarColour(participants[i]))))
            {
                return $"tile {i} at {tile} is not participant {participants[i]}'s (its circle is {AvatarPixel(shot, tile)})";
            }

            // Outside the tile, just left of it and above it: the background (the gap).
            if (!Is(shot[tile.X - 2, tile.Y + (tile.Height / 2)], CallGridWindow.Background) || !Is(shot[tile.X + (tile.Width / 2), tile.Y - 2], CallGridWindow.Background))
            {
                return $"no gap around tile {i} at {tile}";
            }
        }

        return null;
    }

    /// <summary>
    /// The placeholder's colour near the tile's four corners (just inside their rounding, clear of the label inset from the
    /// bottom-left one), and the background in the corners' very pixels (rounded).
    /// </summary>
    private static bool IsPlaceholder(RgbImage shot, PixelRect tile)
    {
        int r = CallGridWindow.CornerRadius(tile.Height);
        int right = tile.X + tile.Width - 1, bottom = tile.Y + tile.Height - 1;
        return Is(shot[tile.X + 2, tile.Y + r + 2], CallGridWindow.Placeholder) && Is(shot[right - 2, tile.Y + r + 2], CallGridWindow.Placeholder)
            && Is(shot[tile.X + 2, bottom - r - 2], CallGridWindow.Placeholder) && Is(shot[right - 2, bottom - r - 2], CallGridWindow.Placeholder)
            && Is(shot[tile.X, tile.Y], CallGridWindow.Background) && Is(shot[right, bottom], CallGridWindow.Background);
    }

    /// <summary>A point in the initials circle, above its letters.</summary>
    private static (int R, int G, int B) AvatarPixel(RgbImage shot, PixelRect tile)
    {
        int diameter = Math.Min(tile.Height * 2 / 5, tile.Width * 3 / 10);
        return shot[tile.X + (tile.Width / 2), tile.Y + (tile.Height / 2) - (diameter * 35 / 100)];
    }

    /// <summary>In the label's band at the bottom-left of a tile: how many grey levels there are, and how many near-white pixels.</summary>
    private static (int Levels, int Bright) LabelInk(RgbImage shot, PixelRect tile)
    {
        int size = CallGridWindow.LabelSize(tile.Height);
        int margin = CallGridWindow.LabelMargin(tile.Height);
        int top = tile.Y + tile.Height - margin - (int)Math.Ceiling(size * 1.6);
        var levels = new HashSet<int>();
        int bright = 0;
        for (int y = top; y < tile.Y + tile.Height - margin; y++)
        {
            for (int x = tile.X + margin; x < tile.X + (tile.Width * 3 / 4); x++)
            {
                (int r, int g, int b) = shot[x, y];
                levels.Add(Math.Max(r, Math.Max(g, b)));
                bright += Math.Min(r, Math.Min(g, b)) > 200 ? 1 : 0;
            }
        }

        return (levels.Count, bright);
    }

    private static PixelRect Within(PixelRect tile, PixelRect fit) => fit with { X = tile.X + fit.X, Y = tile.Y + fit.Y };

    private static (int X, int Y, int Width, int Height) Tuple(PixelRect r) => (r.X, r.Y, r.Width, r.Height);

    private static (int R, int G, int B) Colour(SKColor c) => (c.Red, c.Green, c.Blue);

    private static bool Is((int R, int G, int B) pixel, (int R, int G, int B) expected) =>
        Math.Abs(pixel.R - expected.R) <= 6 && Math.Abs(pixel.G - expected.G) <= 6 && Math.Abs(pixel.B - expected.B) <= 6;

    private static bool Is((int R, int G, int B) pixel, (byte R, byte G, byte B) expected) => Is(pixel, (expected.R, expected.G, (int)expected.B));

    private static VideoFrame Solid(int width, int height, byte r, byte g, byte b)
    {
        VideoFrame frame = VideoFrame.Rent(width, height);
        for (int y = 0; y < height; y++)
        {
            Span<byte> row = frame.Buffer.AsSpan(frame.Offset + (y * frame.Stride), width * VideoFrame.BytesPerPixel);
            for (int i = 0; i < row.Length; i += 3)
            {
                (row[i], row[i + 1], row[i + 2]) = (b, g, r);
            }
        }

        return frame;
    }

    /// <summary>An Xvfb, this process pointed at it, and a call window open on it (found by its unique title).</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly IDisposable _display;

        private Session(XvfbDisplay x, IDisposable display, CallGridWindow window, string id)
        {
            X = x;
            _display = display;
            Window = window;
            Id = id;
        }

        public XvfbDisplay X { get; }

        public CallGridWindow Window { get; }

        public string Id { get; }

        public static async Task<Session> OpenAsync(string room)
        {
            XvfbDisplay x = await XvfbDisplay.StartAsync(1920, 1080);
            IDisposable display = x.UseInThisProcess();
            CallGridWindow? window = null;
            try
            {
                string title = "SocketCam call test " + Guid.NewGuid().ToString("N")[..8];
                window = await CallGridWindow.OpenAsync(new CallGridOptions { Title = title, Room = room }).WaitAsync(TestHub.Timeout);
                string id = await x.FindWindowAsync(title);
                Assert.Equal((1280, 720), await x.WindowSizeAsync(id));
                return new Session(x, display, window, id);
            }
            catch
            {
                window?.Dispose();
                display.Dispose();
                await x.DisposeAsync();
                throw;
            }
        }

        public void Deconstruct(out XvfbDisplay x, out CallGridWindow window, out string id) => (x, window, id) = (X, Window, Id);

        public async ValueTask DisposeAsync()
        {
            Assert.True(Window.Stop(), "the render thread did not stop");
            Assert.Null(Window.Failure);
            _display.Dispose();
            await X.DisposeAsync();
        }
    }
}
