using System.Buffers;
using System.Net.Sockets;
using SocketCam.Media;
using SocketCam.Transport;

namespace SocketCam.Seed;

/// <summary>
/// Reads the seed tutorials' frames from a connected socket (docs/PROTOCOL.md §3): the length prefix is checked against
/// the cap before anything is allocated, the pickle is received straight into one pooled buffer (the parser needs it
/// contiguous anyway, so this saves the copy a pipe would need), then parsed by the allow-list and turned into BGR.
/// A server that sends nothing for the idle timeout, or closes mid-frame, ends the session with a clear error.
/// Messages do not name the server: the caller's log line or error does.
/// </summary>
internal sealed class SeedStreamReader : IDisposable
{
    private readonly Socket _socket;
    private readonly int _maxPixelBytes;
    private readonly long _maxPickleBytes;
    private readonly TimeSpan _idleTimeout;
    private readonly byte[] _prefix = new byte[SeedFraming.LengthBytes];
    private CancellationTokenSource _idle = new();
    private byte[] _buffer = [];
    private byte[]? _scratch;
    private byte[] _gray = [];
    private int _length;

    public SeedStreamReader(Socket socket, int maxPixelBytes, TimeSpan idleTimeout)
    {
        _socket = socket;
        _maxPixelBytes = maxPixelBytes;
        _maxPickleBytes = SeedFraming.MaxPickleBytes(maxPixelBytes);
        _idleTimeout = idleTimeout;
    }

    /// <summary>Frames read and accepted so far.</summary>
    public long Frames { get; private set; }

    /// <summary>The pickle read by the last <see cref="ReadAsync"/>.</summary>
    public ReadOnlySpan<byte> Pickle => _buffer.AsSpan(0, _length);

    /// <summary>
    /// Receives the next frame's pickle; false when the server closed the connection cleanly between frames.
    /// Throws <see cref="SeedFormatException"/> for a length over the cap, <see cref="IOException"/> when the
    /// connection ends mid-frame, <see cref="TimeoutException"/> when the server goes silent.
    /// </summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await ReceiveAsync(_prefix, atBoundary: true, cancellationToken))
        {
            return false;
        }

        int length;
        try
        {
            length = SeedFraming.ReadLength(_prefix, _maxPickleBytes);
        }
        catch (SeedFormatException ex)
        {
            throw new SeedFormatException($"frame {Frames + 1}: {ex.Message}", ex);
        }

        if (_buffer.Length < length)
        {
            ReturnBuffer();
            _buffer = ArrayPool<byte>.Shared.Rent(length);
        }

        _length = 0;
        await ReceiveAsync(_buffer.AsMemory(0, length), atBoundary: false, cancellationToken);
        _length = length;
        return true;
    }

    /// <summary>
    /// Parses the last pickle through the allow-list and returns its pixels as packed BGR24 rows (grayscale is expanded).
    /// The memory stays valid until the next read.
    /// </summary>
    public SeedPicture Decode()
    {
        NumpyImage image;
        try
        {
            image = NumpyPickle.Read(Pickle, ref _scratch, _maxPixelBytes);
        }
        catch (SeedFormatException ex)
        {
            throw new SeedFormatException($"frame {Frames + 1}: {ex.Message}", ex);
        }

        Frames++;
        ReadOnlyMemory<byte> bgr;
        if (image.Channels == 3)
        {
            bgr = Locate(image.Pixels);
        }
        else
        {
            int size = image.Width * image.Height * 3;
            if (_gray.Length < size)
            {
                _gray = new byte[size];
            }

            ExpandGray(image.Pixels, _gray);
            bgr = _gray.AsMemory(0, size);
        }

        return new SeedPicture(image.Width, image.Height, image.Channels, bgr);
    }

    public void Dispose()
    {
        _idle.Dispose();
        ReturnBuffer();
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    private static void ExpandGray(ReadOnlySpan<byte> gray, Span<byte> bgr)
    {
        for (int i = 0, j = 0; i < gray.Length; i++, j += 3)
        {
            byte v = gray[i];
            bgr[j] = v;
            bgr[j + 1] = v;
            bgr[j + 2] = v;
        }
    }

    /// <summary>The pixels are a slice of the receive buffer or of the scratch buffer: find which, as memory.</summary>
    private ReadOnlyMemory<byte> Locate(ReadOnlySpan<byte> pixels)
    {
        if (_buffer.AsSpan().Overlaps(pixels, out int offset))
        {
            return _buffer.AsMemory(offset, pixels.Length);
        }

        if (_scratch is not null && _scratch.AsSpan().Overlaps(pixels, out offset))
        {
            return _scratch.AsMemory(offset, pixels.Length);
        }

        throw new InvalidOperationException("The parsed pixels are in neither buffer.");
    }

    private async ValueTask<bool> ReceiveAsync(Memory<byte> destination, bool atBoundary, CancellationToken cancellationToken)
    {
        int total = destination.Length;
        int received = 0;
        while (received < total)
        {
            int n;
            // Armed only while waiting for bytes: time the caller spends between reads (a paused capture, a recorder
            // holding the loop) is not the server's silence.
            if (!_idle.TryReset())
            {
                _idle.Dispose();
                _idle = new CancellationTokenSource();
            }

            _idle.CancelAfter(_idleTimeout);
            using (CancellationTokenRegistration link = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _idle))
            {
                try
                {
                    n = await _socket.ReceiveAsync(destination[received..], SocketFlags.None, _idle.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"the seed server sent nothing for {_idleTimeout.TotalSeconds:0.#} s.");
                }
                finally
                {
                    _idle.CancelAfter(Timeout.InfiniteTimeSpan);
                }
            }

            if (n == 0)
            {
                if (atBoundary && received == 0)
                {
                    return false;
                }

                throw new IOException($"the seed server closed the connection in the middle of a frame ({received} of {total} bytes of {(atBoundary ? "the length prefix" : "the pickle")}).");
            }

            received += n;
        }

        return true;
    }

    private void ReturnBuffer()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}

/// <summary>One seed frame as packed BGR24 rows; <see cref="Channels"/> says what the sender sent (1 = grayscale).</summary>
internal readonly record struct SeedPicture(int Width, int Height, int Channels, ReadOnlyMemory<byte> Bgr);
