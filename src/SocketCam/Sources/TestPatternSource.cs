using System.Diagnostics;
using System.Globalization;
using SocketCam.Diagnostics;
using SocketCam.Media;

namespace SocketCam.Sources;

/// <summary>
/// A moving test picture with real detail (colour bars, ramps, fine patterns, a zone plate, circles, noise texture), a frame
/// counter and a clock. Cheap per frame: the background is rendered once, taller than the frame and vertically periodic, and
/// each frame is a scrolling window into it; only the small overlays are drawn per frame (and undone when it is disposed).
/// </summary>
internal sealed class TestPatternSource : IFrameSource
{
    private const int TextColumns = 12; // "HH:MM:SS.mmm"; the counter line "#12345678" is shorter.
    private const long CounterModulo = 100_000_000;
    private const long MaxTileBytes = 48L * 1024 * 1024;
    private const long MicrosPerDay = 86_400_000_000;

    private readonly int _width;
    private readonly int _height;
    private readonly FramePacer _pacer;
    private readonly int _rowBytes;
    private readonly int _tileRows;
    private readonly int _scrollStep;
    private readonly double _fps;
    private readonly long _utcOffsetMicros;
    private readonly byte[] _background;
    private readonly Action<VideoFrame> _release;

    private readonly int _scale;
    private readonly Rect _textBox;
    private readonly int _textX;
    private readonly int _textY;
    private readonly int _squareSize;
    private readonly byte[] _textSave;
    private readonly byte[] _squareSave;

    private VideoFrame? _current;
    private int _currentOffset;
    private Rect _currentSquare;
    private long _sequence;
    private bool _disposed;

    public TestPatternSource(TestPatternOptions? options = null)
    {
        options ??= new TestPatternOptions();
        _width = options.Width;
        _height = options.Height;
        _fps = options.Fps;
        _rowBytes = _width * VideoFrame.BytesPerPixel;

        // The content repeats every _tileRows rows and the buffer holds _tileRows + _height rows, so every scroll position
        // 0.._tileRows-1 is a complete window and wrapping around is seamless. One frame-height of unique content, capped
        // for huge frames (8K) to keep the buffer in the low hundreds of MB.
        _tileRows = (int)Math.Clamp(MaxTileBytes / _rowBytes, Math.Min(_height, 16), _height);
        _scrollStep = Math.Max(1, _height / 360);
        _background = GC.AllocateUninitializedArray<byte>(checked((_tileRows + _height) * _rowBytes));
        RenderBackground();

        _pacer = new FramePacer(_fps);
        _utcOffsetMicros = (long)TimeZoneInfo.Local.GetUtcOffset(DateTime.UtcNow).TotalMicroseconds;
        _release = Release;

        // Text 2-4x the 5x7 font depending on height, smaller if the box would not fit across.
        _scale = Math.Clamp(_height / 180, 1, 4);
        while (_scale > 1 && TextBoxWidth(_scale) + (4 * _scale) > _width)
        {
            _scale--;
        }

        int margin = 2 * _scale;
        int pad = 2 * _scale;
        _textBox = new Rect(margin, margin, TextBoxWidth(_scale), (2 * pad) + (2 * PatternFont.GlyphHeight * _scale) + (2 * _scale))
            .ClipTo(_width, _height);
        _textX = margin + pad;
        _textY = margin + pad;
        _textSave = new byte[_textBox.Width * _textBox.Height * VideoFrame.BytesPerPixel];

        int shortSide = Math.Min(_width, _height);
        _squareSize = Math.Max(shortSide / 12, Math.Min(4, shortSide));
        _squareSave = new byte[_squareSize * _squareSize * VideoFrame.BytesPerPixel];

        Description = _fps > 0
            ? string.Create(CultureInfo.InvariantCulture, $"test pattern {_width}x{_height} @ {_fps:0.###} fps")
            : string.Create(CultureInfo.InvariantCulture, $"test pattern {_width}x{_height} (unpaced)");
    }

    public string Description { get; }

    public int Width => _width;

    public int Height => _height;

    public double Fps => _fps;

