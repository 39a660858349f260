using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;

namespace SocketCam.Tests.Rooms;

/// <summary>
/// §4.9's keyframe request coalescing, without sockets: a track built directly (the room refuses to publish H.264
/// until issue 19) whose publisher counts the requests forwarded to it.
/// </summary>
[Collection(FramePoolCollection.Name)]
public sealed class KeyframeCoalescerTests
{
    [Fact]
    public void Many_requests_within_the_interval_forward_one()
    {
        (Track track, List<KeyframeRequestMessage> forwarded) = TrackOf(CodecId.H264, TimeSpan.FromMinutes(10));

        for (int i = 0; i < 100; i++)
        {
            track.Keyframes.Request(0);
        }

        for (int i = 0; i < 10; i++)
        {
            track.Keyframes.OnFrame(keyframe: false); // the remembered request is not due for ten minutes
        }

        KeyframeRequestMessage request = Assert.Single(forwarded);
        Assert.Equal(new KeyframeRequestMessage(7, 3, 0), request);
        Assert.Equal(1, track.Keyframes.Forwarded);
        Assert.Equal(99, track.Keyframes.Absorbed);
    }

    [Fact]
    public void A_keyframe_ends_the_absorbing_so_the_next_request_is_forwarded_at_once()
    {
        // Interval 0: only the "absorbed for a second after forwarding" rule holds requests back.
        (Track track, List<KeyframeRequestMessage> forwarded) = AfterOneForwardAndOneAbsorbed();

        track.Keyframes.OnFrame(keyframe: true);
        track.Keyframes.Request(2);

        Assert.Equal(2, forwarded.Count);
        Assert.Equal(2, forwarded[1].Reason);
    }

    [Fact]
    public async Task A_remembered_request_is_forwarded_with_a_later_frame_unless_a_keyframe_satisfied_it_first()
    {
        (Track satisfied, List<KeyframeRequestMessage> satisfiedForwarded) = AfterOneForwardAndOneAbsorbed();
        (Track remembered, List<KeyframeRequestMessage> rememberedForwarded) = AfterOneForwardAndOneAbsorbed();
        satisfied.Keyframes.OnFrame(keyframe: true);

        // At least the second of absorbing passes (a lower bound, whatever the machine's load).
        await Task.Delay(TimeSpan.FromMilliseconds(1100));
        satisfied.Keyframes.OnFrame(keyframe: false);
        remembered.Keyframes.OnFrame(keyframe: false);

        Assert.Single(satisfiedForwarded);
        Assert.Equal(2, rememberedForwarded.Count);
        Assert.Equal(1, rememberedForwarded[1].Reason); // the remembered request's reason
    }

    [Fact]
    public void A_track_whose_frames_are_all_keyframes_forwards_no_request()
    {
        (Track track, List<KeyframeRequestMessage> forwarded) = TrackOf(CodecId.Jpeg, TimeSpan.Zero);

        for (int i = 0; i < 10; i++)
        {
            track.Keyframes.Request((byte)(i % 3));
            track.Keyframes.OnFrame(keyframe: true);
        }

        Assert.Empty(forwarded);
        Assert.Equal(0, track.Keyframes.Forwarded);
        Assert.Equal(10, track.Keyframes.Absorbed);
    }

    [Fact]
    public void A_subscriber_that_loses_a_frame_it_needed_makes_the_track_ask_its_publisher_for_a_keyframe()
    {
        (Track track, List<KeyframeRequestMessage> forwarded) = TrackOf(CodecId.H264, TimeSpan.FromMinutes(10));
        var outbox = new Outbox(16, 1 << 20);
        var delivery = new Delivery(track, outbox);
        outbox.Attach(delivery);
        track.AddDelivery(delivery);
        MediaFrame key = DeliveryPolicyTests.Frame(CodecId.H264, FrameFlags.Keyframe, 1);
        MediaFrame delta = DeliveryPolicyTests.Frame(CodecId.H264, FrameFlags.None, 2);

        track.Deliver(key); // a new subscriber of H.264 waits for this keyframe
        Assert.Empty(forwarded);
        track.Deliver(delta); // the keyframe is not sent yet: the delta is lost to it

        KeyframeRequestMessage request = Assert.Single(forwarded);
        Assert.Equal(2, request.Reason);
        outbox.Close();
        DeliveryPolicyTests.ReleaseLast(key);
        DeliveryPolicyTests.ReleaseLast(delta);
    }

    private static (Track Track, List<KeyframeRequestMessage> Forwarded) TrackOf(CodecId codec, TimeSpan interval)
    {
        var forwarded = new List<KeyframeRequestMessage>();
        var publisher = new Participant(7, "pub", 0, ParticipantTransport.Tcp, ParticipantFlags.None, hidden: false, outbox: null)
        {
            KeyframeRequested = forwarded.Add,
        };
        var track = new Track(publisher, new TrackDescription(3, TrackKind.Video, codec, TrackSource.Camera, "cam", 64, 48), 1, interval);
        return (track, forwarded);
    }

    /// <summary>
    /// An H.264 track with interval 0 after one forwarded request (reason 1) and one absorbed (remembered) one. Absorbing
    /// lasts a second after forwarding; should the machine stall that long between the two calls, set it up again.
    /// </summary>
    private static (Track Track, List<KeyframeRequestMessage> Forwarded) AfterOneForwardAndOneAbsorbed()
    {
        for (int attempt = 0; attempt < 5; attempt++)
        {
            (Track track, List<KeyframeRequestMessage> forwarded) = TrackOf(CodecId.H264, TimeSpan.Zero);
            track.Keyframes.Request(1);
            track.Keyframes.Request(1);
            if (track.Keyframes.Absorbed == 1)
            {
                Assert.Single(forwarded);
                return (track, forwarded);
            }
        }

        Assert.Fail("the second request was never absorbed");
        return default;
    }
}
