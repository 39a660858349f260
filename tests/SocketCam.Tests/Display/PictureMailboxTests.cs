using SocketCam.Codecs;
using SocketCam.Display;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Codecs;

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

        Assert.Equal((16, 8), (mailbox.TakeNewest()!.Width, 8));
        using (VideoFrame large = Solid(40, 30, 2, 2))
        {
            mailbox.Publish(large, 0);
        }

        VideoFrame taken = mailbox.TakeNewest()!;
        Assert.Equal((40, 30), (taken.Width, taken.Height));
        Assert.True(taken.Pixels.ToArray().All(b => b == 2));
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
            SharedFrame shared = FrameEncoding.Encode(encoder, frame);
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
    public void Encoded_feed_skips_a_corrupt_frame_and_counts_it()
    {
        using var feed = new EncodedFrameFeed();
        SharedFrame broken = SharedFrame.Rent(4);
        new byte[] { 0xFF, 0xD8, 0x00, 0x01 }.CopyTo(broken.WritableData);
        broken.Complete(new VideoFrameHeader(CodecId.Jpeg, 16, 16, 7, 0), 4);
        feed.Offer(broken);
        broken.Release();

        Assert.Null(feed.TakeNewest());
        Assert.Equal(1, feed.Corrupt);
    }

    private static VideoFrame Solid(int width, int height, byte value, long sequence)
    {
        VideoFrame frame = VideoFrame.Rent(width, height);
        frame.Pixels.Fill(value);
        frame.Sequence = sequence;
        return frame;
    }
}
