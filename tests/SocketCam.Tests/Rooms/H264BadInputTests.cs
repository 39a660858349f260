using SocketCam.Client;
using SocketCam.Codecs.H264;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Codecs;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Rooms;

/// <summary>A publisher's H.264 is checked before anyone sees it (FrameCheck): a lying or broken access unit ends only its session.</summary>
public sealed class H264BadInputTests
{
    private static List<(byte[] Data, FrameFlags Flags)> RealFrames(int count)
    {
        using var encoder = new X264Encoder(new H264Options { KeyframeInterval = 100 });
        var units = new List<(byte[], FrameFlags)>();
        byte[] buffer = new byte[encoder.MaxEncodedSize(64, 48)];
        for (int i = 0; i < count; i++)
        {
            using VideoFrame frame = TestFrames.Pattern(64, 48, i);
            int length = encoder.Encode(frame, buffer);
            units.Add((buffer[..length], encoder.LastFrameFlags));
        }

        return units;
    }

    private static Task SendAsync(RoomSession who, byte[] data, FrameFlags flags, long sequence, int width = 64, int height = 48) =>
        who.Client.SendFrameAsync(1, new FrameInfo(TrackKind.Video, CodecId.H264, flags, width, height, sequence, SocketCam.Diagnostics.Clock.NowMicros()), data, CancellationToken.None).AsTask();

    private static async Task<RoomSession> PublisherAsync(RoomScene scene, string name)
    {
        RoomSession who = await scene.JoinAsync(name);
        ResultMessage result = await who.Client.PublishAsync(new TrackDescription(1, TrackKind.Video, CodecId.H264, TrackSource.Camera, "h264", 64, 48), CancellationToken.None).WaitAsync(TestHub.Timeout);
        Assert.Equal(ErrorCode.Normal, result.Code);
        return who;
    }

    [Fact]
    public async Task Real_H264_goes_through_and_lying_or_broken_access_units_end_only_their_senders_session_with_bad_frame()
    {
        await using RoomScene scene = await RoomScene.StartAsync();
        List<(byte[] Data, FrameFlags Flags)> real = RealFrames(3);
        Assert.Equal(FrameFlags.Keyframe, real[0].Flags);

        await using RoomSession honest = await PublisherAsync(scene, "Honest");
        Assert.Equal(ErrorCode.Normal, (await scene.Bystander.Client.SubscribeAsync(honest.Id, 1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        for (int i = 0; i < real.Count; i++)
        {
            await SendAsync(honest, real[i].Data, real[i].Flags, i);
        }

        // Sent back to back, the later frames may be dropped for the bystander (its slot still held the keyframe, §4.9),
        // but what it gets starts with the keyframe, byte for byte.
        await scene.Bystander.WaitForFramesAsync(honest.Id, 1, 1);
        Assert.Equal(real[0].Data, scene.Bystander.FramesOf(honest.Id, 1)[0].Data);

        // An IDR not flagged as a keyframe would make the hub treat it as inter-coded (and a joiner wait for ever).
        await using RoomSession unflagged = await PublisherAsync(scene, "Unflagged");
        await SendAsync(unflagged, real[0].Data, FrameFlags.None, 0);
        RemoteErrorException e1 = await RoomScene.ExpectErrorAsync(unflagged, ErrorCode.BadFrame);
        Assert.Contains("not flagged as a keyframe", e1.Reason, StringComparison.Ordinal);

        // A "keyframe" that carries no parameter sets cannot start anyone's decoder.
        await using RoomSession noSps = await PublisherAsync(scene, "NoSps");
        await SendAsync(noSps, real[1].Data, FrameFlags.Keyframe, 0);
        await RoomScene.ExpectErrorAsync(noSps, ErrorCode.BadFrame);

        // A size that is not the SPS's.
        await using RoomSession liar = await PublisherAsync(scene, "Liar");
        await SendAsync(liar, real[0].Data, FrameFlags.Keyframe, 0, width: 1920, height: 1080);
        RemoteErrorException e3 = await RoomScene.ExpectErrorAsync(liar, ErrorCode.BadFrame);
        Assert.Contains("SPS", e3.Reason, StringComparison.Ordinal);

        // Garbage behind a start code.
        await using RoomSession garbage = await PublisherAsync(scene, "Garbage");
        byte[] junk = new byte[600];
        new Random(19).NextBytes(junk);
        junk[0] = 0;
        junk[1] = 0;
        junk[2] = 0;
        junk[3] = 1;
        junk[4] = 0x65; // an IDR slice header, without SPS or PPS before it
        await SendAsync(garbage, junk, FrameFlags.Keyframe, 0);
        await RoomScene.ExpectErrorAsync(garbage, ErrorCode.BadFrame);

        // None of it reached anyone; the honest publisher's stream goes on.
        Assert.Empty(scene.Bystander.FramesOf(unflagged.Id, 1));
        Assert.Empty(scene.Bystander.FramesOf(garbage.Id, 1));
        Assert.False(honest.Receive.IsCompleted);
        await scene.AssertBystanderKeepsReceivingAsync();
    }
}
