using SocketCam.Media;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;

namespace SocketCam.Web;

/// <summary>
/// `snapshot.jpg` on a room with no frame yet: joins as a temporary viewer (which wakes a capture paused for lack of
/// viewers) and takes the first frame offered, or gives up after a limit.
/// </summary>
internal sealed class SnapshotWaiter : IRoomViewer
{
    private readonly AsyncSignal _wake = new();

    private SnapshotWaiter()
    {
        Slot = new VideoSlot(_wake);
    }

    public VideoSlot Slot { get; }

    public void OnSignal(SignalMessage message)
    {
    }

    /// <summary>The room's newest frame with a reference for the caller, or null when none came within <paramref name="limit"/>.</summary>
    public static async Task<MediaFrame?> GetAsync(Room room, TimeSpan limit, CancellationToken cancellationToken)
    {
        if (room.AcquireLatestFrame() is { } latest)
        {
            return latest;
        }

        var waiter = new SnapshotWaiter();
        room.AddViewer(waiter);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(limit);
            while (true)
            {
                if (waiter.Slot.Take() is { } frame)
                {
                    return frame;
                }

                try
                {
                    await waiter._wake.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return waiter.Slot.Take();
                }
            }
        }
        finally
        {
            room.RemoveViewer(waiter);
            waiter.Slot.Close();
        }
    }
}