    /// <summary>
    /// Returns the next frame, waiting until it is due when paced. The previous frame must have been disposed
    /// (the pattern draws its overlays into a shared buffer), otherwise <see cref="InvalidOperationException"/>.
    /// </summary>
    public ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Volatile.Read(ref _current) is not null)
        {
            throw new InvalidOperationException("Dispose the previous test pattern frame before reading the next one.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (!_pacer.TryTakeSlot(out TimeSpan wait))
        {
            return WaitAndProduceAsync(wait, cancellationToken);
        }

        return new ValueTask<VideoFrame?>(Produce());
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        return ValueTask.CompletedTask;
    }

    private async ValueTask<VideoFrame?> WaitAndProduceAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        do
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
        while (!_pacer.TryTakeSlot(out wait));

        ObjectDisposedException.ThrowIf(_disposed, this);
        return Produce();
    }

    private VideoFrame Produce()
    {
        long sequence = _sequence++;
        int offset = (int)(sequence * _scrollStep % _tileRows) * _rowBytes;
        Rect square = SquareAt(sequence);
        long micros = Clock.NowMicros();

        // Save both regions before drawing either, so overlapping overlays restore to the clean background.
        CopyRect(offset, _textBox, _textSave, save: true);
        CopyRect(offset, square, _squareSave, save: true);
        DrawTextBox(offset, sequence, micros);
        DrawSquare(offset, square, sequence);
        _currentOffset = offset;
        _currentSquare = square;

        // A fresh 72-byte wrapper per frame: a stale reference disposed twice cannot release a later frame.
        VideoFrame frame = VideoFrame.Wrap(_background, offset, _width, _height, _rowBytes, _release);
        frame.Sequence = sequence;
        frame.CaptureMicros = micros;
        Volatile.Write(ref _current, frame);
        return frame;
    }

    private void Release(VideoFrame frame)
    {
        if (!ReferenceEquals(Volatile.Read(ref _current), frame))
        {
            return;
        }

        CopyRect(_currentOffset, _currentSquare, _squareSave, save: false);
        CopyRect(_currentOffset, _textBox, _textSave, save: false);
        Volatile.Write(ref _current, null);
    }

    private static int TextBoxWidth(int scale) => (((TextColumns * PatternFont.Advance) - 1) * scale) + (4 * scale);

    private Rect SquareAt(long sequence)
    {
        int speedX = Math.Max(1, _width / 160);
        int speedY = Math.Max(1, _height / 150);
        int x = Triangle(sequence * speedX, _width - _squareSize);
        int y = Triangle(sequence * speedY, _height - _squareSize);
        return new Rect(x, y, _squareSize, _squareSize);
    }

    private static int Triangle(long t, int range)
    {
        if (range <= 0)
        {
            return 0;
        }

        long phase = t % (2L * range);
        return (int)(phase < range ? phase : (2L * range) - phase);
    }

    private void CopyRect(int offset, Rect rect, byte[] store, bool save)
    {
        int bytes = rect.Width * VideoFrame.BytesPerPixel;
        for (int y = 0; y < rect.Height; y++)
        {
            Span<byte> pixels = _background.AsSpan(offset + ((rect.Y + y) * _rowBytes) + (rect.X * VideoFrame.BytesPerPixel), bytes);
            Span<byte> saved = store.AsSpan(y * bytes, bytes);
            if (save)
            {
                pixels.CopyTo(saved);
            }
            else
            {
                saved.CopyTo(pixels);
            }
        }
    }

    private void DrawTextBox(int offset, long sequence, long micros)
    {
        FillRect(offset, _textBox, 24, 24, 24);

        Span<byte> line = stackalloc byte[TextColumns];
        line[0] = PatternFont.Hash;
        long counter = sequence % CounterModulo;
        for (int i = 8; i >= 1; i--)
        {
            line[i] = (byte)(counter % 10);
            counter /= 10;
        }

        DrawGlyphs(offset, _textX, _textY, line[..9]);

        long day = ((micros + _utcOffsetMicros) % MicrosPerDay + MicrosPerDay) % MicrosPerDay;
        long millis = day / 1000;
        int ms = (int)(millis % 1000);
        int seconds = (int)(millis / 1000);
        line[0] = (byte)(seconds / 36000);
        line[1] = (byte)(seconds / 3600 % 10);
        line[2] = PatternFont.Colon;
        line[3] = (byte)(seconds / 600 % 6);
        line[4] = (byte)(seconds / 60 % 10);
        line[5] = PatternFont.Colon;
        line[6] = (byte)(seconds % 60 / 10);
        line[7] = (byte)(seconds % 10);
        line[8] = PatternFont.Dot;
        line[9] = (byte)(ms / 100);
        line[10] = (byte)(ms / 10 % 10);
        line[11] = (byte)(ms % 10);
        DrawGlyphs(offset, _textX, _textY + ((PatternFont.GlyphHeight + 2) * _scale), line);
    }

    private void DrawGlyphs(int offset, int x, int y, ReadOnlySpan<byte> glyphs)
    {
        int s = _scale;
        for (int i = 0; i < glyphs.Length; i++)
        {
            int left = x + (i * PatternFont.Advance * s);
            if (left >= _textBox.Right)
            {
                return;
            }

            for (int row = 0; row < PatternFont.GlyphHeight; row++)
            {
                int bits = PatternFont.RowBits(glyphs[i], row);
                for (int col = 0; col < PatternFont.GlyphWidth; col++)
                {
                    if ((bits & (0x10 >> col)) != 0)
                    {
                        FillRect(offset, new Rect(left + (col * s), y + (row * s), s, s).Intersect(_textBox), 255, 255, 255);
                    }
                }
            }
        }
    }

    private void DrawSquare(int offset, Rect square, long sequence)
    {
        FillRect(offset, square, 255, 255, 255);
        if (square.Width >= 4)
        {
            // A coloured core that changes every 8 frames, so the square is not a flat white block.
            int inset = square.Width / 4;
            (byte b, byte g, byte r) = ((sequence / 8) % 4) switch
            {
                0 => ((byte)0, (byte)0, (byte)255),
                1 => ((byte)0, (byte)255, (byte)0),
                2 => ((byte)255, (byte)0, (byte)0),
                _ => ((byte)0, (byte)255, (byte)255),
            };
            FillRect(offset, new Rect(square.X + inset, square.Y + inset, square.Width - (2 * inset), square.Height - (2 * inset)), b, g, r);
        }
    }

    private void FillRect(int offset, Rect rect, byte b, byte g, byte r)
    {
        if (rect.Width <= 0 || rect.Height <= 0)
        {
            return;
        }

        int bytes = rect.Width * VideoFrame.BytesPerPixel;
        int start = offset + (rect.Y * _rowBytes) + (rect.X * VideoFrame.BytesPerPixel);
        Span<byte> first = _background.AsSpan(start, bytes);
        for (int i = 0; i < bytes; i += 3)
        {
            first[i] = b;
            first[i + 1] = g;
            first[i + 2] = r;
        }

        for (int y = 1; y < rect.Height; y++)
        {
            first.CopyTo(_background.AsSpan(start + (y * _rowBytes), bytes));
        }
    }

    private void RenderBackground()
    {
        var painter = new PatternPainter(_width, _tileRows);
        if ((long)_width * _tileRows >= 1 << 18)
        {
            Parallel.For(0, _tileRows, y => painter.RenderRow(_background.AsSpan(y * _rowBytes, _rowBytes), y));
        }
        else
        {
            for (int y = 0; y < _tileRows; y++)
            {
                painter.RenderRow(_background.AsSpan(y * _rowBytes, _rowBytes), y);
            }
        }

        // Rows _tileRows.. repeat the tile from its top, so windows starting anywhere in the tile are complete.
        for (int done = 0; done < _height; done += _tileRows)
        {
            int rows = Math.Min(_tileRows, _height - done);
            Buffer.BlockCopy(_background, 0, _background, (_tileRows + done) * _rowBytes, rows * _rowBytes);
        }
    }

    private readonly record struct Rect(int X, int Y, int Width, int Height)
    {
        public int Right => X + Width;

        public int Bottom => Y + Height;

        public Rect ClipTo(int width, int height) => Intersect(new Rect(0, 0, width, height));

        public Rect Intersect(Rect other)
        {
            int left = Math.Max(X, other.X);
            int top = Math.Max(Y, other.Y);
            int right = Math.Min(Right, other.Right);
            int bottom = Math.Min(Bottom, other.Bottom);
            return right <= left || bottom <= top ? default : new Rect(left, top, right - left, bottom - top);
        }
    }
}
