using SocketCam.Sources;
using SocketCam.Codecs;
using SocketCam.Display;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Codecs;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

public sealed class PictureMailboxTests
{
    [Fact]
    public void Newest_picture_wins_and_replaced_ones_are_counted()
    {
        using var mailbox = new PictureMailbox();
        int wakes = 0;
        mailbox.SetWake(() => wakes++);
        Assert.Null(mailbox.TakeNewest());

        for (int i = 0; i < 100; i++)
        {
            using VideoFrame picture = Solid(64, 48, (byte)i, sequence: i);
            mailbox.Publish(picture, localCaptureMicros: 1000 + i); // never waits: nobody is taking
        }

        Assert.Equal(99, mailbox.Replaced);
        Assert.Equal(100, wakes);
        VideoFrame? newest = mailbox.TakeNewest();
        Assert.NotNull(newest);
        Assert.Equal(99, newest.Sequence);
        Assert.Equal(1099, newest.CaptureMicros);
        Assert.Equal(99, newest.Pixels[0]);
        Assert.Null(mailbox.TakeNewest()); // nothing new since
    }

    [Fact]
    public void A_taken_picture_stays_unchanged_while_the_producer_goes_on()
    {
        using var mailbox = new PictureMailbox();
        using (VideoFrame first = Solid(32, 16, 10, sequence: 1))
        {
            mailbox.Publish(first, 0);
        }

        VideoFrame shown = mailbox.TakeNewest()!;
        for (int i = 0; i < 5; i++)
        {
            using VideoFrame next = Solid(32, 16, (byte)(20 + i), sequence: 2 + i);
            mailbox.Publish(next, 0);
        }

        // The window still draws its picture: the producer wrote only into the other two buffers.
        Assert.Equal(1, shown.Sequence);
        Assert.True(shown.Pixels.ToArray().All(b => b == 10));
        Assert.Equal(6, mailbox.TakeNewest()!.Sequence);
        Assert.Equal(4, mailbox.Replaced);
    }

    [Fact]
    public void A_new_picture_size_is_taken_as_it_comes()
    {
        using var mailbox = new PictureMailbox();
        using (VideoFrame small = Solid(16, 8, 1, 1))
        {
            mailbox.Publish(small, 0);
        }

        VideoFrame first = mailbox.TakeNewest()!;
        Assert.Equal((16, 8), (first.Width, first.Height));
        using (VideoFrame large = Solid(40, 30, 2, 2))
        {
            mailbox.Publish(large, 0);
        }

        VideoFrame taken = mailbox.TakeNewest()!;
        Assert.Equal((40, 30), (taken.Width, taken.Height));
        Assert.True(taken.Pixels.ToArray().All(b => b == 2));
    }

    [Fact]
    public async Task Pictures_taken_while_the_producer_runs_are_never_torn_and_never_go_back()
    {
        // Two threads, no timing: the producer publishes pictures filled with their sequence's low byte as fast as it can;
        // the window's side takes whatever is newest. Every picture taken must be one whole picture (all bytes equal to
        // its sequence's) and sequences must only go forward; every picture is either taken or counted as replaced.
        const int Count = 3000;
        using var mailbox = new PictureMailbox();
        Task producer = Task.Run(() =>
        {
            using VideoFrame source = VideoFrame.Rent(64, 48);
            for (int i = 1; i <= Count; i++)
            {
                source.Pixels.Fill((byte)i);
                source.Sequence = i;
                mailbox.Publish(source, localCaptureMicros: i);
            }
        });
        Task<(long Taken, string? Problem)> consumer = Task.Run(() =>
        {
            long taken = 0;
            long last = 0;
            while (last < Count)
            {
                if (mailbox.TakeNewest() is not { } picture)
                {
                    Thread.Yield();
                    continue;
                }

                taken++;
                if (picture.Sequence <= last)
                {
                    return (taken, $"sequence {picture.Sequence} taken after {last}");
                }

                last = picture.Sequence;
                byte expected = (byte)last;
                int torn = picture.Pixels.IndexOfAnyExcept(expected);
                if (torn >= 0)
                {
                    return (taken, $"picture {last} has byte {picture.Pixels[torn]} at {torn}, not {expected}");
                }

                if (picture.CaptureMicros != last)
                {
                    return (taken, $"picture {last} has capture time {picture.CaptureMicros}");
                }
            }

            return (taken, (string?)null);
        });

        await producer.WaitAsync(TestHub.Timeout);
        (long taken, string? problem) = await consumer.WaitAsync(TestHub.Timeout);
        Assert.Null(problem);
        Assert.Equal(Count, taken + mailbox.Replaced);
        Assert.Null(mailbox.TakeNewest());
    }

    [Fact]
    public void Skip_takes_the_newest_picture_without_handing_it_over()
    {
        using var mailbox = new PictureMailbox();
        Assert.False(mailbox.Skip());
        for (int i = 0; i < 3; i++)
        {
            using VideoFrame picture = Solid(16, 8, (byte)i, sequence: i);
            mailbox.Publish(picture, 0);
        }

        Assert.True(mailbox.Skip());
        Assert.Equal(2, mailbox.Replaced);
        Assert.False(mailbox.Skip());
        Assert.Null(mailbox.TakeNewest());
    }

