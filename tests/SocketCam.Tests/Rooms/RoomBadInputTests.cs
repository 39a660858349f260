using SocketCam.Client;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Rooms;

/// <summary>
/// docs/PROTOCOL.md §4.10's table of bad input, over real sockets: each offender gets the RESULT (refusal, the session
/// goes on) or the ERROR (the session ends, announced with that reason) the table names, and a bystander watching a third
/// participant's JPEG track keeps receiving it throughout.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class RoomBadInputTests
{
    [Fact]
    public async Task Publish_of_a_track_id_already_taken_is_refused_with_track_exists_and_the_session_goes_on()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession offender = await scene.JoinAsync("Offender");

        Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(5, "first")).Code);
        ResultMessage again = await offender.PublishJpegAsync(5, "second");

        Assert.Equal(ErrorCode.TrackExists, again.Code);
        Assert.Equal(5u, again.Value);
        Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(6)).Code);
        // Nothing changed: the others saw track 5 published once, under its first name, and then track 6.
        await Eventually.UntilAsync(() => scene.Bystander.Client.Room.Tracks.Any(t => t.ParticipantId == offender.Id && t.Description.TrackId == 6), "track 6 reaches the bystander");
        TrackPublishedEvent five = Assert.Single(scene.Bystander.Events.OfType<TrackPublishedEvent>(), e => e.Track.ParticipantId == offender.Id && e.Track.Description.TrackId == 5);
        Assert.Equal("first", five.Track.Description.Name);
        Assert.Equal("first", scene.Bystander.Client.Room.Tracks.Single(t => t.ParticipantId == offender.Id && t.Description.TrackId == 5).Description.Name);
        Assert.False(offender.Receive.IsCompleted);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task Subscribe_to_a_participant_or_track_that_does_not_exist_and_unpublish_of_a_track_not_published_are_refused_with_unknown_track()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession offender = await scene.JoinAsync("Offender");

        ResultMessage noParticipant = await offender.Client.SubscribeAsync(424242, ProtocolV2.AnyTrack, CancellationToken.None).WaitAsync(TestHub.Timeout);
        ResultMessage noTrack = await offender.Client.SubscribeAsync(scene.Publisher.Id, 42, CancellationToken.None).WaitAsync(TestHub.Timeout);
        ResultMessage notMine = await offender.Client.UnpublishAsync(3, CancellationToken.None).WaitAsync(TestHub.Timeout);

        Assert.Equal(ErrorCode.UnknownTrack, noParticipant.Code);
        Assert.Equal(ErrorCode.UnknownTrack, noTrack.Code);
        Assert.Equal(ErrorCode.UnknownTrack, notMine.Code);
        // The session goes on: a subscription to a track that exists works and brings its frames.
        Assert.Equal(ErrorCode.Normal, (await offender.Client.SubscribeAsync(scene.Publisher.Id, 1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        await offender.WaitForFramesAsync(scene.Publisher.Id, 1, 3);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task Frame_for_a_track_never_published_or_no_longer_published_ends_the_session_with_not_published()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession never = await scene.JoinAsync("Never");
        await using RoomSession noLonger = await scene.JoinAsync("NoLonger");

        await never.SendJpegAsync(9, RoomScene.Jpegs[0], 0);
        RemoteErrorException neverError = await RoomScene.ExpectErrorAsync(never, ErrorCode.NotPublished);
        Assert.Contains("9", neverError.Reason, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.NotPublished, (await scene.DepartureOfAsync(never.Id)).Reason);

        Assert.Equal(ErrorCode.Normal, (await noLonger.PublishJpegAsync(2)).Code);
        await noLonger.SendJpegAsync(2, RoomScene.Jpegs[0], 0);
        Assert.Equal(ErrorCode.Normal, (await noLonger.Client.UnpublishAsync(2, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        Assert.False(noLonger.Receive.IsCompleted); // its frame while published was fine
        await noLonger.SendJpegAsync(2, RoomScene.Jpegs[1], 1);
        await RoomScene.ExpectErrorAsync(noLonger, ErrorCode.NotPublished);
        Assert.Equal(ErrorCode.NotPublished, (await scene.DepartureOfAsync(noLonger.Id)).Reason);
        // Unpublished by its request (reason 0), before the departure.
        TrackUnpublishedEvent unpublished = Assert.Single(scene.Bystander.Events.OfType<TrackUnpublishedEvent>(), e => e.ParticipantId == noLonger.Id);
        Assert.Equal(ErrorCode.Normal, unpublished.Reason);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task Publish_beyond_the_track_cap_is_refused_with_too_many_tracks_and_the_cap()
    {
        await using RoomScene scene = await RoomScene.StartAsync(new HubOptions { Rooms = new RoomLimits { MaxTracks = 3 } });
        await using RoomSession offender = await scene.JoinAsync("Offender");
        Assert.Equal(3, offender.Client.Welcome.MaxTracks);

        for (ushort id = 1; id <= 3; id++)
        {
            Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(id)).Code);
        }

        ResultMessage fourth = await offender.PublishJpegAsync(4);

        Assert.Equal(ErrorCode.TooManyTracks, fourth.Code);
        Assert.Equal(3u, fourth.Value);
        // The session goes on; with one track fewer the fourth fits.
        Assert.Equal(ErrorCode.Normal, (await offender.Client.UnpublishAsync(1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(4)).Code);
        await Eventually.UntilAsync(() => scene.Bystander.Client.Room.Tracks.Count(t => t.ParticipantId == offender.Id) == 3 && scene.Bystander.Client.Room.Tracks.Any(t => t.ParticipantId == offender.Id && t.Description.TrackId == 4), "the bystander sees tracks 2, 3 and 4");
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task Max_publish_fps_holds_each_video_track_to_the_cap_on_its_own()
    {
        // Burst = one second of frames (5) per track, and no time to refill much: 20 frames on track 1, then 20 on track 2.
        // A cap shared by the participant would have let track 2 through only what refilled in between.
        await using TestHub hub = TestHub.Start(new HubOptions { Limits = new SocketCam.Limits.LimitOptions { MaxPublishFps = 5 } }, captureRoom: null);
        await using RoomSession cams = await RoomSession.JoinAsync(hub, "TwoCams");
        Assert.Equal(ErrorCode.Normal, (await cams.PublishJpegAsync(1, "camera")).Code);
        Assert.Equal(ErrorCode.Normal, (await cams.PublishJpegAsync(2, "screen")).Code);
        long refused0 = hub.Server.Guards.Refusals[SocketCam.Limits.Refusal.PublishRateLimit];

        foreach (ushort track in (ushort[])[1, 2])
        {
            for (int i = 0; i < 20; i++)
            {
                await cams.SendJpegAsync(track, RoomScene.Jpegs[i % 4], i);
            }
        }

        // Requests are handled in order with frames: once this RESULT is back, all 40 frames went through the limit.
        Assert.Equal(ErrorCode.Normal, (await cams.PublishJpegAsync(3, "third")).Code);
        long admitted = 40 - (hub.Server.Guards.Refusals[SocketCam.Limits.Refusal.PublishRateLimit] - refused0);
        Assert.InRange(admitted, 10, 39); // each track its own 5 (and a little refill); never all of them
        Assert.False(cams.Receive.IsCompleted, "a publisher over the cap stays connected");
    }

    [Fact]
    public async Task A_flood_of_requests_beyond_the_burst_ends_the_session_with_rate_limited_and_the_requests_before_it_took_effect()
    {
        // No refill, so exactly the burst is paid for: the 9th request is the first the bucket cannot pay.
        const int Burst = 8;
        await using RoomScene scene = await RoomScene.StartAsync(new HubOptions { Rooms = new RoomLimits { RequestBurst = Burst, RequestsPerSecond = 0 } });
        await using RoomSession offender = await scene.JoinAsync("Offender");

        // SUBSCRIBE / UNSUBSCRIBE, with a PUBLISH at every third request so the others can see how far it got.
        var flood = new List<Task<ResultMessage>>();
        var published = new List<(int Index, ushort Track)>();
        for (int i = 0; i < 40; i++)
        {
            if (i % 3 == 0)
            {
                ushort track = (ushort)(published.Count + 1);
                published.Add((i, track));
                flood.Add(offender.Client.PublishAsync(new TrackDescription(track, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "flood", 64, 48), CancellationToken.None));
            }
            else
            {
                flood.Add(i % 3 == 1
                    ? offender.Client.SubscribeAsync(scene.Publisher.Id, 1, CancellationToken.None)
                    : offender.Client.UnsubscribeAsync(scene.Publisher.Id, 1, CancellationToken.None));
            }
        }

        await RoomScene.ExpectErrorAsync(offender, ErrorCode.RateLimited);
        Assert.Equal(ErrorCode.RateLimited, (await scene.DepartureOfAsync(offender.Id)).Reason);
        foreach (Task<ResultMessage> request in flood)
        {
            await Settle(request);
        }

        // The PUBLISHes among the first 8 took effect (the others saw them), none after; then they went with the session.
        ushort[] expected = [.. published.Where(p => p.Index < Burst).Select(p => p.Track)];
        ushort[] seen = [.. scene.Bystander.Events.OfType<TrackPublishedEvent>().Where(e => e.Track.ParticipantId == offender.Id).Select(e => e.Track.Description.TrackId)];
        Assert.Equal(expected, seen);
        Assert.All(scene.Bystander.Events.OfType<TrackUnpublishedEvent>().Where(e => e.ParticipantId == offender.Id), e => Assert.Equal(ErrorCode.RateLimited, e.Reason));
        Assert.Equal(expected.Length, scene.Bystander.Events.OfType<TrackUnpublishedEvent>().Count(e => e.ParticipantId == offender.Id));
        // Every request that took effect was answered before the ERROR (the hub sends what it queued before the farewell),
        // all successes, in order; nothing from the refused request on was answered.
        int answered = flood.TakeWhile(t => t.IsCompletedSuccessfully).Count();
        Assert.Equal(Burst, answered);
        Assert.All(flood.Take(answered), t => Assert.Equal(ErrorCode.Normal, t.Result.Code));
        Assert.All(flood.Skip(answered), t => Assert.True(t.IsFaulted, "a request after the cut was answered"));
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task An_unknown_optional_message_is_skipped_one_above_64_KiB_is_too_large_from_its_header_and_an_unknown_required_one_is_unknown_type()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession skipper = await scene.JoinAsync("Skipper");
        await using RoomSession required = await scene.JoinAsync("Required");

        // 0xF0 is never assigned and optional: 64 KiB of it are read and dropped, and the PUBLISH behind it is answered.
        await skipper.Client.SendAsync(RawV2.Message(0xF0, new byte[ProtocolV2.MaxOptionalPayload]), CancellationToken.None);
        Assert.Equal(ErrorCode.Normal, (await skipper.PublishJpegAsync(1)).Code);
        // One byte more is refused from the 8-byte header alone: no payload follows it.
        await skipper.Client.SendAsync(RawV2.Header(0xF0, ProtocolV2.MaxOptionalPayload + 1), CancellationToken.None);
        await RoomScene.ExpectErrorAsync(skipper, ErrorCode.TooLarge);
        Assert.Equal(ErrorCode.TooLarge, (await scene.DepartureOfAsync(skipper.Id)).Reason);
        Assert.Equal(ErrorCode.TooLarge, Assert.Single(scene.Bystander.Events.OfType<TrackUnpublishedEvent>(), e => e.ParticipantId == skipper.Id).Reason);

        // 0x70 is never assigned and required: an error from the header alone.
        await required.Client.SendAsync(RawV2.Header(0x70, 16), CancellationToken.None);
        RemoteErrorException unknown = await RoomScene.ExpectErrorAsync(required, ErrorCode.UnknownType);
        Assert.Contains("0x70", unknown.Reason, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.UnknownType, (await scene.DepartureOfAsync(required.Id)).Reason);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    public static TheoryData<string> MalformedCases => ["frame-codec-differs", "frame-kind-differs", "frame-participant-id", "frame-keyframe-flag-missing", "second-join", "hello-in-v2", "publish-too-short", "subscribe-any-participant-one-track"];

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public async Task Input_a_correct_client_never_sends_ends_the_session_with_malformed(string offence)
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession offender = await scene.JoinAsync("Offender");
        Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(1)).Code);
        byte[] jpeg = RoomScene.Jpegs[0];
        long now = SocketCam.Diagnostics.Clock.NowMicros();

        byte[] message = offence switch
        {
            "frame-codec-differs" => RawV2.Frame(0, 1, FrameInfo.Video(CodecId.RawBgr24, 64, 48, 0, now), new byte[64 * 48 * 3]),
            "frame-kind-differs" => RawV2.Frame(0, 1, new FrameInfo(TrackKind.Audio, CodecId.Jpeg, FrameFlags.Keyframe, 64, 48, 0, now), jpeg),
            "frame-participant-id" => RawV2.Frame(scene.Publisher.Id, 1, FrameInfo.Video(CodecId.Jpeg, 64, 48, 0, now), jpeg),
            "frame-keyframe-flag-missing" => RawV2.Frame(0, 1, new FrameInfo(TrackKind.Video, CodecId.Jpeg, FrameFlags.None, 64, 48, 0, now), jpeg),
            "second-join" => MessageWriterV2.Join(new JoinMessage(0, false, "call", "again", "", "tests")),
            "hello-in-v2" => RawV2.Message((byte)MessageType.Hello, new byte[8]),
            "publish-too-short" => RawV2.Message((byte)MessageType.Publish, MessageWriterV2.Publish(7, new TrackDescription(2, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "cut", 64, 48)).AsSpan(ProtocolConstants.MessageHeaderSize, 20)),
            "subscribe-any-participant-one-track" => MessageWriterV2.Subscribe(MessageType.Subscribe, new SubscribeMessage(8, ProtocolV2.AnyParticipant, 1, 0, 0xFF)),
            _ => throw new ArgumentOutOfRangeException(nameof(offence)),
        };
        await offender.Client.SendAsync(message, CancellationToken.None);

        await RoomScene.ExpectErrorAsync(offender, ErrorCode.Malformed);
        Assert.Equal(ErrorCode.Malformed, (await scene.DepartureOfAsync(offender.Id)).Reason);
        Assert.Equal(ErrorCode.Malformed, Assert.Single(scene.Bystander.Events.OfType<TrackUnpublishedEvent>(), e => e.ParticipantId == offender.Id).Reason);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task A_join_with_a_bad_room_name_is_malformed_and_nobody_hears_of_it()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        ulong before = scene.Hub.Server.Rooms.Single().EventSequence;

        RemoteErrorException error = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            RoomClient.ConnectAsync(scene.Hub.Endpoint, new ClientOptions { Room = "no room!", Agent = "tests" }, "Offender", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout));

        Assert.Equal(ErrorCode.Malformed, error.Code);
        await scene.AssertBystanderKeepsReceivingAsync();
        Assert.Equal(before, scene.Hub.Server.Rooms.Single().EventSequence);
        Assert.Single(scene.Hub.Server.Rooms); // no room was made for it
        Assert.Equal(2, scene.Bystander.Client.Room.Participants.Length);
    }

    [Fact]
    public async Task Publish_of_media_the_hub_does_not_take_is_refused_with_unsupported_media_and_the_session_goes_on()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession offender = await scene.JoinAsync("Offender");

        ResultMessage unknownCodec = await offender.Client.PublishAsync(new TrackDescription(2, TrackKind.Video, (CodecId)30, TrackSource.Camera, "codec 30", 64, 48), CancellationToken.None).WaitAsync(TestHub.Timeout);
        ResultMessage dataKind = await offender.Client.PublishAsync(new TrackDescription(3, (TrackKind)3, (CodecId)200, TrackSource.Unknown, "data"), CancellationToken.None).WaitAsync(TestHub.Timeout);

        Assert.Equal(ErrorCode.UnsupportedMedia, unknownCodec.Code);
        Assert.Equal(ErrorCode.UnsupportedMedia, dataKind.Code);
        // Refused, so nothing was published; the session goes on and a JPEG track (id 1 is still free) is accepted.
        Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(1)).Code);
        await Eventually.UntilAsync(() => scene.Bystander.Client.Room.Tracks.Any(t => t.ParticipantId == offender.Id), "the JPEG track reaches the bystander");
        Assert.Equal([(ushort)1], scene.Bystander.Events.OfType<TrackPublishedEvent>().Where(e => e.Track.ParticipantId == offender.Id).Select(e => e.Track.Description.TrackId));
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task A_keyframe_request_for_a_track_the_sender_does_not_receive_is_dropped_and_the_session_goes_on()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        await using RoomSession offender = await scene.JoinAsync("Offender");

        await offender.Client.SendKeyframeRequestAsync(scene.Publisher.Id, 1, CancellationToken.None); // exists, not subscribed
        await offender.Client.SendKeyframeRequestAsync(424242, 9, CancellationToken.None); // does not exist

        // A request behind them is answered, so they were read and dropped without ending anything.
        Assert.Equal(ErrorCode.Normal, (await offender.PublishJpegAsync(1)).Code);
        Assert.False(offender.Receive.IsCompleted);
        Assert.Empty(scene.Publisher.KeyframeRequests);
        await scene.AssertBystanderKeepsReceivingAsync();
        Assert.False(offender.Receive.IsCompleted);
    }

    [Fact]
    public async Task A_wrong_token_is_unauthorized_and_the_room_goes_on()
    {
        await using RoomScene scene = await RoomScene.StartAsync(new HubOptions { Sessions = new SessionOptions { Token = "s3cret" } });

        RemoteErrorException wrong = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            RoomClient.ConnectAsync(scene.Hub.Endpoint, new ClientOptions { Room = "call", Token = "guess", Agent = "tests" }, "Offender", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout));
        RemoteErrorException none = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            RoomClient.ConnectAsync(scene.Hub.Endpoint, new ClientOptions { Room = "call", Agent = "tests" }, "Offender", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout));

        Assert.Equal(ErrorCode.Unauthorized, wrong.Code);
        Assert.Equal(ErrorCode.Unauthorized, none.Code);
        await scene.AssertBystanderKeepsReceivingAsync();
        Assert.DoesNotContain(scene.Bystander.Events.OfType<ParticipantJoinedEvent>(), e => e.Participant.Name == "Offender");
    }

    [Fact]
    public async Task A_join_beyond_the_participant_cap_is_room_full_and_a_hidden_watcher_still_gets_in()
    {
        await using RoomScene scene = await RoomScene.StartAsync(new HubOptions { Rooms = new RoomLimits { MaxParticipants = 2 } });

        RemoteErrorException full = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            RoomClient.ConnectAsync(scene.Hub.Endpoint, new ClientOptions { Room = "call", Agent = "tests" }, "Third", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout));

        Assert.Equal(ErrorCode.RoomFull, full.Code);
        await using RoomSession watcher = await RoomSession.JoinAsync(scene.Hub, "", hidden: true);
        Assert.Equal(ErrorCode.Normal, (await watcher.Client.SubscribeAsync(scene.Publisher.Id, 1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        await watcher.WaitForFramesAsync(scene.Publisher.Id, 1, 3);
        await scene.AssertBystanderKeepsReceivingAsync();
        Assert.Equal(2, scene.Bystander.Client.Room.Participants.Length);
    }

    private static async Task Settle(Task task)
    {
        try
        {
            await task.WaitAsync(TestHub.Timeout);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            // The session ended before the hub answered, or even before the request was sent: what the test checks next.
        }
    }
}
