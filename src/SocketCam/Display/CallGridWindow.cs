using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SkiaSharp;
using SocketCam.Diagnostics;
using SocketCam.Display.Sdl;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Display;

/// <summary>
/// One window showing every other participant of a call as a labelled grid (<see cref="CallGridLayout"/>): each tile's
/// newest picture letterboxed in it, the participant's name bottom-left on a translucent pill, a dark placeholder with the
/// initials until a picture comes, and "Waiting for others to join ROOM" while there is nobody. Tiles come and go with
/// <see cref="SetTile"/> and <see cref="RemoveTile"/>; pictures arrive through <see cref="Offer"/>, one
/// <see cref="PictureMailbox"/> per tile (newest wins, replaced ones counted). Every method is safe from any thread and
/// never touches SDL or the X server: only the window's <see cref="WindowThread"/> does, and it draws only when something
/// changed (a picture, a tile, a name, the window's size). Keys and the close button cancel <see cref="Closed"/>.
/// </summary>
internal sealed class CallGridWindow : IDisposable, IWindowScene
{
    /// <summary>Longest name kept, in characters (a name from the network is shown, not trusted).</summary>
    public const int MaxNameLength = 64;

    /// <summary>The window behind the tiles.</summary>
    internal static readonly (byte R, byte G, byte B) Background = (16, 17, 20);

    /// <summary>A tile without a picture yet.</summary>
    internal static readonly (byte R, byte G, byte B) Placeholder = (38, 40, 46);

    private static readonly SKColor[] AvatarColours =
    [
        new(0x3B, 0x6E, 0xA8), new(0x2E, 0x8B, 0x6F), new(0x8E, 0x5B, 0xA6), new(0xB0, 0x6A, 0x2C),
        new(0xA8, 0x45, 0x5A), new(0x4F, 0x7D, 0x3A), new(0x5A, 0x5F, 0xB0), new(0x9A, 0x7B, 0x2E),
    ];

    private readonly ILogger _logger;
    private readonly WindowThread _thread;
    private readonly string _waitingText;
    private readonly (int Width, int Height) _initialSize;
    private readonly Lock _tilesLock = new();
    private readonly List<Tile> _tiles = [];   // under _tilesLock, in the order they joined
    private readonly List<Tile> _removed = []; // under _tilesLock: removed, mailbox not freed yet
    private int _version;                      // under _tilesLock: changes with every add, rename and removal
    private long _removedReplaced;             // under _tilesLock: pictures replaced in tiles since freed
    private bool _stopped;                     // under _tilesLock

    // Render thread only.
    private readonly List<Tile> _shown = [];
    private readonly List<long> _uploadedCaptures = [];
    private int _shownVersion = -1;
    private TextPainter? _painter;
    private SdlTexture? _corners;
    private SdlTexture? _waiting;
    private (int Size, int MaxWidth) _waitingKey;
    private (int Width, int Height) _size;
    private bool _dirty = true;
    private bool _drawFailed;

    private CallGridWindow(CallGridOptions options, ILogger logger)
    {
        _logger = logger;
        _waitingText = "Waiting for others to join " + CleanName(options.Room, "the room");
        _initialSize = (options.InitialWidth, options.InitialHeight);
        Stats = new DisplayStats(ReplacedPictures);
        _thread = new WindowThread(
            new WindowThreadOptions(options.Title, options.InitialWidth, options.InitialHeight, options.EventTimeout, options.Alternative, "SocketCam call window"),
            this,
            logger);
    }

    /// <summary>
    /// Pictures shown (a picture counts once, however many times it is redrawn) and dropped (replaced in a tile's mailbox
    /// before the window took it, or taken while the window was hidden), over all tiles, removed ones included.
    /// </summary>
    public DisplayStats Stats { get; }

    /// <summary>Cancelled when the user closed the window (a key or the close button), or when the render thread failed (<see cref="Failure"/>).</summary>
    public CancellationToken Closed => _thread.Closed;

    /// <summary>How the user closed the window ("q", "Esc", "Enter", "the close button"), or null.</summary>
    public string? ClosedBy => _thread.ClosedBy;

    /// <summary>The render thread's unexpected failure (a bug), once it has stopped; null when it ended normally.</summary>
    public Exception? Failure => _thread.Failure;

