using SocketCam.Codecs.H264;
using SocketCam.Media;
using SocketCam.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Rooms;

/// <summary>
/// H.264 through a real hub (libx264 in the hub's capture, libavcodec in the viewers): keyframes for joiners, keyframe-aware
/// skipping for slow viewers, and one JPEG transcoding for the v1 viewers that need it (docs/H264.md).
/// </summary>
public sealed class H264DeliveryTests
{
    [Fact]
    public async Task V1_viewers_of_an_H264_room_get_JPEG_transcoded_once_for_all_of_them()
    {
        await using TestHub hub = TestHub.Start(codec: CodecId.H264, width: 320, height: 240);
        var codecs = new System.Collections.Concurrent.ConcurrentBag<CodecId>();
        await using TestViewer first = TestViewer.Start(hub.Endpoint, onReceived: (h, _) => codecs.Add(h.Codec));
        await using TestViewer second = TestViewer.Start(hub.Endpoint);

        await first.WaitForMoreFramesAsync(15);
        await second.WaitForMoreFramesAsync(15);

        Assert.All(codecs, c => Assert.Equal(CodecId.Jpeg, c));
        Room room = hub.Server.Rooms.Single();
        Assert.Equal(CodecId.H264, room.PrimaryTrack!.Description.Codec);
        PrimaryTranscoder transcoder = room.Transcoder!;
        // Once per frame for both viewers: never more JPEGs than H.264 frames published.
        Assert.InRange(transcoder.Encoded, 15, room.FramesPublished);
        Assert.Equal(0, transcoder.Errors);
        Assert.Equal(0, first.Stats.Corrupt + second.Stats.Corrupt);
    }

    [Fact]
    public async Task The_transcoder_sleeps_while_no_viewer_needs_JPEG()
    {
        await using TestHub hub = TestHub.Start(codec: CodecId.H264, width: 160, height: 120);
        await using (TestViewer v1 = TestViewer.Start(hub.Endpoint))
        {
            await v1.WaitForMoreFramesAsync(5);
        }

        // Only a v2 viewer, which takes H.264 as it is, from now on.
        await using TestViewer v2 = TestViewer.Start(hub.Endpoint, participant: "hub");
        await v2.WaitForMoreFramesAsync(5);
        PrimaryTranscoder transcoder = hub.Server.Rooms.Single().Transcoder!;
        long encoded = transcoder.Encoded;
        await v2.WaitForMoreFramesAsync(10);

        Assert.False(transcoder.Active);
        Assert.Equal(encoded, transcoder.Encoded);
    }

    [Fact]
    public async Task A_viewer_joining_mid_stream_gets_a_picture_from_a_requested_keyframe()
    {
        // No periodic keyframe in the test's lifetime: only a request can give the joiner a picture.
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("main", CodecId.H264, 320, 240, h264: new H264Options { KeyframeInterval = 100_000 });
        await using TestViewer early = TestViewer.Start(hub.Endpoint, participant: "hub");
        await early.WaitForMoreFramesAsync(20);
        var encoder = (X264Encoder)hub.CaptureEncoder!;
        long requestedBefore = encoder.KeyframesRequested;

        await using TestViewer late = TestViewer.Start(hub.Endpoint, participant: "hub");
        await late.WaitForMoreFramesAsync(10);

        Assert.True(encoder.KeyframesRequested > requestedBefore, "the joiner's picture came without a keyframe request");
        Assert.Equal(0, late.Client.H264Decoder!.Errors);
        Assert.Equal(0, late.Stats.WaitingForKeyframe); // the hub never sent it a frame it could not decode
        Assert.Equal(0, early.Client.H264Decoder!.Errors);
    }

    [Fact]
    public async Task A_slow_viewer_skips_to_keyframes_and_never_decodes_a_frame_whose_reference_it_lacks()
    {
        // Big frames (8 Mbit/s at 640x360) fill the socket buffers soon; the viewer then takes 120 ms a frame, so the hub
        // must drop frames for it: only at keyframes (every 10 frames), never leaving a hole a later frame depends on.
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("main", CodecId.H264, 640, 360, h264: new H264Options { KeyframeInterval = 10, BitrateKbps = 8000 });
        await using TestViewer slow = TestViewer.Start(hub.Endpoint, participant: "hub");
        slow.Client.FrameDecoded += _ => Thread.Sleep(120);

        await Eventually.UntilAsync(() => slow.Stats.Dropped >= 10 && slow.Decoded >= 20, "the slow viewer skipped frames and went on", TimeSpan.FromSeconds(40));

        H264Decoder decoder = slow.Client.H264Decoder!;
        Assert.Equal(0, decoder.Errors);
        Assert.Equal(0, slow.Stats.Corrupt);
        Assert.Equal(0, slow.Stats.WaitingForKeyframe);
    }
}
