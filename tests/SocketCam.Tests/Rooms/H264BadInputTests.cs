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
    /// <summary>The SPS and PPS NAL units at the head of a keyframe, start codes included (everything before the first slice).</summary>
    private static byte[] ParameterSets(byte[] keyframe)
    {
        foreach (NalUnit nal in AnnexB.NalUnits(keyframe))
        {
            if (AnnexB.IsSlice(nal.Type) || nal.Type == AnnexB.Sei)
            {
                int start = nal.Offset - 3; // its start code, 3 bytes or 4
                return keyframe[..(start > 0 && keyframe[start - 1] == 0 ? start - 1 : start)];
            }
        }

        throw new InvalidOperationException("no slice");
    }

    /// <summary>The length of the leading SPS NAL unit with its start code.</summary>
    private static int SpsLength(byte[] keyframe)
    {
        foreach (NalUnit nal in AnnexB.NalUnits(keyframe))
        {
            if (nal.Type == AnnexB.Sps)
            {
                return nal.Offset + nal.Length;
            }
        }

        throw new InvalidOperationException("no SPS");
    }

    private static List<(byte[] Data, FrameFlags Flags)> RealFrames(int count, int width = 64, int height = 48)
    {
        using var encoder = new X264Encoder(new H264Options { KeyframeInterval = 100 });
        var units = new List<(byte[], FrameFlags)>();
        byte[] buffer = new byte[encoder.MaxEncodedSize(width, height)];
        for (int i = 0; i < count; i++)
        {
            using VideoFrame frame = TestFrames.Pattern(width, height, i);
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

        // A "keyframe" that is a P picture cannot start anyone's decoder: not without parameter sets, nor with them.
        await using RoomSession noSps = await PublisherAsync(scene, "NoSps");
        await SendAsync(noSps, real[1].Data, FrameFlags.Keyframe, 0);
        await RoomScene.ExpectErrorAsync(noSps, ErrorCode.BadFrame);
        await using RoomSession dressedUp = await PublisherAsync(scene, "DressedUp");
        await SendAsync(dressedUp, [.. ParameterSets(real[0].Data), .. real[1].Data], FrameFlags.Keyframe, 0);
        RemoteErrorException e2 = await RoomScene.ExpectErrorAsync(dressedUp, ErrorCode.BadFrame);
        Assert.Contains("not an IDR", e2.Reason, StringComparison.Ordinal);

        // A second SPS of another size, which the slices could refer to, is no way past the size check.
        await using RoomSession twoSizes = await PublisherAsync(scene, "TwoSizes");
        byte[] big = RealFrames(1, 128, 96)[0].Data;
        await SendAsync(twoSizes, [.. ParameterSets(big)[..SpsLength(big)], .. real[0].Data], FrameFlags.Keyframe, 0);
        RemoteErrorException e4 = await RoomScene.ExpectErrorAsync(twoSizes, ErrorCode.BadFrame);
        Assert.Contains("SPSs of different picture sizes", e4.Reason, StringComparison.Ordinal);

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
