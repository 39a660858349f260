using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using SocketCam.Client;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Tests.Support;

/// <summary>One signal change a viewer reported: the reason is null when live.</summary>
internal readonly record struct SignalChange(bool Live, string? Reason);

/// <summary>
/// Runs a real <see cref="ViewerClient"/> and lets a test wait for "N more decoded frames" (a TaskCompletionSource
/// completed from the FrameDecoded callback, never a sleep). Optionally records a hash of every decoded picture.
/// </summary>
internal sealed class TestViewer : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<long> _sequences = [];
    private readonly Dictionary<long, string> _hashes = [];
    private readonly List<SignalChange> _signals = [];
    private readonly List<(int Count, TaskCompletionSource Done)> _signalWaiters = [];
    private readonly bool _hashPictures;
    private long _decoded;
    private Exception? _ended;

    private TestViewer(StreamEndpoint endpoint, ViewerOptions options, bool hashPictures, Action<VideoFrameHeader, ReadOnlySequence<byte>>? onReceived, ILoggerFactory? loggerFactory)
    {
        _hashPictures = hashPictures;
        Client = new ViewerClient(endpoint, options, loggerFactory);
        Client.FrameDecoded = OnDecoded;
        Client.SignalChanged = OnSignal;
        Client.FrameReceived = onReceived;
    }

    public ViewerClient Client { get; }

    public ViewerStats Stats => Client.Stats;

    /// <summary>The viewer's RunAsync; it faults if the session fails (with Reconnect off).</summary>
    public Task Run { get; private set; } = Task.CompletedTask;

    public long Decoded => Interlocked.Read(ref _decoded);

    /// <summary>Sequence numbers of the decoded frames, in order.</summary>
    public IReadOnlyList<long> Sequences
    {
        get
        {
            lock (_lock)
            {
                return [.. _sequences];
            }
        }
    }

    /// <summary>Every signal change the client reported, in order.</summary>
    public IReadOnlyList<SignalChange> Signals
    {
        get
        {
            lock (_lock)
            {
                return [.. _signals];
            }
        }
    }

    /// <summary>Sequence → SHA-256 of the decoded BGR pixels (only with hashPictures).</summary>
    public IReadOnlyDictionary<long, string> Hashes
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<long, string>(_hashes);
            }
        }
    }

    /// <summary>Starts watching <paramref name="room"/>. Reconnect is off unless asked, so any failure faults <see cref="Run"/>.</summary>
    public static TestViewer Start(
        StreamEndpoint endpoint,
        string room = "main",
        bool reconnect = false,
        string? token = null,
        bool hashPictures = false,
        Action<VideoFrameHeader, ReadOnlySequence<byte>>? onReceived = null,
        TimeSpan? maxBackoff = null,
        ILoggerFactory? loggerFactory = null,
        TlsClientOptions? tls = null,
        string? participant = null,
        bool udpH264 = true)
    {
        var options = new ViewerOptions
        {
            Participant = participant,
            UdpH264 = udpH264,
            Room = room,
            Token = token,
            Reconnect = reconnect,
            Agent = "test viewer",
            Tls = tls,
            MaxBackoff = maxBackoff ?? TimeSpan.FromMilliseconds(500),
        };
        var viewer = new TestViewer(endpoint, options, hashPictures, onReceived, loggerFactory);
        viewer.Run = viewer.RunCoreAsync();
        return viewer;
    }

    /// <summary>Completes once <paramref name="count"/> more frames than now have been decoded; fails on timeout or if the viewer stops.</summary>
    public Task WaitForMoreFramesAsync(int count, TimeSpan? timeout = null) => WaitForFramesAsync(Decoded + count, timeout);

    /// <summary>Completes once <paramref name="total"/> frames have been decoded in all.</summary>
    public async Task WaitForFramesAsync(long total, TimeSpan? timeout = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_ended is not null)
            {
                throw new InvalidOperationException($"The viewer stopped after {Decoded} frames (waiting for {total}).", _ended);
            }

            if (Decoded >= total)
            {
                return;
            }

            _waiters.Add((total, done));
        }

        TimeSpan limit = timeout ?? TestHub.Timeout;
        try
        {
            await done.Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The viewer decoded {Decoded} frames; expected {total} within {limit.TotalSeconds:0.#} s (stats: {Stats.Frames} frames, {Stats.Corrupt} corrupt, {Stats.Reconnects} reconnects).");
        }
    }

    /// <summary>Completes with all signal changes so far once there are at least <paramref name="count"/>; fails on timeout or if the viewer stops.</summary>
    public async Task<IReadOnlyList<SignalChange>> WaitForSignalsAsync(int count)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_signals.Count < count)
            {
                if (_ended is not null)
                {
                    throw new InvalidOperationException($"The viewer stopped after {_signals.Count} signal changes (waiting for {count}).", _ended);
                }

                _signalWaiters.Add((count, done));
            }
            else
            {
                done.SetResult();
            }
        }

        try
        {
            await done.Task.WaitAsync(TestHub.Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The viewer saw {Signals.Count} signal changes ({string.Join(", ", Signals)}); expected {count} within {TestHub.Timeout.TotalSeconds:0} s.");
        }

        return Signals;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Run.WaitAsync(TestHub.Timeout);
        }
        catch (Exception) when (Run.IsFaulted)
        {
            // A failure already surfaced (or is irrelevant) for the test that owns this viewer.
        }

        Client.Dispose();
        _stop.Dispose();
    }

    private async Task RunCoreAsync()
    {
        await Task.Yield();
        Exception? error = null;
        try
        {
            await Client.RunAsync(_stop.Token);
        }
        catch (Exception ex)
        {
            error = ex;
            throw;
        }
        finally
        {
            List<TaskCompletionSource> waiting;
            lock (_lock)
            {
                _ended = error ?? new OperationCanceledException("The viewer stopped.");
                waiting = [.. _waiters.Select(w => w.Done), .. _signalWaiters.Select(w => w.Done)];
                _waiters.Clear();
                _signalWaiters.Clear();
            }

            foreach (TaskCompletionSource done in waiting)
            {
                done.TrySetException(new InvalidOperationException($"The viewer stopped after {Decoded} frames.", _ended));
            }
        }
    }

    private void OnSignal(bool live, string? reason)
    {
        List<TaskCompletionSource> ready = [];
        lock (_lock)
        {
            _signals.Add(new SignalChange(live, reason));
            for (int i = _signalWaiters.Count - 1; i >= 0; i--)
            {
                if (_signals.Count >= _signalWaiters[i].Count)
                {
                    ready.Add(_signalWaiters[i].Done);
                    _signalWaiters.RemoveAt(i);
                }
            }
        }

        foreach (TaskCompletionSource done in ready)
        {
            done.TrySetResult();
        }
    }

    private void OnDecoded(VideoFrame picture)
    {
        string? hash = _hashPictures ? Convert.ToHexString(SHA256.HashData(picture.Pixels)) : null;
        List<TaskCompletionSource> ready = [];
        lock (_lock)
        {
            long decoded = Interlocked.Increment(ref _decoded);
            _sequences.Add(picture.Sequence);
            if (hash is not null)
            {
                _hashes[picture.Sequence] = hash;
            }

            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (decoded >= _waiters[i].Target)
                {
                    ready.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (TaskCompletionSource done in ready)
        {
            done.TrySetResult();
        }
    }
}