    [Fact]
    public void Signal_changes_wake_the_window()
    {
        using var mailbox = new PictureMailbox();
        int wakes = 0;
        mailbox.SetWake(() => wakes++);
        mailbox.SetSignal("camera unplugged");
        Assert.Equal("camera unplugged", mailbox.SignalReason);
        mailbox.SetSignal(null);
        Assert.Null(mailbox.SignalReason);
        Assert.Equal(2, wakes);
    }

    [Fact]
    public void Encoded_feed_decodes_only_the_newest_frame_and_moves_its_capture_time_to_this_clock()
    {
        using var feed = new EncodedFrameFeed(clockOffsetMicros: 500);
        int wakes = 0;
        feed.SetWake(() => wakes++);
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        for (int i = 0; i < 3; i++)
        {
            using VideoFrame frame = TestFrames.Pattern(160, 120, i);
            frame.CaptureMicros = 10_000 + i;
            MediaFrame shared = FrameEncoding.Encode(encoder, frame);
            feed.Offer(shared); // the feed takes its own reference
            shared.Release();
        }

        Assert.Equal(3, wakes);
        Assert.Equal(2, feed.Replaced);
        VideoFrame? picture = feed.TakeNewest();
        Assert.NotNull(picture);
        Assert.Equal(2, picture.Sequence);
        Assert.Equal(10_002 - 500, picture.CaptureMicros);
        Assert.Equal((160, 120), (picture.Width, picture.Height));
        Assert.Null(feed.TakeNewest());
    }

    [Fact]
    public void Encoded_feed_tells_its_owner_each_time_it_takes_a_frame()
    {
        int taken = 0;
        using var feed = new EncodedFrameFeed();
        feed.Slot.Taken = () => taken++;
        Assert.Null(feed.TakeNewest());
        Assert.False(feed.Skip());
        Assert.Equal(0, taken);

        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        Offer(feed, encoder, 1);
        Offer(feed, encoder, 2); // replaces 1, which was never taken
        Assert.NotNull(feed.TakeNewest());
        Assert.Equal(1, taken);
        Assert.Null(feed.TakeNewest());
        Assert.Equal(1, taken);
        Offer(feed, encoder, 3);
        Assert.True(feed.Skip());
        Assert.Equal(2, taken);
    }

    [Fact]
    public void Encoded_feed_skip_does_not_decode()
    {
        int taken = 0;
        using var feed = new EncodedFrameFeed();
        feed.Slot.Taken = () => taken++;
        MediaFrame broken = Corrupt();
        feed.Offer(broken);

        // TakeNewest would count it as corrupt (it decodes); Skip only takes it and lets its reference go.
        Assert.True(feed.Skip());
        Assert.Equal(0, feed.Corrupt);
        Assert.Equal(1, taken);
        broken.Release();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_unpaced_room_whose_only_viewer_is_a_preview_goes_on_once_the_preview_takes_its_frame(bool hidden)
    {
        // serve --fps 0 --preview: once the preview's frame has waited past the limit, capture waits for a viewer to take
        // one (Room.NotifyTaken). The preview is that viewer: its take must wake the room, shown or skipped.
        using var room = new Room("main");
        using var feed = new EncodedFrameFeed();
        room.AddViewer(feed); // the room hooks the feed's slot: every take tells it
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        using (VideoFrame frame = TestFrames.Pattern(64, 48, 1))
        {
            MediaFrame shared = FrameEncoding.Encode(encoder, frame);
            room.Publish(shared);
            shared.Release();
        }

        // A zero limit: past it at once, with the only viewer's frame still pending, so the wait needs a take.
        Task wait = room.WaitUntilTakenAsync(TimeSpan.Zero, CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);

        Assert.True(hidden ? feed.Skip() : feed.TakeNewest() is not null);
        await wait.WaitAsync(TestHub.Timeout);
        room.RemoveViewer(feed);
    }

    [Fact]
    public void Encoded_feed_skips_a_corrupt_frame_and_counts_it()
    {
        using var feed = new EncodedFrameFeed();
        MediaFrame broken = Corrupt();
        feed.Offer(broken);
        broken.Release();

        Assert.Null(feed.TakeNewest());
        Assert.Equal(1, feed.Corrupt);
    }

    private static MediaFrame Corrupt()
    {
        MediaFrame broken = MediaFrame.Rent(4);
        new byte[] { 0xFF, 0xD8, 0x00, 0x01 }.CopyTo(broken.WritableData);
        broken.Complete(new VideoFrameHeader(CodecId.Jpeg, 16, 16, 7, 0), 4);
        return broken;
    }

    private static void Offer(EncodedFrameFeed feed, IFrameEncoder encoder, int sequence)
    {
        using VideoFrame frame = TestFrames.Pattern(64, 48, sequence);
        MediaFrame shared = FrameEncoding.Encode(encoder, frame);
        feed.Offer(shared);
        shared.Release();
    }

    private static VideoFrame Solid(int width, int height, byte value, long sequence)
    {
        VideoFrame frame = VideoFrame.Rent(width, height);
        frame.Pixels.Fill(value);
        frame.Sequence = sequence;
        return frame;
    }
}
