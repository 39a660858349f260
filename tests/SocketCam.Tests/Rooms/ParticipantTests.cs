using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Sources;
using SocketCam.Tests.Support;
using Xunit;

namespace SocketCam.Tests.Rooms;

/// <summary>Protocol v2 rooms end to end over real sockets: participants publish tracks and subscribe to each other's.</summary>
[Collection(NetworkCollection.Name)]
public sealed class ParticipantTests
{
    private static readonly List<byte[]> Jpegs = TestMedia.EncodePattern(64, 48, 8);

    [Fact]
    public async Task Two_participants_publish_and_each_receives_the_others_frames_unchanged()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice");
        await using RoomSession bob = await RoomSession.JoinAsync(hub, "Bob");

        Assert.Equal(ErrorCode.Normal, (await alice.PublishJpegAsync(1)).Code);
        Assert.Equal(ErrorCode.Normal, (await bob.PublishJpegAsync(1)).Code);
        Assert.Equal(ErrorCode.Normal, (await alice.Client.SubscribeAsync(ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, CancellationToken.None)).Code);
        Assert.Equal(ErrorCode.Normal, (await bob.Client.SubscribeAsync(ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, CancellationToken.None)).Code);

        for (int i = 0; i < Jpegs.Count; i++)
        {
            await alice.SendJpegAsync(1, Jpegs[i], i);
            await bob.SendJpegAsync(1, Jpegs[^(i + 1)], i);
            await Task.Delay(20); // newest wins: paced like a camera, so no frame is skipped
        }

        await bob.WaitForFramesAsync(alice.Id, 1, Jpegs.Count);
        await alice.WaitForFramesAsync(bob.Id, 1, Jpegs.Count);
        Assert.Equal(Jpegs, bob.FramesOf(alice.Id, 1).Select(f => f.Data));
        Assert.Equal(Jpegs.AsEnumerable().Reverse(), alice.FramesOf(bob.Id, 1).Select(f => f.Data));
        Assert.Empty(alice.FramesOf(alice.Id, 1)); // "any participant" excludes oneself
        Assert.All(bob.Frames, f => Assert.True(f.Info.IsKeyframe && f.Info.Codec == CodecId.Jpeg && f.Info.Width == 64));

        // Both see the same room: two participants named as they joined, one camera each, and the same event sequence.
        Assert.Equal(["Alice", "Bob"], alice.Client.Room.Participants.Select(p => p.Name));
        Assert.Equal(["Alice", "Bob"], bob.Client.Room.Participants.Select(p => p.Name));
        Assert.Equal(2, bob.Client.Room.Tracks.Length);
        Assert.Equal(alice.Client.LastEventSequence, bob.Client.LastEventSequence);
        Assert.Equal(alice.Client.Welcome.RoomEpoch, bob.Client.Welcome.RoomEpoch);
    }

    [Fact]
    public async Task Leaving_unpublishes_the_tracks_first_and_then_announces_the_departure()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice");
        RoomSession bob = await RoomSession.JoinAsync(hub, "Bob");
        await bob.PublishJpegAsync(7, "screen");
        await bob.Client.SayGoodbyeAsync(CancellationToken.None);
        await bob.DisposeAsync();

        await Eventually.UntilAsync(() => alice.Events.OfType<ParticipantLeftEvent>().Any(), "Bob's departure");
        RoomEvent[] tail = [.. alice.Events.SkipWhile(e => e is not TrackUnpublishedEvent)];
        TrackUnpublishedEvent unpublished = Assert.IsType<TrackUnpublishedEvent>(tail[0]);
        ParticipantLeftEvent left = Assert.IsType<ParticipantLeftEvent>(tail[1]);
        Assert.Equal((bob.Id, (ushort)7), (unpublished.ParticipantId, unpublished.TrackId));
        Assert.Equal(bob.Id, left.ParticipantId);
        Assert.Equal(ErrorCode.Normal, left.Reason);
        Assert.Single(alice.Client.Room.Participants);
        Assert.Empty(alice.Client.Room.Tracks);
    }

    [Fact]
    public async Task The_hubs_own_capture_is_a_participant_whose_track_can_be_subscribed_before_anyone_watches_it()
    {
        await using TestHub hub = TestHub.Start(captureRoom: "call", width: 160, height: 120);
        await using RoomSession watcher = await RoomSession.JoinAsync(hub, "", hidden: true);

        ParticipantRecord hubParticipant = Assert.Single(watcher.Client.Room.Participants);
        Assert.Equal("hub", hubParticipant.Name);
        Assert.Equal(ParticipantTransport.Hub, hubParticipant.Transport);
        TrackRecord track = Assert.Single(watcher.Client.Room.Tracks);
        Assert.Equal(TrackKind.Video, track.Description.Kind);

        // Capture pauses with no audience; a v2 subscription is an audience.
        Assert.Equal(ErrorCode.Normal, (await watcher.Client.SubscribeAsync(hubParticipant.ParticipantId, ProtocolV2.AnyTrack, CancellationToken.None)).Code);
        await watcher.WaitForFramesAsync(hubParticipant.ParticipantId, 1, 5);
        Assert.All(watcher.Frames, f => Assert.Equal((160, 120), (f.Info.Width, f.Info.Height)));
        Assert.Equal(0, hub.Server.Rooms.Single().ParticipantCount - 1); // the hidden watcher is not counted
    }

    [Fact]
    public async Task A_v1_viewer_watches_the_first_camera_a_v2_participant_published_and_a_v2_subscriber_sees_a_v1_publisher()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using RoomSession alice = await RoomSession.JoinAsync(hub, "Alice");
        await alice.PublishJpegAsync(3);
        await using TestViewer v1 = TestViewer.Start(hub.Endpoint, room: "call");
        for (int i = 0; i < 200 && v1.Decoded < 5; i++)
        {
            await alice.SendJpegAsync(3, Jpegs[i % Jpegs.Count], i);
            await Task.Delay(20);
        }

        await v1.WaitForFramesAsync(5);

        // The other way: a v1 publisher in another room is a participant with one video track.
        await using RoomSession bob = await RoomSession.JoinAsync(hub, "Bob", room: "cam");
        Assert.Equal(ErrorCode.Normal, (await bob.Client.SubscribeAsync(ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, CancellationToken.None)).Code);
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new PublisherClient(hub.Endpoint, new ClientOptions { Room = "cam", Reconnect = false, Agent = "old publisher" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            await Eventually.UntilAsync(() => bob.Frames.Count >= 3, "frames of the v1 publisher");
            TrackRecord v1Track = Assert.Single(bob.Client.Room.Tracks);
            Assert.Equal(1, v1Track.Description.TrackId);
            ParticipantRecord old = Assert.Single(bob.Client.Room.Participants, p => p.ParticipantId != bob.Id);
            Assert.True(old.Flags.HasFlag(ParticipantFlags.SpeaksV1));
            Assert.Equal("old publisher", old.Name);
            Assert.All(bob.Frames, f => Assert.Equal((160, 120), (f.Info.Width, f.Info.Height)));
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.WaitAsync(TestHub.Timeout);
        }
    }
}
