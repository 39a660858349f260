using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace SocketCam.Tests.Support;

/// <summary>A screenshot: packed R, G, B bytes, row after row.</summary>
internal sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    public (int R, int G, int B) this[int x, int y]
    {
        get
        {
            int i = ((y * Width) + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>The smallest rectangle holding every pixel with a channel above <paramref name="threshold"/>, or null.</summary>
    public (int X, int Y, int Width, int Height)? NonBlackBounds(int threshold = 40)
    {
        int left = Width, top = Height, right = -1, bottom = -1;
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                (int r, int g, int b) = this[x, y];
                if (Math.Max(r, Math.Max(g, b)) > threshold)
                {
                    left = Math.Min(left, x);
                    right = Math.Max(right, x);
                    top = Math.Min(top, y);
                    bottom = Math.Max(bottom, y);
                }
            }
        }

        return right < 0 ? null : (left, top, right - left + 1, bottom - top + 1);
    }

    /// <summary>Parses a binary PPM (P6, maxval 255), what ImageMagick's `import ... ppm:-` writes.</summary>
    public static RgbImage FromPpm(byte[] ppm)
    {
        int position = 0;
        string Token()
        {
            while (position < ppm.Length && (char.IsWhiteSpace((char)ppm[position]) || ppm[position] == '#'))
            {
                if (ppm[position] == '#')
                {
                    while (position < ppm.Length && ppm[position] != '\n')
                    {
                        position++;
                    }
                }
                else
                {
                    position++;
                }
            }

            int start = position;
            while (position < ppm.Length && !char.IsWhiteSpace((char)ppm[position]))
            {
                position++;
            }

            return Encoding.ASCII.GetString(ppm, start, position - start);
        }

        Assert.Equal("P6", Token());
        int width = int.Parse(Token(), CultureInfo.InvariantCulture);
        int height = int.Parse(Token(), CultureInfo.InvariantCulture);
        Assert.Equal("255", Token());
        position++; // the single whitespace byte before the pixels
        byte[] pixels = ppm.AsSpan(position).ToArray();
        Assert.Equal(width * height * 3, pixels.Length);
        return new RgbImage(width, height, pixels);
    }
}

/// <summary>
/// A real X server (Debian's Xvfb) on a free display number (-displayfd: the server picks it and says which), with the
/// tools tests use against it: xdotool for windows and keys, ImageMagick's import for screenshots, and libX11 directly for
/// the one thing xdotool cannot do, the window manager's "close" request. Disposing kills the server.
/// </summary>
internal sealed partial class XvfbDisplay : IAsyncDisposable
{
    private readonly Process _server;
    private Process? _windowManager;
    private Task? _windowManagerOutput;

    private XvfbDisplay(Process server, string name)
    {
        _server = server;
        Name = name;
    }

    /// <summary>":N", the value for DISPLAY.</summary>
    public string Name { get; }

    /// <summary>Environment for a child process that should use this display (and no Wayland).</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["DISPLAY"] = Name, ["WAYLAND_DISPLAY"] = "" };

