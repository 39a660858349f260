using SocketCam.Media;
using SocketCam.Rooms;

namespace SocketCam.Web;

/// <summary>
/// `snapshot.jpg` on a room with no frame yet: joins with a temporary <see cref="ViewerFeed"/> (which wakes a capture
/// paused for lack of viewers) whose writer keeps the first frame offered and stops, or gives up after a limit.
/// </summary>
internal sealed class SnapshotWaiter : IViewerWriter
{
    private MediaFrame? _frame;

    private SnapshotWaiter()
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
        var feed = new ViewerFeed(waiter);
        room.AddViewer(feed);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(limit);
            if (await feed.RunAsync(timeout.Token) == FeedEnd.Cancelled)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            // Timed out: one that arrived just then still counts.
            return waiter._frame ?? feed.Slot.Take();
        }
        finally
        {
            room.RemoveViewer(feed);
            feed.Close();
        }
    }

    /// <summary>Keeps the first frame (a reference of its own: the feed releases its one) and stops the feed.</summary>
    ValueTask<int> IViewerWriter.WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        frame.AddRef();
        _frame = frame;
        return new ValueTask<int>(ViewerFeed.Stop);
    }
}
