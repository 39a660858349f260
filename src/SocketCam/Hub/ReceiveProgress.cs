using System.Buffers;
using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>
/// What both hub receive loops (v1 <see cref="HubConnection"/>, v2 <see cref="ParticipantConnection"/>) do after parsing
/// what one read brought: end on the peer's close (an error in the middle of a message), pay for a frame still arriving
/// out of the frames-in-flight budget (<see cref="IncomingFrameGuard"/>), and re-arm the idle timeout only when the peer
/// made progress: whole messages, or more bytes of a frame in progress. Waiting for the hub-wide budget is the hub's
/// doing, so no idle timeout runs meanwhile. One per receive loop.
/// </summary>
internal sealed class ReceiveProgress(CancellationTokenSource receiveTimeout, TimeSpan idleTimeout, IncomingFrameGuard? frames, MessageType frameType)
{
    private long _partialBytes;

    /// <summary>Starts the idle timeout (call once, before the first read).</summary>
    public void Start() => receiveTimeout.CancelAfter(idleTimeout);

    /// <summary>A whole message was parsed: the frame in progress, if any, is done.</summary>
    public void OnMessage() => _partialBytes = 0;

    /// <summary>After the parse of one read: "disconnected" when the peer closed cleanly, else null (read on).</summary>
    /// <param name="rest">What is left unparsed.</param>
    /// <param name="completed">The read said the peer closed its side.</param>
    /// <param name="heard">At least one whole message was parsed from this read.</param>
    public async ValueTask<string?> AfterParseAsync(ReadOnlySequence<byte> rest, bool completed, bool heard)
    {
        if (completed)
        {
            return rest.IsEmpty
                ? "disconnected"
                : throw new ProtocolException(ErrorCode.Malformed, $"The connection closed in the middle of a message ({rest.Length} bytes unread).");
        }

        if (frames is not null && IncomingFrameGuard.PartialFrameLength(rest, frameType) is { } announced)
        {
            heard |= rest.Length > _partialBytes;
            _partialBytes = rest.Length;
            ValueTask ready = frames.BeforeReadAsync(announced, rest.Length, receiveTimeout.Token);
            if (!ready.IsCompletedSuccessfully)
            {
                receiveTimeout.CancelAfter(Timeout.InfiniteTimeSpan); // re-armed below once the budget paid
                heard = true;
            }

            await ready;
        }

        if (heard)
        {
            receiveTimeout.CancelAfter(idleTimeout);
        }

        return null;
    }
}