    public static async Task<XvfbDisplay> StartAsync(int width = 1024, int height = 768)
    {
        var info = new ProcessStartInfo("Xvfb")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // -displayfd 1: pick a free display and print its number on stdout once the server accepts connections.
        foreach (string arg in new[] { "-displayfd", "1", "-screen", "0", $"{width}x{height}x24", "-nolisten", "tcp", "-noreset" })
        {
            info.ArgumentList.Add(arg);
        }

        Process server = Process.Start(info) ?? throw new InvalidOperationException("Xvfb did not start (is the xvfb package installed? scripts/setup installs it).");
        Task<string> stderr = server.StandardError.ReadToEndAsync();
        try
        {
            string? line = await server.StandardOutput.ReadLineAsync().WaitAsync(TestHub.Timeout);
            if (line is null || !int.TryParse(line.Trim(), CultureInfo.InvariantCulture, out int number))
            {
                throw new InvalidOperationException($"Xvfb did not report its display: {line}; {(server.HasExited ? await stderr : "")}");
            }

            return new XvfbDisplay(server, ":" + number.ToString(CultureInfo.InvariantCulture));
        }
        catch
        {
            server.Kill();
            server.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a real window manager (openbox) on this display, for what only a window manager does (fullscreen through
    /// _NET_WM_STATE, decorations); waits until it has taken over the screen. It stops with the display.
    /// </summary>
    public async Task StartWindowManagerAsync()
    {
        var info = new ProcessStartInfo("openbox") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["DISPLAY"] = Name;
        info.ArgumentList.Add("--sm-disable");
        _windowManager = Process.Start(info) ?? throw new InvalidOperationException("openbox did not start (scripts/setup installs it).");
        // Drained so it never blocks on a full pipe; awaited when the display stops.
        _windowManagerOutput = Task.WhenAll(_windowManager.StandardOutput.ReadToEndAsync(), _windowManager.StandardError.ReadToEndAsync());
        await Eventually.UntilAsync(
            async () => Encoding.ASCII.GetString(await RunAsync("xprop", "-root", "_NET_SUPPORTING_WM_CHECK")).Contains("window id", StringComparison.Ordinal),
            "openbox managing the display");
    }

    /// <summary>Runs an X client (xdotool, import, ...) on this display; fails the test if it fails.</summary>
    public async Task<byte[]> RunAsync(string tool, params string[] args)
    {
        (int code, byte[] stdout, string stderr) = await MediaTools.RunWithEnvironmentAsync(tool, new Dictionary<string, string> { ["DISPLAY"] = Name }, args);
        Assert.True(code == 0, $"{tool} {string.Join(' ', args)} failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>The id of the first mapped window whose title contains <paramref name="name"/>, waiting for it to appear.</summary>
    public async Task<string> FindWindowAsync(string name, CliProcess? owner = null)
    {
        string? id = null;
        await Eventually.UntilAsync(
            () =>
            {
                if (owner is not null && owner.HasExited)
                {
                    throw new InvalidOperationException($"the program exited before its window appeared.{System.Environment.NewLine}{owner.Transcript()}");
                }

                id = TrySearch(name);
                return id is not null;
            },
            $"a window named '{name}' on {Name}");
        return id!;
    }

    public async Task<string> WindowNameAsync(string id) => Encoding.UTF8.GetString(await RunAsync("xdotool", "getwindowname", id)).Trim();

    /// <summary>The window's size (xdotool getwindowgeometry).</summary>
    public async Task<(int Width, int Height)> WindowSizeAsync(string id)
    {
        (_, _, int width, int height) = await WindowGeometryAsync(id);
        return (width, height);
    }

    /// <summary>The window's place on the screen and size (xdotool getwindowgeometry).</summary>
    public async Task<(int X, int Y, int Width, int Height)> WindowGeometryAsync(string id)
    {
        string shell = Encoding.ASCII.GetString(await RunAsync("xdotool", "getwindowgeometry", "--shell", id));
        int Value(string key) => int.Parse(
            shell.Split('\n').Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..],
            CultureInfo.InvariantCulture);
        return (Value("X"), Value("Y"), Value("WIDTH"), Value("HEIGHT"));
    }

    /// <summary>Ids of the mapped windows whose title contains <paramref name="name"/>, now (no waiting).</summary>
    public IReadOnlyList<string> WindowsNamed(string name) => SearchAll(name);

    /// <summary>What the window shows now (ImageMagick's import reads it back from the X server).</summary>
    public async Task<RgbImage> ScreenshotAsync(string id) => RgbImage.FromPpm(await RunAsync("import", "-window", id, "-depth", "8", "ppm:-"));

    /// <summary>Saves what the window shows now as a PNG file (ImageMagick's import).</summary>
    public Task SavePngAsync(string id, string path) => RunAsync("import", "-window", id, "png:" + path);

    /// <summary>
    /// Makes windows opened by this test process (an in-process <c>CallGridWindow</c>) appear on this display: sets DISPLAY
    /// (and clears WAYLAND_DISPLAY) both in .NET's copy of the environment, which the engine's checks read, and in the C
    /// library's, which libX11 reads when SDL opens the display. Disposing puts the old values back. Only for tests in the
    /// <see cref="InProcessDisplayCollection"/>, which run alone: child processes started meanwhile would inherit it.
    /// </summary>
    public IDisposable UseInThisProcess() => new ProcessDisplay(Name);

    /// <summary>Gives the window the keyboard focus and types <paramref name="key"/> (real input through XTEST).</summary>
    public Task KeyAsync(string id, string key) => RunAsync("xdotool", "windowfocus", "--sync", id, "key", key);

    /// <summary>Resizes the window as a user dragging its border would (the program gets a ConfigureNotify).</summary>
    public Task ResizeAsync(string id, int width, int height) => RunAsync("xdotool", "windowsize", id, width.ToString(CultureInfo.InvariantCulture), height.ToString(CultureInfo.InvariantCulture));

    /// <summary>Unmaps the window (as when it is minimized: the program is told it is hidden).</summary>
    public Task HideAsync(string id) => RunAsync("xdotool", "windowunmap", id);

    /// <summary>
    /// What a window manager does when the user clicks the close button (ICCCM): sends the window a WM_PROTOCOLS client
    /// message with WM_DELETE_WINDOW. There is no window manager here and xdotool's windowclose destroys the window instead,
    /// so the test speaks X11 itself.
    /// </summary>
    public void RequestClose(string id) => X11.SendDeleteWindow(Name, ulong.Parse(id, CultureInfo.InvariantCulture));

    /// <summary>
    /// Stops the X server (SIGSTOP) as if it hung: clients' requests that wait for an answer, or that fill the socket,
    /// block until <see cref="Resume"/>. Nothing run on this display (xdotool, import) can work meanwhile.
    /// </summary>
    public void Suspend() => Signal(SigStop);

    /// <summary>Lets a <see cref="Suspend"/>ed X server go on (SIGCONT).</summary>
    public void Resume() => Signal(SigCont);

    public async ValueTask DisposeAsync()
    {
        if (_windowManager is not null)
        {
            try
            {
                _windowManager.Kill();
                await _windowManager.WaitForExitAsync().WaitAsync(TestHub.Timeout);
                await _windowManagerOutput!.WaitAsync(TestHub.Timeout);
            }
            catch (InvalidOperationException)
            {
            }

            _windowManager.Dispose();
        }

        try
        {
            if (!_server.HasExited)
            {
                _server.Kill();
                await _server.WaitForExitAsync().WaitAsync(TestHub.Timeout);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _server.Dispose();
    }

    private sealed class ProcessDisplay : IDisposable
    {
        private readonly string? _display = System.Environment.GetEnvironmentVariable("DISPLAY");
        private readonly string? _wayland = System.Environment.GetEnvironmentVariable("WAYLAND_DISPLAY");

        public ProcessDisplay(string name)
        {
            Set("DISPLAY", name);
            Set("WAYLAND_DISPLAY", null);
        }

        public void Dispose()
        {
            Set("DISPLAY", _display);
            Set("WAYLAND_DISPLAY", _wayland);
        }

        private static void Set(string name, string? value)
        {
            System.Environment.SetEnvironmentVariable(name, value);
            int result = value is null ? UnsetEnv(name) : SetEnv(name, value, 1);
            Assert.True(result == 0, $"setting {name} in the C environment failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);

    private const int SigCont = 18;
    private const int SigStop = 19;

    private void Signal(int signal) =>
        Assert.True(Kill(_server.Id, signal) == 0, $"kill({_server.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private string? TrySearch(string name) => SearchAll(name).FirstOrDefault();

    private List<string> SearchAll(string name)
    {
        var info = new ProcessStartInfo("xdotool") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["DISPLAY"] = Name;
        info.ArgumentList.Add("search");
        info.ArgumentList.Add("--onlyvisible");
        info.ArgumentList.Add("--name");
        info.ArgumentList.Add(name);
        using Process process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        // Exit code 1 means "no window matched" (yet).
        return process.ExitCode == 0 ? [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())] : [];
    }

    /// <summary>The few libX11 calls for a WM_DELETE_WINDOW message.</summary>
    private static unsafe partial class X11
    {
        private const string Library = "libX11.so.6";
        private const int ClientMessage = 33;

        public static void SendDeleteWindow(string display, ulong window)
        {
            nint connection = XOpenDisplay(display);
            Assert.True(connection != 0, $"cannot open X display {display}");
            try
            {
                ulong protocols = XInternAtom(connection, "WM_PROTOCOLS", 0);
                ulong delete = XInternAtom(connection, "WM_DELETE_WINDOW", 0);
                // XClientMessageEvent inside the 192-byte XEvent union (x86-64 layout): type, serial, send_event, display,
                // window, message_type, format, then data.l[5].
                byte* e = stackalloc byte[192];
                new Span<byte>(e, 192).Clear();
                *(int*)e = ClientMessage;
                *(nint*)(e + 24) = connection;
                *(ulong*)(e + 32) = window;
                *(ulong*)(e + 40) = protocols;
                *(int*)(e + 48) = 32;
                *(ulong*)(e + 56) = delete; // data.l[0]
                *(ulong*)(e + 64) = 0;      // data.l[1]: CurrentTime
                Assert.True(XSendEvent(connection, window, 0, 0, e) != 0, "XSendEvent failed");
                XFlush(connection);
            }
            finally
            {
                XCloseDisplay(connection);
            }
        }

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint XOpenDisplay(string name);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial ulong XInternAtom(nint display, string name, int onlyIfExists);

        [LibraryImport(Library)]
        private static partial int XSendEvent(nint display, ulong window, int propagate, long eventMask, byte* xEvent);

        [LibraryImport(Library)]
        private static partial int XFlush(nint display);

        [LibraryImport(Library)]
        private static partial int XCloseDisplay(nint display);
    }
}
