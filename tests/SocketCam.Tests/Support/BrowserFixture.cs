using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Playwright;

namespace SocketCam.Tests.Support;

/// <summary>
/// One real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright for .NET) shared by the tests of a class
/// (<c>IClassFixture&lt;BrowserFixture&gt;</c>); each test opens its own <see cref="BrowserPage"/> in a fresh browser
/// context (no shared cookies, cache or storage). Chromium has a fake camera and microphone and grants their permission
/// without asking. Playwright's own browser download cannot work here, so a missing Chromium fails with one line saying
/// how to install it. Disposing closes the browser and stops Playwright's driver.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    internal static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", // tests run as root
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--use-fake-ui-for-media-stream",     // getUserMedia is granted without a prompt
        "--use-fake-device-for-media-stream", // ... and gets Chromium's fake camera (a moving test picture)
        "--autoplay-policy=no-user-gesture-required",
        // Headless pages are never visible: without these Chromium may slow their timers and rendering down.
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser is not started.");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"{ChromiumPath} is missing: the browser tests need Debian's Chromium; run scripts/setup or `apt-get install chromium`.");
        }

        _playwright = await Playwright.CreateAsync();
        // Playwright gives the browser a fresh temporary user-data-dir and deletes it on close.
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
            Timeout = (float)TestHub.Timeout.TotalMilliseconds,
        });
    }

    /// <summary>A new page in its own browser context; dispose it to close both.</summary>
    public async Task<BrowserPage> NewPageAsync()
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
        });
        try
        {
            context.SetDefaultTimeout((float)TestHub.Timeout.TotalMilliseconds);
            IPage page = await context.NewPageAsync();
            return new BrowserPage(context, page);
        }
        catch
        {
            await context.CloseAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
            _browser = null;
        }

        _playwright?.Dispose();
        _playwright = null;
    }
}

/// <summary>
/// A page in its own browser context, with what the page printed to its console and its uncaught errors kept for failure
/// messages (<see cref="Transcript"/>).
/// </summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _log = new();

    internal BrowserPage(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        page.Console += (_, message) => _log.Enqueue($"console.{message.Type}: {message.Text}");
        page.PageError += (_, error) => _log.Enqueue($"page error: {error}");
        page.RequestFailed += (_, request) => _log.Enqueue($"request failed: {request.Method} {request.Url} {request.Failure}");
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                _log.Enqueue($"HTTP {response.Status}: {response.Request.Method} {response.Url}");
            }
        };
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    /// <summary>Navigates and returns the main response (failing the test when there is none).</summary>
    public async Task<IResponse> GotoAsync(string url)
    {
        IResponse? response = await Page.GotoAsync(url, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        Assert.True(response is not null, $"no response for {url}{Environment.NewLine}{Transcript()}");
        return response;
    }

    /// <summary>Evaluates a JavaScript expression (or function) in the page.</summary>
    public Task<T> EvalAsync<T>(string expression, object? arg = null) => Page.EvaluateAsync<T>(expression, arg);

    /// <summary>Polls a JavaScript expression until it is truthy (every 100 ms, no fixed sleeps), failing with the page's log.</summary>
    public async Task UntilAsync(string expression, string what, TimeSpan? timeout = null)
    {
        string? last = null;
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    last = await Page.EvaluateAsync<string>($"() => {{ try {{ return String(!!({expression})); }} catch (e) {{ return 'error: ' + e; }} }}");
                    return last == "true";
                },
                what,
                timeout);
        }
        catch (TimeoutException ex)
        {
            string state = await StateJsonAsync();
            throw new TimeoutException($"{ex.Message}{Environment.NewLine}({expression} → {last}); window.socketcam = {state}{Environment.NewLine}{Transcript()}", ex);
        }
    }

    /// <summary>window.socketcam as JSON (without the long latency list), for messages.</summary>
    public async Task<string> StateJsonAsync()
    {
        try
        {
            return await Page.EvaluateAsync<string>(
                "() => window.socketcam === undefined ? 'undefined' : JSON.stringify(window.socketcam, (k, v) => k === 'latencies' ? `[${v.length} samples]` : v)");
        }
        catch (PlaywrightException ex)
        {
            return $"(cannot read: {ex.Message})";
        }
    }

    /// <summary>
    /// What an element shows now (a canvas of any context type, an img, a video), scaled down to 32x24 and turned into
    /// luma values 0..255 row after row; null while it has no size. Reading pixels needs same-origin content.
    /// </summary>
    public async Task<int[]?> SampleAsync(string selector)
    {
        int[]? pixels = await Page.EvaluateAsync<int[]?>(
            """
            (selector) => {
              const source = document.querySelector(selector);
              if (!source) throw new Error(`no element ${selector}`);
              const w = source.naturalWidth ?? source.videoWidth ?? source.width;
              const h = source.naturalHeight ?? source.videoHeight ?? source.height;
              if (!w || !h) return null;
              const small = document.createElement('canvas');
              small.width = 32; small.height = 24;
              const context = small.getContext('2d', { willReadFrequently: true });
              context.drawImage(source, 0, 0, 32, 24);
              const rgba = context.getImageData(0, 0, 32, 24).data;
              const luma = [];
              for (let i = 0; i < rgba.length; i += 4) luma.push(Math.round(0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2]));
              return luma;
            }
            """,
            selector);
        return pixels;
    }

    /// <summary>
    /// Call before the first navigation: records every WebSocket the page opens and how each one closed (code and reason:
    /// what a page script sees) in window.__sockets, read back by <see cref="WebSocketLogAsync"/>.
    /// </summary>
    public Task RecordWebSocketsAsync() => Page.AddInitScriptAsync(
        """
        (() => {
          const Native = window.WebSocket;
          const log = window.__sockets = [];
          window.WebSocket = class extends Native {
            constructor(url, protocols) {
              super(url, protocols);
              log.push({ event: 'new', url: String(url) });
              this.addEventListener('open', () => log.push({ event: 'open', url: String(url) }));
              this.addEventListener('close', e => log.push({ event: 'close', url: String(url), code: e.code, reason: e.reason }));
            }
          };
        })();
        """);

    /// <summary>The WebSocket events recorded since <see cref="RecordWebSocketsAsync"/>.</summary>
    public async Task<IReadOnlyList<WebSocketEvent>> WebSocketLogAsync() =>
        JsonSerializer.Deserialize<WebSocketEvent[]>(
            await Page.EvaluateAsync<string>("() => JSON.stringify(window.__sockets ?? [])"),
            new JsonSerializerOptions(JsonSerializerDefaults.Web)) ?? [];

    public string Transcript() => _log.IsEmpty ? "(the page logged nothing)" : string.Join(Environment.NewLine, _log);

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}

/// <summary>One WebSocket event as a page script saw it (<see cref="BrowserPage.RecordWebSocketsAsync"/>).</summary>
public sealed record WebSocketEvent(string Event, string Url, int? Code, string? Reason)
{
    public override string ToString() => Code is null ? $"{Event} {Url}" : $"{Event} {Url} {Code} '{Reason}'";
}