    /// <summary>
    /// Checks that there is a display, SDL2 and SkiaSharp's native library, then opens the window on its own thread and
    /// returns once it is up. Throws <see cref="UserFacingException"/> (no display, SDL cannot open a window) or
    /// <see cref="NativeDependencyException"/> (SDL2 or SkiaSharp's library missing): one line for the user.
    /// <paramref name="cancellationToken"/> abandons the wait (see <see cref="VideoWindow.OpenAsync"/>).
    /// </summary>
    public static async Task<CallGridWindow> OpenAsync(CallGridOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        DisplayEnvironment.Require(options.Feature, options.Alternative);
        SkiaLibrary.EnsureAvailable();
        cancellationToken.ThrowIfCancellationRequested();
        var window = new CallGridWindow(options, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Display"));
        window.Stats.Renderer = await window._thread.StartAsync(cancellationToken);
        return window;
    }

    /// <summary>
    /// Adds a tile for participant <paramref name="id"/> (after the others), or renames it. <paramref name="name"/> comes from
    /// the network: it is shown as plain text, control characters and direction overrides removed, at most
    /// <see cref="MaxNameLength"/> characters. Any thread; does nothing once the window is stopped.
    /// </summary>
    public void SetTile(uint id, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string clean = CleanName(name, "#" + id.ToString(CultureInfo.InvariantCulture));
        lock (_tilesLock)
        {
            if (_stopped)
            {
                return;
            }

            if (Find(id) is { } tile)
            {
                if (tile.Name == clean)
                {
                    return;
                }

                tile.Name = clean;
            }
            else
            {
                tile = new Tile(id, clean);
                tile.Mailbox.SetWake(_thread.Wake);
                _tiles.Add(tile);
            }

            _version++;
        }

        _thread.Wake();
    }

    /// <summary>Removes participant <paramref name="id"/>'s tile (nothing if there is none); the others re-flow. Any thread.</summary>
    public void RemoveTile(uint id)
    {
        lock (_tilesLock)
        {
            if (Find(id) is not { } tile)
            {
                return;
            }

            _tiles.Remove(tile);
            // Waits for an Offer copying into this tile right now (one picture's copy): after this none can reach its
            // mailbox, so the render thread may free it.
            tile.Retire();
            _removed.Add(tile);
            _version++;
        }

        _thread.Wake();
    }

    /// <summary>
    /// Hands participant <paramref name="id"/>'s newest decoded picture (BGR24) to its tile: copied into the tile's mailbox,
    /// replacing (and counting) one the window has not taken yet; the caller keeps <paramref name="picture"/> and releases
    /// it as before. <see cref="VideoFrame.CaptureMicros"/> is read as a time on this process's clock (the latency figures).
    /// Never waits for drawing. Any thread, one at a time per tile (a participant's receive loop). False when there is no such
    /// tile (not added yet, removed, or the window stopped).
    /// </summary>
    public bool Offer(uint id, VideoFrame picture)
    {
        ArgumentNullException.ThrowIfNull(picture);
        Tile? tile;
        lock (_tilesLock)
        {
            tile = Find(id);
        }

        return tile is not null && tile.Offer(picture);
    }

    /// <summary>Stops the render thread (closing the window if still open) and waits for it. Rethrows nothing: see <see cref="Failure"/>.</summary>
    public void Dispose() => Stop();

    /// <summary>
    /// Stops the render thread (closing the window if still open) and waits for it, at most 10 s, then frees the tiles'
    /// picture buffers. False when the thread did not stop in time (an X server that stopped answering): it is left behind
    /// with the buffers it may still use. Later <see cref="SetTile"/> and <see cref="Offer"/> calls do nothing.
    /// </summary>
    public bool Stop()
    {
        lock (_tilesLock)
        {
            _stopped = true;
            foreach (Tile tile in _tiles)
            {
                tile.Retire();
            }
        }

        if (!_thread.Stop(WindowThread.JoinLimit))
        {
            DisplayLog.FeedLeftBehind(_logger);
            return false;
        }

        lock (_tilesLock)
        {
            foreach (Tile tile in _tiles.Concat(_removed))
            {
                _removedReplaced += tile.Mailbox.Replaced;
                tile.Mailbox.Dispose();
            }

            _tiles.Clear();
            _removed.Clear();
        }

        return true;
    }

    /// <summary>
    /// A name (or room name) from the network made fit to show: control characters and line breaks become spaces, format
    /// characters other than the joiners emoji need (direction overrides, invisible marks) go, invalid UTF-16 becomes
    /// U+FFFD, runs of spaces become one, and the result is trimmed and cut to <see cref="MaxNameLength"/> characters
    /// (never inside a surrogate pair). <paramref name="fallback"/> when nothing is left.
    /// </summary>
    internal static string CleanName(string name, string fallback)
    {
        var clean = new StringBuilder(Math.Min(name.Length, MaxNameLength + 2));
        foreach (Rune rune in PrintableText.Of(name).EnumerateRunes())
        {
            UnicodeCategory category = Rune.GetUnicodeCategory(rune);
            bool space = Rune.IsWhiteSpace(rune) || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
            if (category == UnicodeCategory.Format && rune.Value is not (0x200C or 0x200D))
            {
                continue;
            }

            if (space)
            {
                if (clean.Length > 0 && clean[^1] != ' ')
                {
                    clean.Append(' ');
                }

                continue;
            }

            if (clean.Length + rune.Utf16SequenceLength > MaxNameLength)
            {
                break;
            }

            clean.Append(rune.ToString());
        }

        string result = clean.ToString().Trim();
        return result.Length == 0 ? fallback : result;
    }

    void IWindowScene.Opened(SdlWindow window)
    {
        // Like any window: the asked-for size, scaled down to fit the screen.
        window.SizeToPicture(_initialSize.Width, _initialSize.Height);
        _painter = new TextPainter();
    }

    void IWindowScene.Render(SdlWindow window, bool invalidated, bool hidden)
    {
        _dirty |= invalidated;
        TakeTileChanges();
        foreach (Tile tile in _shown)
        {
            if (hidden)
            {
                // Nothing drawn is seen: take the picture without uploading it, and count it as dropped.
                if (tile.Mailbox.Skip())
                {
                    Stats.OnNotShown();
                }
            }
            else if (tile.Mailbox.TakeNewest() is { } picture)
            {
                tile.Picture ??= window.CreateTexture();
                if (tile.Picture.UploadPicture(picture, out bool created, out string? error))
                {
                    _uploadedCaptures.Add(picture.CaptureMicros);
                    _dirty = true;
                    if (created)
                    {
                        DisplayLog.TextureCreated(_logger, picture.Width, picture.Height);
                    }
                }
                else
                {
                    ReportDrawFailure(error!);
                }
            }
        }

        (int width, int height) = window.OutputSize();
        if ((width, height) != _size)
        {
            _size = (width, height);
            _dirty = true;
        }

        if (!_dirty || hidden)
        {
            return;
        }

        if (Draw(window, width, height) is { } drawError)
        {
            ReportDrawFailure(drawError);
        }

        window.Present();
        _dirty = false;
        long now = Clock.NowMicros();
        foreach (long capture in _uploadedCaptures)
        {
            Stats.OnShown(capture > 0 ? (now - capture) / 1000.0 : 0);
        }

        _uploadedCaptures.Clear();
    }

    void IWindowScene.Closing()
    {
        foreach (Tile tile in _shown)
        {
            tile.FreeTextures();
        }

        _shown.Clear();
        _waiting?.Dispose();
        _waiting = null;
        _corners?.Dispose();
        _corners = null;
        _painter?.Dispose();
        _painter = null;
    }

    /// <summary>The colour of participant <paramref name="id"/>'s initials circle.</summary>
    internal static SKColor AvatarColour(uint id) => AvatarColours[id % (uint)AvatarColours.Length];

    /// <summary>Label text size for a tile <paramref name="tileHeight"/> pixels tall: 1/16 of it, 11 to 26 pixels.</summary>
    internal static int LabelSize(int tileHeight) => Math.Clamp(tileHeight / 16, 11, 26);

    /// <summary>The radius of a tile's rounded corners: 1/28 of its height, 2 to 14 pixels.</summary>
    internal static int CornerRadius(int tileHeight) => Math.Clamp(tileHeight / 28, 2, 14);

    /// <summary>The space between a tile's edges and its label: 1/36 of its height, at least 4 pixels.</summary>
    internal static int LabelMargin(int tileHeight) => Math.Max(4, tileHeight / 36);

    /// <summary>Render thread: the tiles as they are now, if they changed; frees what removed tiles held.</summary>
    private void TakeTileChanges()
    {
        List<Tile> gone;
        lock (_tilesLock)
        {
            if (_version == _shownVersion && _removed.Count == 0)
            {
                return;
            }

            _shownVersion = _version;
            gone = [.. _shown.Except(_tiles)];
            _shown.Clear();
            _shown.AddRange(_tiles);
            foreach (Tile tile in _removed)
            {
                // Retired before it was put here: no Offer can reach its mailbox any more.
                _removedReplaced += tile.Mailbox.Replaced;
                tile.Mailbox.Dispose();
            }

            _removed.Clear();
        }

        foreach (Tile tile in gone)
        {
            tile.FreeTextures();
        }

        _dirty = true;
    }

    private string? Draw(SdlWindow window, int width, int height)
    {
        TextPainter painter = _painter!;
        if (!window.Clear(Background.R, Background.G, Background.B))
        {
            return SdlNative.GetError();
        }

        PixelRect[] rects = CallGridLayout.Compute(_shown.Count, width, height);
        if (rects.Length == 0)
        {
            int size = Math.Clamp(height / 24, 14, 30);
            int maxWidth = Math.Max(1, width - (4 * size));
            _waiting ??= window.CreateTexture();
            if (_waitingKey != (size, maxWidth) || !_waiting.HasContent)
            {
                _waitingKey = (size, maxWidth);
                RgbaImage image = painter.Line(_waitingText, size, maxWidth, new SKColor(205, 207, 214));
                if (!_waiting.SetImage(image.Pixels, image.Width, image.Height, image.Stride, out string? error))
                {
                    return error;
                }
            }

            return window.Copy(_waiting, new PixelRect((width - _waiting.Width) / 2, (height - _waiting.Height) / 2, _waiting.Width, _waiting.Height))
                ? null
                : SdlNative.GetError();
        }

        int radius = CornerRadius(rects[0].Height);
        _corners ??= window.CreateTexture();
        if (_corners.Width != 2 * radius)
        {
            RgbaImage mask = TextPainter.CornerMask(radius, new SKColor(Background.R, Background.G, Background.B));
            if (!_corners.SetImage(mask.Pixels, mask.Width, mask.Height, mask.Stride, out string? error))
            {
                return error;
            }
        }

        for (int i = 0; i < rects.Length; i++)
        {
            if (DrawTile(window, painter, _shown[i], rects[i]) is { } error)
            {
                return error;
            }

            if (!RoundCorners(window, _corners, rects[i], radius))
            {
                return SdlNative.GetError();
            }
        }

        return null;
    }

    /// <summary>Covers the tile's four corners with the background outside a circle's quarter: rounded corners.</summary>
    private static bool RoundCorners(SdlWindow window, SdlTexture corners, PixelRect tile, int radius)
    {
        if (tile.Width < 4 * radius || tile.Height < 4 * radius)
        {
            return true;
        }

        int right = tile.X + tile.Width - radius, bottom = tile.Y + tile.Height - radius;
        return window.Copy(corners, new PixelRect(0, 0, radius, radius), new PixelRect(tile.X, tile.Y, radius, radius))
            && window.Copy(corners, new PixelRect(radius, 0, radius, radius), new PixelRect(right, tile.Y, radius, radius))
            && window.Copy(corners, new PixelRect(0, radius, radius, radius), new PixelRect(tile.X, bottom, radius, radius))
            && window.Copy(corners, new PixelRect(radius, radius, radius, radius), new PixelRect(right, bottom, radius, radius));
    }

    private static string? DrawTile(SdlWindow window, TextPainter painter, Tile tile, PixelRect rect)
    {
        if (rect.IsEmpty)
        {
            return null;
        }

        SdlTexture? picture = tile.Picture is { HasContent: true } p ? p : null;
        bool ok = picture is not null ? window.Fill(rect, 0, 0, 0) : window.Fill(rect, Placeholder.R, Placeholder.G, Placeholder.B);
        if (ok && picture is not null)
        {
            PixelRect fit = Letterbox.Fit(picture.Width, picture.Height, rect.Width, rect.Height);
            ok = window.Copy(picture, fit with { X = rect.X + fit.X, Y = rect.Y + fit.Y });
        }
        else if (ok)
        {
            int diameter = Math.Min(rect.Height * 2 / 5, rect.Width * 3 / 10);
            if (diameter >= 8)
            {
                string initials = TextPainter.Initials(tile.Name);
                tile.Avatar ??= window.CreateTexture();
                if (tile.AvatarKey != (initials, diameter) || !tile.Avatar.HasContent)
                {
                    tile.AvatarKey = (initials, diameter);
                    RgbaImage image = painter.Avatar(initials, diameter, AvatarColour(tile.Id));
                    if (!tile.Avatar.SetImage(image.Pixels, image.Width, image.Height, image.Stride, out string? error))
                    {
                        return error;
                    }
                }

                ok = window.Copy(tile.Avatar, new PixelRect(rect.X + ((rect.Width - diameter) / 2), rect.Y + ((rect.Height - diameter) / 2), diameter, diameter));
            }
        }

        int size = LabelSize(rect.Height);
        int margin = LabelMargin(rect.Height);
        int maxWidth = rect.Width - (2 * margin);
        if (ok && maxWidth >= 3 * size)
        {
            tile.Label ??= window.CreateTexture();
            string name = tile.Name;
            if (tile.LabelKey != (name, size, maxWidth) || !tile.Label.HasContent)
            {
                tile.LabelKey = (name, size, maxWidth);
                RgbaImage image = painter.Pill(name, size, maxWidth);
                if (!tile.Label.SetImage(image.Pixels, image.Width, image.Height, image.Stride, out string? error))
                {
                    return error;
                }
            }

            ok = window.Copy(tile.Label, new PixelRect(rect.X + margin, rect.Y + rect.Height - margin - tile.Label.Height, tile.Label.Width, tile.Label.Height));
        }

        return ok ? null : SdlNative.GetError();
    }

    private long ReplacedPictures()
    {
        lock (_tilesLock)
        {
            long replaced = _removedReplaced;
            foreach (Tile tile in _tiles)
            {
                replaced += tile.Mailbox.Replaced;
            }

            foreach (Tile tile in _removed)
            {
                replaced += tile.Mailbox.Replaced;
            }

            return replaced;
        }
    }

    private Tile? Find(uint id)
    {
        foreach (Tile tile in _tiles)
        {
            if (tile.Id == id)
            {
                return tile;
            }
        }

        return null;
    }

    private void ReportDrawFailure(string error)
    {
        if (!_drawFailed)
        {
            _drawFailed = true;
            DisplayLog.DrawFailed(_logger, error);
        }
    }

    /// <summary>One participant's tile: what producers share with the render thread, and the render thread's textures.</summary>
    private sealed class Tile(uint id, string name)
    {
        private readonly Lock _offerLock = new();
        private bool _retired; // under _offerLock

        public uint Id { get; } = id;

        /// <summary>Changed under the window's tiles lock; read by the render thread when the tiles' version changed.</summary>
        public string Name { get; set; } = name;

        public PictureMailbox Mailbox { get; } = new();

        // Render thread only.
        public SdlTexture? Picture { get; set; }

        public SdlTexture? Label { get; set; }

        public (string Name, int Size, int MaxWidth) LabelKey { get; set; }

        public SdlTexture? Avatar { get; set; }

        public (string Initials, int Diameter) AvatarKey { get; set; }

        /// <summary>Copies the picture into the mailbox unless the tile was retired. One producer at a time.</summary>
        public bool Offer(VideoFrame picture)
        {
            lock (_offerLock)
            {
                if (_retired)
                {
                    return false;
                }

                Mailbox.Publish(picture, picture.CaptureMicros);
                return true;
            }
        }

        /// <summary>No Offer reaches the mailbox after this returns (one still copying is waited for).</summary>
        public void Retire()
        {
            lock (_offerLock)
            {
                _retired = true;
            }
        }

        public void FreeTextures()
        {
            Picture?.Dispose();
            Label?.Dispose();
            Avatar?.Dispose();
            Picture = Label = Avatar = null;
        }
    }
}
