using SocketCam.Client;

namespace SocketCam.Display;

/// <summary>Feeds a viewer's decoded pictures to a window.</summary>
internal static class ViewerDisplay
{
    /// <summary>
    /// Copies every picture <paramref name="viewer"/> decodes into <paramref name="mailbox"/> (on the receive loop: one copy,
    /// then a reference swap; it never waits for the window) with its capture time moved to this process's clock, and passes
    /// on the signal state. Runs after any <see cref="ViewerClient.FrameDecoded"/> callback already set.
    /// </summary>
    /// <param name="delay">With sound: pictures are held back through it until they are due (lip sync, <see cref="ViewerClient.PresentAtMicros"/>).</param>
    public static void Connect(ViewerClient viewer, PictureMailbox mailbox, PictureDelay? delay = null)
    {
        ArgumentNullException.ThrowIfNull(viewer);
        ArgumentNullException.ThrowIfNull(mailbox);
        var previousFrame = viewer.FrameDecoded;
        viewer.FrameDecoded = picture =>
        {
            long localCapture = picture.CaptureMicros - viewer.ClockOffsetMicros;
            if (delay is not null)
            {
                delay.Show(picture, localCapture, viewer.PresentAtMicros);
            }
            else
            {
                mailbox.Publish(picture, localCapture);
            }

            previousFrame?.Invoke(picture);
        };
        var previousSignal = viewer.SignalChanged;
        viewer.SignalChanged = (live, reason) =>
        {
            mailbox.SetSignal(live ? null : reason ?? "");
            previousSignal?.Invoke(live, reason);
        };
    }
}
