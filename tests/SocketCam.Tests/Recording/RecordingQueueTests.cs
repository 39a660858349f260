using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Recording;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>The recorder's queue: bounded, never drops, makes the producer wait and says so once per episode.</summary>
public sealed class RecordingQueueTests
{
    private const int CannotKeepUpEventId = 303;
    private const int CaughtUpEventId = 304;

    [Fact]
    public async Task A_full_queue_makes_the_producer_wait_and_loses_nothing()
    {
        using var logs = new CapturingLoggerProvider();
        using var factory = logs.CreateFactory();
        var queue = new RecordingQueue("test", maxFrames: 3, maxBytes: long.MaxValue, factory.CreateLogger("test"));

        for (int i = 0; i < 3; i++)
        {
            Assert.True(await Enqueue(queue, i).AsTask().WaitAsync(TestHub.Timeout));
        }

        ValueTask<bool> fourth = Enqueue(queue, 3);
        Assert.False(fourth.IsCompleted, "the fourth frame should wait for room");
        Assert.Single(logs.Entries, e => e.EventId.Id == CannotKeepUpEventId);

        // A fifth frame cannot even be offered until the fourth got in (one producer); take one: the fourth goes in.
        await TakeAsync(queue, expected: 0);
        Assert.True(await fourth.AsTask().WaitAsync(TestHub.Timeout));
        Assert.Equal(3, queue.Count);

        // The same episode goes on while the queue stays full: no second warning.
        ValueTask<bool> fifth = Enqueue(queue, 4);
        Assert.False(fifth.IsCompleted);
        await TakeAsync(queue, expected: 1);
        Assert.True(await fifth.AsTask().WaitAsync(TestHub.Timeout));
        Assert.Single(logs.Entries, e => e.EventId.Id == CannotKeepUpEventId);

        // Draining the queue ends the episode.
        for (int i = 2; i <= 4; i++)
        {
            await TakeAsync(queue, expected: i);
        }

        Assert.Single(logs.Entries, e => e.EventId.Id == CaughtUpEventId);
        Assert.Equal(1, queue.StallEpisodes);
        Assert.Equal(2, queue.StalledFrames);
        Assert.Equal(5, queue.Enqueued);

        // A new stall is a new episode, with a new warning.
        for (int i = 5; i < 8; i++)
        {
            Assert.True(await Enqueue(queue, i));
        }

        ValueTask<bool> ninth = Enqueue(queue, 8);
        await TakeAsync(queue, expected: 5);
        Assert.True(await ninth.AsTask().WaitAsync(TestHub.Timeout));
        Assert.Equal(2, logs.Entries.Count(e => e.EventId.Id == CannotKeepUpEventId));
    }

    [Fact]
    public async Task The_byte_budget_bounds_the_queue_but_one_large_frame_always_fits()
    {
        var queue = new RecordingQueue("test", maxFrames: 100, maxBytes: 250, NullLogger.Instance);
        Assert.True(await Enqueue(queue, 0, size: 100));
        Assert.True(await Enqueue(queue, 1, size: 100));
        ValueTask<bool> third = Enqueue(queue, 2, size: 100);
        Assert.False(third.IsCompleted, "300 bytes would exceed the 250-byte budget");
        await TakeAsync(queue, expected: 0);
        Assert.True(await third.AsTask().WaitAsync(TestHub.Timeout));
        await TakeAsync(queue, expected: 1);
        await TakeAsync(queue, expected: 2);

        // Larger than the whole budget: it waits for an empty queue, then goes in alone.
        Assert.True(await Enqueue(queue, 3, size: 100));
        ValueTask<bool> huge = Enqueue(queue, 4, size: 1000);
        Assert.False(huge.IsCompleted);
        await TakeAsync(queue, expected: 3);
        Assert.True(await huge.AsTask().WaitAsync(TestHub.Timeout));
    }

    [Fact]
    public async Task A_producer_cancelled_while_waiting_still_hands_over_its_frame()
    {
        var queue = new RecordingQueue("test", maxFrames: 1, maxBytes: long.MaxValue, NullLogger.Instance);
        Assert.True(await Enqueue(queue, 0));
        using var cancel = new CancellationTokenSource();
        ValueTask<bool> second = Enqueue(queue, 1, cancellationToken: cancel.Token);
        Assert.False(second.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.AsTask().WaitAsync(TestHub.Timeout));

        queue.Complete();
        await TakeAsync(queue, expected: 0);
        await TakeAsync(queue, expected: 1);
        Assert.Null(await queue.DequeueAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_failed_recorder_frees_a_waiting_producer_and_refuses_new_frames()
    {
        var queue = new RecordingQueue("test", maxFrames: 1, maxBytes: long.MaxValue, NullLogger.Instance);
        Assert.True(await Enqueue(queue, 0));
        ValueTask<bool> waiting = Enqueue(queue, 1);
        queue.Fail();
        Assert.False(await waiting.AsTask().WaitAsync(TestHub.Timeout));
        Assert.False(await Enqueue(queue, 2));
        Assert.Null(await queue.DequeueAsync(CancellationToken.None));
    }

    private static ValueTask<bool> Enqueue(RecordingQueue queue, long sequence, int size = 10, CancellationToken cancellationToken = default)
    {
        MediaFrame frame = MediaFrame.Rent(size);
        frame.Complete(new VideoFrameHeader(CodecId.Jpeg, 1, 1, sequence, 0), size);
        ValueTask<bool> queued = queue.EnqueueAsync(frame, cancellationToken);
        // The queue took its own reference (synchronously, or once it had room): give ours back when it has.
        if (queued.IsCompleted)
        {
            frame.Release();
            return queued;
        }

        return ReleaseAfter(queued, frame);

        static async ValueTask<bool> ReleaseAfter(ValueTask<bool> queued, MediaFrame frame)
        {
            try
            {
                return await queued;
            }
            finally
            {
                frame.Release();
            }
        }
    }

    private static async Task TakeAsync(RecordingQueue queue, long expected)
    {
        MediaFrame? frame = await queue.DequeueAsync(CancellationToken.None).AsTask().WaitAsync(TestHub.Timeout);
        Assert.NotNull(frame);
        Assert.Equal(expected, frame.Header.Sequence);
        frame.Release();
    }
}
