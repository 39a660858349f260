using System.Collections.Concurrent;
using SocketCam.Client;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Rooms;

/// <summary>A v2 participant for tests: a <see cref="RoomClient"/> whose receive loop runs, recording frames and events.</summary>
internal sealed class RoomSession : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<ReceivedCopy> _frames = new();
    private readonly ConcurrentQueue<RoomEvent> _events = new();
    private readonly ConcurrentQueue<KeyframeRequestMessage> _keyframeRequests = new();

    private readonly ConcurrentQueue<ChatMessage> _chat = new();

    private RoomSession(RoomClient client, ChatChannel? chat)
    {
        Client = client;
        Chat = chat;
        if (chat is not null)
        {
            chat.Shown = _chat.Enqueue;
        }

        client.FrameReceived = f =>
        {
            _frames.Enqueue(new ReceivedCopy(f.ParticipantId, f.TrackId, f.Info, System.Buffers.BuffersExtensions.ToArray(f.Data)));
            return ValueTask.CompletedTask;
        };
        client.EventReceived = _events.Enqueue;
        client.KeyframeRequested = _keyframeRequests.Enqueue;
        Receive = Task.Run(() => client.ReceiveAsync(FrameLimits.DefaultMaxFrameBytes, _stop.Token));
    }

    public RoomClient Client { get; }

    /// <summary>The receive loop: faults with the hub's ERROR (<see cref="RemoteErrorException"/>), completes on GOODBYE.</summary>
    public Task Receive { get; }

    public uint Id => Client.ParticipantId;

    public IReadOnlyList<ReceivedCopy> Frames => [.. _frames];

    public IReadOnlyList<RoomEvent> Events => [.. _events];

    public IReadOnlyList<KeyframeRequestMessage> KeyframeRequests => [.. _keyframeRequests];

    /// <summary>The chat channel this session joined with (null: it did not announce chat).</summary>
    public ChatChannel? Chat { get; }

    /// <summary>Chat messages shown, in the order the channel showed them.</summary>
    public IReadOnlyList<ChatMessage> ChatShown => [.. _chat];

    /// <remarks>
    /// The handshake gets the tests' timeout, not the product's 5 s: on this shared 2-core machine a full run's load
    /// stretched a loopback handshake past 5 s, and a test must not assert wall-clock time.
    /// </remarks>
    public static async Task<RoomSession> JoinAsync(TestHub hub, string name, string room = "call", bool hidden = false, string? token = null, ChatChannel? chat = null)
    {
        RoomClient client = await RoomClient.ConnectAsync(hub.Endpoint, new ClientOptions { Room = room, Token = token, Agent = "tests", ConnectTimeout = TestHub.Timeout }, name, hidden, CancellationToken.None, chat);
        var session = new RoomSession(client, chat);
        await client.SnapshotReceived.WaitAsync(TestHub.Timeout);
        return session;
    }

    public async Task WaitForChatAsync(int count)
    {
        await Eventually.UntilAsync(() => _chat.Count >= count, $"{count} chat messages shown to {Client.ParticipantId}", TestHub.Timeout);
    }

    public IReadOnlyList<ReceivedCopy> FramesOf(uint participantId, ushort trackId) =>
        [.. _frames.Where(f => f.ParticipantId == participantId && f.TrackId == trackId)];

    public async Task WaitForFramesAsync(uint participantId, ushort trackId, int count)
    {
        await Eventually.UntilAsync(() => FramesOf(participantId, trackId).Count >= count, $"{count} frames of {participantId}/{trackId}", TestHub.Timeout);
    }

    public async Task<ResultMessage> PublishJpegAsync(ushort trackId, string name = "camera", int width = 64, int height = 48)
    {
        return await Client.PublishAsync(new TrackDescription(trackId, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, name, (ushort)width, (ushort)height, 30000), CancellationToken.None).WaitAsync(TestHub.Timeout);
    }

    public ValueTask SendJpegAsync(ushort trackId, byte[] jpeg, long sequence, int width = 64, int height = 48) =>
        Client.SendFrameAsync(trackId, FrameInfo.Video(CodecId.Jpeg, width, height, sequence, SocketCam.Diagnostics.Clock.NowMicros()), jpeg, CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Receive.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            // Ended by the test (cancelled) or by the hub: whatever the test wanted to see, it has checked.
        }

        await Client.DisposeAsync();
        _stop.Dispose();
    }
}

internal sealed record ReceivedCopy(uint ParticipantId, ushort TrackId, FrameInfo Info, byte[] Data);
