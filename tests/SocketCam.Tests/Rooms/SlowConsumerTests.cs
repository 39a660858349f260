using SocketCam.Client;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Rooms;

/// <summary>
/// §4.8's slow consumer over real sockets: a participant that never reads has its control queue bounded; when events
/// overflow it, it is disconnected and the others hear it left with reason slow-consumer, while they keep their streams.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class SlowConsumerTests
{
    [Fact]
    public async Task A_participant_that_never_reads_is_disconnected_as_a_slow_consumer_once_its_control_queue_overflows()
    {
        const int QueueMessages = 32;
        var options = new HubOptions { Rooms = new RoomLimits { ControlQueueMessages = QueueMessages, RequestBurst = 10_000, RequestsPerSecond = 10_000 } };
        await using RoomScene scene = await RoomScene.StartAsync(options);
        RoomSession publisher = scene.Publisher;

        // A big track: one frame of 4 MiB is more than the hub's send buffer and the reader's receive buffer hold together.
        byte[] big = RawV2.PaddedJpeg(RoomScene.Jpegs[0], 4 << 20);
        await using RoomClient slow = await JoinSlowConsumerAsync(scene);

        // One big frame: the bystander gets it whole; the slow consumer's send loop is stuck in the middle of it.
        await publisher.SendJpegAsync(2, big, 0);
        await scene.Bystander.WaitForFramesAsync(publisher.Id, 2, 1);
        Assert.Equal(big, scene.Bystander.FramesOf(publisher.Id, 2)[0].Data);

        // Churn: another participant publishes and unpublishes; every event queues for the slow consumer too.
        Room room = scene.Hub.Server.Rooms.Single();
        ulong churnStart = room.EventSequence;
        await using RoomSession churner = await scene.JoinAsync("Churner");
        int steps = 0;
        while (!scene.Bystander.Events.OfType<ParticipantLeftEvent>().Any(e => e.ParticipantId == slow.ParticipantId))
        {
            Assert.True(steps < 10 * QueueMessages, "the slow consumer was never disconnected: its queue grows without bound");
            Assert.Equal(ErrorCode.Normal, (await churner.PublishJpegAsync(1)).Code);
            Assert.Equal(ErrorCode.Normal, (await churner.Client.UnpublishAsync(1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
            steps++;
        }

        ParticipantLeftEvent left = await scene.DepartureOfAsync(slow.ParticipantId);
        Assert.Equal(ErrorCode.SlowConsumer, left.Reason);
        // Its track went first, with the same reason (§4.3).
        TrackUnpublishedEvent unpublished = Assert.Single(scene.Bystander.Events.OfType<TrackUnpublishedEvent>(), e => e.ParticipantId == slow.ParticipantId);
        Assert.Equal(ErrorCode.SlowConsumer, unpublished.Reason);
        Assert.Equal(left.Sequence - 1, unpublished.Sequence);
        // Bounded: it was cut off at the first event beyond a full queue (plus any that raced in while it was being ended).
        ulong queuedWhileStuck = unpublished.Sequence - churnStart - 1;
        Assert.InRange(queuedWhileStuck, (ulong)QueueMessages + 1, 2UL * QueueMessages);
        Assert.DoesNotContain(room.Describe().Participants, p => p.ParticipantId == slow.ParticipantId);

        // The hub closed its connection: reading now ends (the truncated frame, or the ERROR if it got through), it does not wait forever.
        Exception? ended = await Record.ExceptionAsync(() => slow.ReceiveAsync(FrameLimits.DefaultMaxFrameBytes, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.IsNotType<TimeoutException>(ended);
        Assert.True(ended is null or IOException or RemoteErrorException or ProtocolException, $"unexpected: {ended}");

        await scene.AssertBystanderKeepsReceivingAsync();
        Assert.False(churner.Receive.IsCompleted);
    }

    [Fact]
    public async Task A_participant_whose_socket_accepts_nothing_for_the_stall_timeout_is_cut_off_as_a_slow_consumer()
    {
        // Few control messages: the queue never overflows here; only the stuck write can end the slow consumer.
        var options = new HubOptions { Rooms = new RoomLimits { SendStallTimeout = TimeSpan.FromSeconds(1) } };
        await using RoomScene scene = await RoomScene.StartAsync(options);
        RoomSession publisher = scene.Publisher;
        byte[] big = RawV2.PaddedJpeg(RoomScene.Jpegs[0], 8 << 20);
        await using RoomClient slow = await JoinSlowConsumerAsync(scene);

        // 8 MiB is more than both socket buffers hold: the hub's write to the slow consumer cannot finish.
        await publisher.SendJpegAsync(2, big, 0);
        await scene.Bystander.WaitForFramesAsync(publisher.Id, 2, 1);

        ParticipantLeftEvent left = await scene.DepartureOfAsync(slow.ParticipantId);
        Assert.Equal(ErrorCode.SlowConsumer, left.Reason);
        Room room = scene.Hub.Server.Rooms.Single();
        Assert.DoesNotContain(room.Describe().Participants, p => p.ParticipantId == slow.ParticipantId);

        // Its connection is closed: reading ends instead of waiting forever.
        Exception? ended = await Record.ExceptionAsync(() => slow.ReceiveAsync(16 << 20, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.IsNotType<TimeoutException>(ended);

        await publisher.SendJpegAsync(2, big, 1);
        await scene.Bystander.WaitForFramesAsync(publisher.Id, 2, 2);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    /// <summary>
    /// The publisher publishes a big track 2, the bystander subscribes to it; the slow consumer joins, subscribes to it and
    /// publishes a track of its own, and from then on never reads a byte. The hub handles requests in order: once the
    /// others see its track, its subscription is in place.
    /// </summary>
    private static async Task<RoomClient> JoinSlowConsumerAsync(RoomScene scene)
    {
        RoomSession publisher = scene.Publisher;
        Assert.Equal(ErrorCode.Normal, (await publisher.PublishJpegAsync(2, "big")).Code);
        Assert.Equal(ErrorCode.Normal, (await scene.Bystander.Client.SubscribeAsync(publisher.Id, 2, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        RoomClient slow = await RoomClient.ConnectAsync(scene.Hub.Endpoint, new ClientOptions { Room = "call", Agent = "never reads" }, "Slow", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout);
        await slow.SendAsync(MessageWriterV2.Subscribe(MessageType.Subscribe, new SubscribeMessage(1, publisher.Id, 2, 0, 0xFF)), CancellationToken.None);
        await slow.SendAsync(MessageWriterV2.Publish(2, new TrackDescription(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "slow cam", 64, 48)), CancellationToken.None);
        await Eventually.UntilAsync(() => scene.Bystander.Client.Room.Tracks.Any(t => t.ParticipantId == slow.ParticipantId), "the slow consumer's track is announced");
        return slow;
    }
}
