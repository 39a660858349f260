using System.Buffers.Binary;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Rooms;

/// <summary>
/// The room every bad-input test misbehaves in: a hub, a publisher streaming a JPEG track (track 1, paced like a camera)
/// and a bystander subscribed to it. Whatever an offender does, the bystander must keep receiving that track, and an
/// offender whose session ends must be announced to it with the reason.
/// </summary>
internal sealed class RoomScene : IAsyncDisposable
{
    public static readonly List<byte[]> Jpegs = TestMedia.EncodePattern(64, 48, 4);

    private readonly CancellationTokenSource _stop = new();
    private readonly string? _token;
    private Task _pump = Task.CompletedTask;

    private RoomScene(TestHub hub, string? token)
    {
        Hub = hub;
        _token = token;
    }

    public TestHub Hub { get; }

    public RoomSession Publisher { get; private set; } = null!;

    public RoomSession Bystander { get; private set; } = null!;

    /// <summary>Frames of the publisher's track 1 the bystander has received so far.</summary>
    public int BystanderFrames => Bystander.FramesOf(Publisher.Id, 1).Count;

    public static async Task<RoomScene> StartAsync(HubOptions? options = null)
    {
        var scene = new RoomScene(TestHub.Start(options, captureRoom: null), options?.Sessions.Token);
        try
        {
            scene.Publisher = await RoomSession.JoinAsync(scene.Hub, "Publisher", token: scene._token);
            scene.Bystander = await RoomSession.JoinAsync(scene.Hub, "Bystander", token: scene._token);
            Assert.Equal(ErrorCode.Normal, (await scene.Publisher.PublishJpegAsync(1)).Code);
            Assert.Equal(ErrorCode.Normal, (await scene.Bystander.Client.SubscribeAsync(scene.Publisher.Id, 1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
            scene._pump = scene.PumpAsync(scene._stop.Token);
            await Eventually.UntilAsync(() => scene.BystanderFrames >= 3, "the bystander receives the publisher's track");
            return scene;
        }
        catch
        {
            await scene.DisposeAsync();
            throw;
        }
    }

    /// <summary>Joins another participant (the offender) to the scene's room.</summary>
    public Task<RoomSession> JoinAsync(string name) => RoomSession.JoinAsync(Hub, name, token: _token);

    /// <summary>After an offence: the bystander's frame count keeps growing and neither it nor the publisher was disconnected.</summary>
    public async Task AssertBystanderKeepsReceivingAsync()
    {
        int before = BystanderFrames;
        await Eventually.UntilAsync(() => BystanderFrames >= before + 5, $"5 more frames for the bystander (had {before})");
        Assert.False(Bystander.Receive.IsCompleted, "the bystander's session ended");
        Assert.False(Publisher.Receive.IsCompleted, "the publisher's session ended");
    }

    /// <summary>Waits until the bystander heard that <paramref name="participantId"/> joined, and returns that event.</summary>
    public async Task<ParticipantJoinedEvent> ArrivalOfAsync(uint participantId)
    {
        await Eventually.UntilAsync(() => Bystander.Events.OfType<ParticipantJoinedEvent>().Any(e => e.Participant.ParticipantId == participantId), $"participant {participantId}'s arrival");
        return Bystander.Events.OfType<ParticipantJoinedEvent>().Single(e => e.Participant.ParticipantId == participantId);
    }

    /// <summary>Waits until the bystander heard that <paramref name="participantId"/> left, and returns that event.</summary>
    public async Task<ParticipantLeftEvent> DepartureOfAsync(uint participantId)
    {
        await Eventually.UntilAsync(() => Bystander.Events.OfType<ParticipantLeftEvent>().Any(e => e.ParticipantId == participantId), $"participant {participantId}'s departure");
        return Bystander.Events.OfType<ParticipantLeftEvent>().Single(e => e.ParticipantId == participantId);
    }

    /// <summary>The offender's receive loop ends with the hub's ERROR, whose code must be <paramref name="code"/>.</summary>
    public static async Task<RemoteErrorException> ExpectErrorAsync(RoomSession offender, ErrorCode code)
    {
        RemoteErrorException error = await Assert.ThrowsAsync<RemoteErrorException>(() => offender.Receive.WaitAsync(TestHub.Timeout));
        Assert.Equal(code, error.Code);
        return error;
    }

    /// <summary>Sends JPEG frames on track 1 every 20 ms until the scene ends.</summary>
    private async Task PumpAsync(CancellationToken stop)
    {
        try
        {
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                await Publisher.SendJpegAsync(1, Jpegs[(int)(i % Jpegs.Count)], i);
                await Task.Delay(20, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _pump.WaitAsync(TestHub.Timeout);
        }
        finally
        {
            if (Bystander is not null)
            {
                await Bystander.DisposeAsync();
            }

            if (Publisher is not null)
            {
                await Publisher.DisposeAsync();
            }

            await Hub.DisposeAsync();
            _stop.Dispose();
        }
    }
}

/// <summary>v2 messages built by hand (docs/PROTOCOL.md §4.2, §4.6), for what a correct client never sends.</summary>
internal static class RawV2
{
    /// <summary>An 8-byte message header announcing <paramref name="length"/> payload bytes (nothing follows it).</summary>
    public static byte[] Header(byte type, uint length)
    {
        byte[] header = new byte[ProtocolConstants.MessageHeaderSize];
        header[0] = type;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), length);
        return header;
    }

    public static byte[] Message(byte type, ReadOnlySpan<byte> payload)
    {
        byte[] message = new byte[ProtocolConstants.MessageHeaderSize + payload.Length];
        Header(type, (uint)payload.Length).CopyTo(message, 0);
        payload.CopyTo(message.AsSpan(ProtocolConstants.MessageHeaderSize));
        return message;
    }

    /// <summary>A whole FRAME: header (with any participant id) and data.</summary>
    public static byte[] Frame(uint participantId, ushort trackId, in FrameInfo info, ReadOnlySpan<byte> data)
    {
        byte[] message = new byte[ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize + data.Length];
        MessageWriterV2.WriteFrameHeader(message, participantId, trackId, info, data.Length);
        data.CopyTo(message.AsSpan(ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize));
        return message;
    }

    /// <summary>A valid JPEG of at least <paramref name="minBytes"/>: <paramref name="jpeg"/> with COM segments inserted after its SOI.</summary>
    public static byte[] PaddedJpeg(byte[] jpeg, int minBytes)
    {
        const int Segment = 65535; // the largest segment length (it counts its own 2 bytes)
        int segments = Math.Max(0, (minBytes - jpeg.Length + Segment + 1) / (Segment + 2));
        byte[] padded = new byte[jpeg.Length + (segments * (Segment + 2))];
        padded[0] = 0xFF;
        padded[1] = 0xD8;
        int at = 2;
        for (int i = 0; i < segments; i++)
        {
            padded[at] = 0xFF;
            padded[at + 1] = 0xFE;
            BinaryPrimitives.WriteUInt16BigEndian(padded.AsSpan(at + 2), Segment);
            padded.AsSpan(at + 4, Segment - 2).Fill((byte)'x');
            at += Segment + 2;
        }

        jpeg.AsSpan(2).CopyTo(padded.AsSpan(at));
        return padded;
    }
}
