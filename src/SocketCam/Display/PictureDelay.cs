using SocketCam.Diagnostics;
using SocketCam.Media;

namespace SocketCam.Display;

/// <summary>
/// Lip sync for the window: holds decoded pictures until they are due (their capture time plus their sound's delay) and
/// then hands them to the <see cref="PictureMailbox"/>, in order. At most 8 wait (over 250 ms at 30 fps; the hold is at
/// most 200 ms); a picture that finds them all waiting sends the oldest on early. Everything that reaches the mailbox
/// goes through here, under one lock, so the mailbox keeps its single producer.
/// </summary>
internal sealed class PictureDelay : IDisposable
{
    private const int Capacity = 8;
    private readonly PictureMailbox _mailbox;
    private readonly Lock _lock = new();
    private readonly Queue<(VideoFrame Picture, long CaptureMicros, long DueMicros)> _held = new();
    private readonly Timer _timer;
    private bool _disposed;

    public PictureDelay(PictureMailbox mailbox)
    {
        _mailbox = mailbox;
        _timer = new Timer(static s => ((PictureDelay)s!).Release(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Pictures waiting now.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>
    /// Producer: shows <paramref name="picture"/> at <paramref name="dueMicros"/> (this process's clock): at once when it is
    /// due and nothing waits before it, else a copy waits. <paramref name="localCaptureMicros"/> goes with it to the window.
    /// </summary>
    public void Show(VideoFrame picture, long localCaptureMicros, long dueMicros)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            if (_held.Count == 0 && dueMicros <= Clock.NowMicros() + 500)
            {
                _mailbox.Publish(picture, localCaptureMicros);
                return;
            }

            if (_held.Count == Capacity)
            {
                (VideoFrame early, long capture, _) = _held.Dequeue();
                _mailbox.Publish(early, capture);
                early.Dispose();
            }

            VideoFrame copy = VideoFrame.Rent(picture.Width, picture.Height);
            for (int y = 0; y < picture.Height; y++)
            {
                picture.Row(y).CopyTo(copy.Buffer.AsSpan(copy.Offset + (y * copy.Stride)));
            }

            copy.Sequence = picture.Sequence;
            _held.Enqueue((copy, localCaptureMicros, dueMicros));
            if (_held.Count == 1)
            {
                Arm(dueMicros);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _timer.Dispose();
            while (_held.TryDequeue(out var held))
            {
                held.Picture.Dispose();
            }
        }
    }

    // Timer thread: every picture now due goes to the mailbox (the newest of them is what the window draws next).
    private void Release()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            long now = Clock.NowMicros();
            while (_held.TryPeek(out var head) && head.DueMicros <= now + 500)
            {
                _held.Dequeue();
                _mailbox.Publish(head.Picture, head.CaptureMicros);
                head.Picture.Dispose();
            }

            if (_held.TryPeek(out var next))
            {
                Arm(next.DueMicros);
            }
        }
    }

    private void Arm(long dueMicros) =>
        _timer.Change(TimeSpan.FromMicroseconds(Math.Max(0, dueMicros - Clock.NowMicros())), Timeout.InfiniteTimeSpan);
}
