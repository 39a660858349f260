using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Seed;

/// <summary>
/// One seed-tutorial client: a viewer of the room like any other (its <see cref="ViewerFeed"/>: one-frame slot, newest
/// wins, skips counted, the send loop) that writes each frame as the seed server would. The client never talks, so the
/// receive side only notices that it left (or that it is not a seed client: it sends too much).
/// </summary>
internal sealed class SeedConnection : IRoomViewer, IClientStats, IViewerWriter
{
    private readonly Socket _socket;
    private readonly Room _room;
    private readonly SeedFrameCache _cache;
    private readonly SeedOptions _options;
    private readonly ILogger _logger;
    private readonly ViewerFeed _feed;
    private int _sendBufferBytes;

    public SeedConnection(Socket socket, Room room, SeedFrameCache cache, SeedOptions options, ILogger logger)
    {
        _socket = socket;
        _room = room;
        _cache = cache;
        _options = options;
        _logger = logger;
        Remote = socket.Describe();
        // The send timeout is armed only while a frame is converted and goes out (an idle gap, e.g. while the source is
        // down, is not a stall).
        _feed = new ViewerFeed(this, options.SendTimeout);
    }

    public VideoSlot Slot => _feed.Slot;

    public string Remote { get; }

    public ClientKind Kind => ClientKind.Seed;

    public string? RoomName => _room.Name;

    public ViewerFeed Feed => _feed;

    /// <summary>The seed format has no way to say "no signal": the client simply gets no frames until the source is back.</summary>
    public void OnSignal(SignalMessage message) => _feed.OnSignal(message);

    public async Task RunAsync(CancellationToken serverToken)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        Task<string>? receiving = null;
        Task<string>? sending = null;
        string reason = "closed";
        bool joined = false;
        try
        {
            _socket.ConfigureForVideo(boundBuffers: true);
            _room.AddViewer(this);
            joined = true;
            SeedLog.Joined(_logger, Remote, _room.Name);
            receiving = WatchReceiveAsync(done.Token);
            sending = SendLoopAsync(done.Token);
            Task<string> first = await Task.WhenAny(receiving, sending);
            reason = await first;
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            reason = "disconnected"; // reset before it could be set up
        }
        finally
        {
            if (joined)
            {
                _room.RemoveViewer(this);
            }

            _feed.Close();
            await done.CancelAsync();
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already gone.
            }

            _socket.Dispose();
            if (receiving is not null && sending is not null)
            {
                await ((Task)Task.WhenAll(receiving, sending)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        SeedLog.Left(_logger, Remote, serverToken.IsCancellationRequested ? "server shutting down" : reason, _feed.FramesSent, _feed.Dropped);
    }

    private async Task<string> SendLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _feed.RunAsync(cancellationToken) == FeedEnd.Stalled
                ? $"took more than {_options.SendTimeout.TotalSeconds:0.#} s to accept one frame"
                : "closed";
        }
        catch (OperationCanceledException)
        {
            return "closed";
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            return "disconnected";
        }
        catch (Exception ex)
        {
            SeedLog.Failed(_logger, Remote, ex);
            return "failed";
        }
    }

    async ValueTask<int> IViewerWriter.WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        PickledFrame? pickled;
        try
        {
            pickled = await _cache.GetAsync(frame, cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            // A publisher's JPEG that does not decode: this client skips it, like a native viewer would.
            SeedLog.ConvertFailed(_logger, Remote, frame.Header.Sequence, ex.Message);
            return 0;
        }

        if (pickled is null)
        {
            return 0; // a newer frame replaced it while it was being converted: the feed takes that one next
        }

        try
        {
            SizeSendBuffer(pickled.Length);
            await _socket.SendAllAsync(pickled.Message, cancellationToken);
            return pickled.Length;
        }
        finally
        {
            pickled.Release();
        }
    }

    /// <summary>
    /// Room in the kernel for about two frames (Linux doubles what is asked): a whole frame goes out in one send, so the
    /// client never waits for this process to be scheduled mid-frame, yet a client slower than the stream has at most
    /// that much queued in front of the newest frame (the slot does the skipping).
    /// </summary>
    private void SizeSendBuffer(int frameBytes)
    {
        int wanted = Math.Clamp(frameBytes, SocketExtensions.LiveVideoBufferBytes, 8 << 20);
        if (wanted != _sendBufferBytes)
        {
            _socket.SendBufferSize = wanted;
            _sendBufferBytes = wanted;
        }
    }

    /// <summary>Completes when the client leaves, or when it sends more than a seed client ever would.</summary>
    private async Task<string> WatchReceiveAsync(CancellationToken cancellationToken)
    {
        byte[] sink = new byte[4096];
        long received = 0;
        try
        {
            while (true)
            {
                int n = await _socket.ReceiveAsync(sink, SocketFlags.None, cancellationToken);
                if (n == 0)
                {
                    return "disconnected";
                }

                received += n;
                if (received > _options.MaxInboundBytes)
                {
                    return $"sent {received} bytes: a seed client only receives";
                }
            }
        }
        catch (OperationCanceledException)
        {
            return "closed";
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            return "disconnected";
        }
    }
}
