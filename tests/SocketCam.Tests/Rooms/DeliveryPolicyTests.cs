using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;

namespace SocketCam.Tests.Rooms;

/// <summary>
/// Unit tests run one at a time with nothing else: they check that a frame's last reference returned its buffer by
/// looking at the frame right after releasing it, which a test renting from the shared frame pool in parallel could
/// change in between.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FramePoolCollection
{
    public const string Name = "Frame pool (alone)";
}

/// <summary>
/// §4.8's delivery policies without sockets: the keyframe-aware newest-wins <see cref="VideoSlot"/>, the audio
/// <see cref="AudioFifo"/>, the <see cref="Outbox"/>'s send order and its bounded control queue, and
/// <see cref="MediaFrame"/>'s reference count, which every one of them relies on.
/// </summary>
[Collection(FramePoolCollection.Name)]
public sealed class DeliveryPolicyTests
{
    // ---- VideoSlot ---------------------------------------------------------------------------------------------

    [Fact]
    public void A_jpeg_slot_keeps_only_the_newest_frame_and_releases_the_one_it_replaced_at_once()
    {
        int wakes = 0;
        var slot = new VideoSlot(() => wakes++);
        MediaFrame first = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 1);
        MediaFrame second = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 2);

        Assert.Equal(SlotOffer.Stored, slot.Offer(first));
        Assert.Equal(SlotOffer.Stored, slot.Offer(second));

        Assert.Equal(1, slot.Dropped);
        Assert.Equal(2, wakes);
        ReleaseLast(first); // the slot gave its reference back when it was replaced
        Assert.Same(second, slot.Take());
        Assert.Null(slot.Take());
        second.Release(); // the reference Take handed over
        ReleaseLast(second);
    }

    [Fact]
    public void An_h264_slot_waiting_for_a_keyframe_drops_other_frames_and_stores_the_keyframe()
    {
        var slot = new VideoSlot(() => { });
        slot.RequireKeyframe();
        MediaFrame delta = Frame(CodecId.H264, FrameFlags.None, 1);
        MediaFrame droppable = Frame(CodecId.H264, FrameFlags.Droppable, 2);
        MediaFrame key = Frame(CodecId.H264, FrameFlags.Keyframe, 3);

        Assert.Equal(SlotOffer.DroppedWaiting, slot.Offer(delta));
        Assert.Equal(SlotOffer.DroppedWaiting, slot.Offer(droppable));
        Assert.False(slot.IsFull);
        Assert.Equal(SlotOffer.Stored, slot.Offer(key));

        Assert.Equal(2, slot.Dropped);
        ReleaseLast(delta);
        ReleaseLast(droppable);
        Assert.Same(key, slot.Take());
        key.Release();
        ReleaseLast(key);
    }

    [Fact]
    public void An_h264_delta_frame_never_replaces_an_undelivered_frame_it_may_depend_on_and_asks_for_a_keyframe()
    {
        var slot = new VideoSlot(() => { });
        MediaFrame key = Frame(CodecId.H264, FrameFlags.Keyframe, 1);
        MediaFrame delta = Frame(CodecId.H264, FrameFlags.None, 2);
        MediaFrame nextDelta = Frame(CodecId.H264, FrameFlags.None, 3);
        MediaFrame nextKey = Frame(CodecId.H264, FrameFlags.Keyframe, 4);

        Assert.Equal(SlotOffer.Stored, slot.Offer(key));
        Assert.Equal(SlotOffer.DroppedNeedKeyframe, slot.Offer(delta)); // the keyframe stays: it is still decodable
        Assert.Same(key, slot.Take());
        // From the lost frame on, the slot waits for a keyframe: the next delta depends on the one dropped.
        Assert.Equal(SlotOffer.DroppedWaiting, slot.Offer(nextDelta));
        Assert.Equal(SlotOffer.Stored, slot.Offer(nextKey));
        Assert.Same(nextKey, slot.Take());

        Assert.Equal(2, slot.Dropped);
        ReleaseLast(delta);
        ReleaseLast(nextDelta);
        key.Release();
        ReleaseLast(key);
        nextKey.Release();
        ReleaseLast(nextKey);
    }

    [Fact]
    public void An_undelivered_droppable_h264_frame_may_be_replaced_by_a_delta_frame()
    {
        var slot = new VideoSlot(() => { });
        MediaFrame key = Frame(CodecId.H264, FrameFlags.Keyframe, 1);
        MediaFrame droppable = Frame(CodecId.H264, FrameFlags.Droppable, 2);
        MediaFrame delta = Frame(CodecId.H264, FrameFlags.None, 3);
        MediaFrame after = Frame(CodecId.H264, FrameFlags.None, 4);

        Assert.Equal(SlotOffer.Stored, slot.Offer(key));
        Assert.Same(key, slot.Take());
        Assert.Equal(SlotOffer.Stored, slot.Offer(droppable));
        Assert.Equal(SlotOffer.Stored, slot.Offer(delta)); // nothing depends on the droppable frame

        Assert.Equal(1, slot.Dropped);
        ReleaseLast(droppable);
        Assert.Same(delta, slot.Take());
        Assert.Equal(SlotOffer.Stored, slot.Offer(after)); // not waiting for a keyframe: nothing was lost that mattered
        Assert.Same(after, slot.Take());
        foreach (MediaFrame f in new[] { key, delta, after })
        {
            f.Release();
            ReleaseLast(f);
        }
    }

    // ---- AudioFifo ---------------------------------------------------------------------------------------------

    [Fact]
    public void An_audio_fifo_keeps_the_newest_ten_packets_in_order_and_releases_the_oldest_it_drops()
    {
        int wakes = 0;
        var fifo = new AudioFifo(() => wakes++);
        MediaFrame[] packets = [.. Enumerable.Range(0, AudioFifo.Capacity + 2).Select(i => Frame(CodecId.PcmS16le, FrameFlags.Keyframe, i, TrackKind.Audio))];
        Assert.Equal(0, fifo.WaitingSince);

        foreach (MediaFrame p in packets)
        {
            Assert.True(fifo.Offer(p));
        }

        Assert.Equal(AudioFifo.Capacity, fifo.Count);
        Assert.Equal(2, fifo.Dropped);
        Assert.Equal(packets.Length, wakes);
        Assert.NotEqual(0, fifo.WaitingSince);
        ReleaseLast(packets[0]);
        ReleaseLast(packets[1]);
        var order = new List<long>();
        while (fifo.Take() is { } taken)
        {
            order.Add(taken.Header.Sequence);
            taken.Release();
        }

        Assert.Equal(Enumerable.Range(2, AudioFifo.Capacity).Select(i => (long)i), order);
        Assert.Equal(0, fifo.WaitingSince);
        foreach (MediaFrame p in packets[2..])
        {
            ReleaseLast(p);
        }
    }

    [Fact]
    public void A_closed_audio_fifo_releases_what_waits_and_refuses_more()
    {
        var fifo = new AudioFifo(() => { });
        MediaFrame waiting = Frame(CodecId.PcmS16le, FrameFlags.Keyframe, 1, TrackKind.Audio);
        MediaFrame late = Frame(CodecId.PcmS16le, FrameFlags.Keyframe, 2, TrackKind.Audio);
        fifo.Offer(waiting);

        fifo.Close();

        Assert.False(fifo.Offer(late));
        Assert.Null(fifo.Take());
        ReleaseLast(waiting);
        ReleaseLast(late);
    }

    // ---- Outbox ------------------------------------------------------------------------------------------------

    [Fact]
    public void The_outbox_sends_control_before_audio_before_video_and_the_longest_waiting_video_first()
    {
        var outbox = new Outbox(16, 1 << 20);
        var publisher = new Participant(1, "pub", 0, ParticipantTransport.Tcp, ParticipantFlags.None, hidden: false, outbox: null);
        var camera = new Delivery(VideoTrack(publisher, 1), outbox);
        var screen = new Delivery(VideoTrack(publisher, 2), outbox);
        var microphone = new Delivery(new Track(publisher, new TrackDescription(3, TrackKind.Audio, CodecId.PcmS16le, TrackSource.Microphone, "mic", 1, 0, 48000), 3, TimeSpan.FromMilliseconds(500)), outbox);
        outbox.Attach(camera);
        outbox.Attach(screen);
        outbox.Attach(microphone);
        MediaFrame screenFrame = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 10);
        MediaFrame cameraFrame = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 20);
        MediaFrame audio = Frame(CodecId.PcmS16le, FrameFlags.Keyframe, 30, TrackKind.Audio);
        byte[] control = [1, 2, 3];

        // Offered in the opposite order of how they must leave: video (the screen's first), audio, then control.
        screen.Offer(screenFrame);
        AfterTheClockMoved();
        camera.Offer(cameraFrame);
        microphone.Offer(audio);
        Assert.True(outbox.EnqueueControl(control));

        Assert.Same(control, outbox.TakeControl());
        Assert.Null(outbox.TakeControl());
        Assert.Same(audio, outbox.TakeFrame(out Delivery? from));
        Assert.Same(microphone, from);
        Assert.Same(screenFrame, outbox.TakeFrame(out from)); // waited longer than the camera's
        Assert.Same(screen, from);
        Assert.Same(cameraFrame, outbox.TakeFrame(out from));
        Assert.Null(outbox.TakeFrame(out from));
        Assert.Null(from);
        foreach (MediaFrame f in new[] { screenFrame, cameraFrame, audio })
        {
            f.Release();
            ReleaseLast(f);
        }
    }

    [Fact]
    public void The_control_queue_overflows_by_messages_once_and_refuses_everything_after()
    {
        var outbox = new Outbox(3, 1 << 20);
        int overflowed = 0;
        outbox.Overflowed = () => overflowed++;

        for (int i = 0; i < 3; i++)
        {
            Assert.True(outbox.EnqueueControl(new byte[10]));
        }

        Assert.False(outbox.IsOverflowed);
        Assert.False(outbox.EnqueueControl(new byte[10]));
        Assert.True(outbox.IsOverflowed);
        Assert.False(outbox.EnqueueControl(new byte[10]));
        Assert.False(outbox.EnqueueControl(new byte[10], counted: false));
        Assert.Equal(1, overflowed);
    }

    [Fact]
    public void The_control_queue_overflows_by_bytes_and_what_was_sent_no_longer_counts()
    {
        var outbox = new Outbox(100, 100);
        int overflowed = 0;
        outbox.Overflowed = () => overflowed++;

        Assert.True(outbox.EnqueueControl(new byte[60]));
        Assert.True(outbox.EnqueueControl(new byte[40])); // exactly the bound
        Assert.NotNull(outbox.TakeControl()); // 60 bytes sent: room for 60 more
        Assert.True(outbox.EnqueueControl(new byte[60]));
        Assert.Equal(0, overflowed);
        Assert.False(outbox.EnqueueControl(new byte[1]));

        Assert.Equal(1, overflowed);
        Assert.True(outbox.IsOverflowed);
        Assert.False(outbox.EnqueueControl(new byte[1]));
        Assert.Equal(1, overflowed);
    }

    [Fact]
    public void Snapshot_chunks_queued_uncounted_count_neither_as_messages_nor_as_bytes()
    {
        var outbox = new Outbox(2, 100);
        int overflowed = 0;
        outbox.Overflowed = () => overflowed++;

        // A snapshot bigger than both bounds, as a large room's is.
        for (int i = 0; i < 5; i++)
        {
            Assert.True(outbox.EnqueueControl(new byte[64], counted: false));
        }

        Assert.True(outbox.EnqueueControl(new byte[50]));
        Assert.True(outbox.EnqueueControl(new byte[50]));
        Assert.Equal(0, overflowed);
        // Sending the chunks frees nothing of the counted bounds: the two events still fill the queue.
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(64, outbox.TakeControl()!.Length);
        }

        Assert.False(outbox.EnqueueControl(new byte[1]));
        Assert.Equal(1, overflowed);
    }

    [Fact]
    public void A_closed_outbox_releases_what_its_deliveries_hold_and_queues_nothing()
    {
        var outbox = new Outbox(16, 1 << 20);
        var publisher = new Participant(1, "pub", 0, ParticipantTransport.Tcp, ParticipantFlags.None, hidden: false, outbox: null);
        var camera = new Delivery(VideoTrack(publisher, 1), outbox);
        outbox.Attach(camera);
        MediaFrame frame = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 1);
        camera.Offer(frame);
        Assert.True(outbox.EnqueueControl([1]));

        outbox.Close();

        Assert.Null(outbox.TakeControl());
        Assert.Null(outbox.TakeFrame(out _));
        Assert.False(outbox.EnqueueControl([2]));
        ReleaseLast(frame);
    }

    // ---- MediaFrame --------------------------------------------------------------------------------------------

    [Fact]
    public void A_frame_returns_its_buffer_once_when_its_last_reference_is_released_and_not_again()
    {
        MediaFrame frame = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 1);
        frame.AddRef();

        frame.Release();
        Assert.Equal(8, frame.DataLength); // one reference left: the payload is still there
        frame.Release();
        Assert.Equal(0, frame.DataLength); // the last one: the buffer went back to the pool

        Assert.Throws<InvalidOperationException>(frame.Release);
    }

    [Fact]
    public void AddRef_on_a_released_frame_throws()
    {
        MediaFrame frame = Frame(CodecId.Jpeg, FrameFlags.Keyframe, 1);
        frame.Release();

        Assert.Throws<InvalidOperationException>(frame.AddRef);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    internal static MediaFrame Frame(CodecId codec, FrameFlags flags, long sequence, TrackKind kind = TrackKind.Video)
    {
        MediaFrame frame = MediaFrame.Rent(8);
        frame.WritableData[..8].Fill((byte)sequence);
        frame.Complete(new FrameInfo(kind, codec, flags, kind == TrackKind.Video ? 64 : 4, kind == TrackKind.Video ? 48 : 0, sequence, 0), 8);
        return frame;
    }

    /// <summary>Releases the test's own reference and checks it was the last one: the buffer went back (the frame reads empty).</summary>
    internal static void ReleaseLast(MediaFrame frame)
    {
        frame.Release();
        Assert.Equal(0, frame.DataLength);
    }

    private static Track VideoTrack(Participant publisher, ushort id) =>
        new(publisher, new TrackDescription(id, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, $"cam {id}", 64, 48), id, TimeSpan.FromMilliseconds(500));

    /// <summary>Offers in a row may see the same Stopwatch tick; "waited longest" needs two different ones.</summary>
    private static void AfterTheClockMoved()
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        SpinWait.SpinUntil(() => System.Diagnostics.Stopwatch.GetTimestamp() > now);
    }
}
