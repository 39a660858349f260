using System.Buffers;
using System.Net.WebSockets;
using SocketCam.Chat;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Rooms;
using SocketCam.Tests.Support;
using Xunit;

namespace SocketCam.Tests.Web;

/// <summary>Protocol v2 over a WebSocket (`/v2/ws`, docs/PROTOCOL.md §4.16): the call page's transport, tested with a real ClientWebSocket.</summary>
[Collection(NetworkCollection.Name)]
public sealed class ParticipantWebSocketTests : IDisposable
{
    private static readonly List<byte[]> Jpegs = TestMedia.EncodePattern(64, 48, 4);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-v2ws-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private Task<WebTestServer> StartAsync() =>
        WebTestServer.StartAsync(captureRoom: null, hubOptions: new HubOptions { Chat = new ChatOptions { Directory = _directory } });

    [Fact]
    public async Task A_WebSocket_participant_and_a_TCP_participant_see_each_other_exchange_frames_and_chat()
    {
        await using WebTestServer server = await StartAsync();
        await using RoomSession tcp = await RoomSession.JoinAsync(server.Hub, "Tcp", chat: new SocketCam.Client.ChatChannel());
        await tcp.PublishJpegAsync(1);
        Assert.Equal(ErrorCode.Normal, (await tcp.Client.SubscribeAsync(ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, CancellationToken.None)).Code);

        await using V2WebSocket ws = await V2WebSocket.ConnectAsync(server.WebSocketUri("/v2/ws"));
        await ws.SendAsync(MessageWriterV2.Join(new JoinMessage(ProtocolV2.FeatureChat, false, "call", "Browser", "", "tests")));
        (MessageType type, byte[] payload) = await ws.ReceiveAsync();
        Assert.Equal(MessageType.Welcome, type);
        WelcomeV2Message welcome = MessageParserV2.ParseWelcome(payload);
        Assert.NotNull(welcome.Chat);
        Assert.Equal(server.Hub.Server.Chat!.StoreId, welcome.Chat.Store);

        // The snapshot names the TCP participant and its track; the history (empty) follows.
        (type, payload) = await ws.ReceiveAsync();
        var snapshot = (RoomSnapshotChunk)MessageParserV2.ParseEvent((byte)type, payload);
        Assert.Contains(snapshot.Participants, p => p.Name == "Tcp");
        Assert.Single(snapshot.Tracks);
        (type, payload) = await ws.ReceiveAsync();
        Assert.Equal(MessageType.ChatHistory, type);
        Assert.True(MessageParserV2.ParseChatHistory(payload).Last);

        // The TCP side sees a websocket participant.
        await Eventually.UntilAsync(() => tcp.Client.Room.Participants.Any(p => p.Name == "Browser" && p.Transport == ParticipantTransport.WebSocket), "the browser participant");

        // Publish, send a frame; subscribe and receive the TCP participant's frame; chat.
        await ws.SendAsync(MessageWriterV2.Publish(1, new TrackDescription(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "cam", 64, 48, 30000)));
        await ws.SendAsync(MessageWriterV2.Subscribe(MessageType.Subscribe, new SubscribeMessage(2, ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, 0, 0xFF)));
        await ws.SendAsync(MessageWriterV2.ChatSend(new ChatSendMessage(3, 77, "hello over a WebSocket")));
        byte[] frame = new byte[ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize + Jpegs[0].Length];
        MessageWriterV2.WriteFrameHeader(frame, 0, 1, FrameInfo.Video(CodecId.Jpeg, 64, 48, 1, SocketCam.Diagnostics.Clock.NowMicros()), Jpegs[0].Length);
        Jpegs[0].CopyTo(frame, ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize);

        var results = new Dictionary<uint, ResultMessage>();
        byte[]? received = null;
        bool sentFrame = false;
        int tcpFrame = 0;
        using var deadline = new CancellationTokenSource(TestHub.Timeout);
        while (results.Count < 3 || received is null)
        {
            if (results.ContainsKey(1) && !sentFrame)
            {
                await ws.SendAsync(frame);
                sentFrame = true;
            }

            if (results.ContainsKey(2))
            {
                await tcp.SendJpegAsync(1, Jpegs[tcpFrame % Jpegs.Count], tcpFrame++);
            }

            (type, payload) = await ws.ReceiveAsync(deadline.Token);
            if (type == MessageType.Result)
            {
                ResultMessage r = MessageParserV2.ParseResult(payload);
                results[r.RequestId] = r;
            }
            else if (type == MessageType.Frame)
            {
                received = payload[ProtocolV2.FrameHeaderSize..];
            }
        }

        Assert.All(results.Values, r => Assert.Equal(ErrorCode.Normal, r.Code));
        Assert.Equal(1UL, results[3].ChatSeq);
        Assert.Contains(received, Jpegs);
        await tcp.WaitForFramesAsync(welcome.ParticipantId, 1, 1);
        Assert.Equal(Jpegs[0], tcp.FramesOf(welcome.ParticipantId, 1)[0].Data);
        await tcp.WaitForChatAsync(1);
        Assert.Equal(("Browser", "hello over a WebSocket"), (tcp.ChatShown[0].Name, tcp.ChatShown[0].Text));

        // GOODBYE: the TCP side sees the track go and the participant leave; the browser gets a proper close (1000), not a reset.
        await ws.SendAsync(MessageWriterV2.Close(MessageType.Goodbye, ErrorCode.Normal, "bye"));
        await Eventually.UntilAsync(() => tcp.Client.Room.Participants.All(p => p.Name != "Browser"), "the browser participant leaves");
        IOException closed = await Assert.ThrowsAsync<IOException>(async () =>
        {
            while (true)
            {
                await ws.ReceiveAsync();
            }
        });
        Assert.Contains("NormalClosure", closed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_subprotocol_the_request_is_refused_and_a_text_message_ends_only_that_session()
    {
        await using WebTestServer server = await StartAsync();
        HttpResponseMessage plain = await server.Http.GetAsync("/v2/ws");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Contains("socketcam.v2", await plain.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await using RoomSession tcp = await RoomSession.JoinAsync(server.Hub, "Tcp");
        await using V2WebSocket ws = await V2WebSocket.ConnectAsync(server.WebSocketUri("/v2/ws"));
        await ws.SendAsync(MessageWriterV2.Join(new JoinMessage(0, false, "call", "Browser", "", "tests")));
        Assert.Equal(MessageType.Welcome, (await ws.ReceiveAsync()).Type);
        await ws.Socket.SendAsync("{\"hello\":1}"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        (MessageType type, byte[] payload) = await ws.ReceiveUntilAsync(MessageType.Error);
        Assert.Equal(ErrorCode.Malformed, MessageParser.ParseClose(new ReadOnlySequence<byte>(payload)).Code);
        await Eventually.UntilAsync(() => tcp.Client.Room.Participants.All(p => p.Name != "Browser"), "the browser participant is gone");
        Assert.False(tcp.Receive.IsCompleted);
    }

    [Fact]
    public async Task The_messages_API_pages_through_a_rooms_stored_chat_as_JSON_text()
    {
        await using WebTestServer server = await StartAsync();
        await using RoomSession alice = await RoomSession.JoinAsync(server.Hub, "<b>Alice</b>", chat: new SocketCam.Client.ChatChannel());
        string[] texts = ["<script>alert(1)</script>", "two\nlines", "three", "quatre \"4\""];
        foreach (string text in texts)
        {
            Assert.Equal(ErrorCode.Normal, (await alice.Client.SendChatAsync(text, CancellationToken.None)).Code);
        }

        using System.Text.Json.JsonDocument first = System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("/api/rooms/call/messages?after=0&limit=3"));
        System.Text.Json.JsonElement root = first.RootElement;
        Assert.Equal(4UL, root.GetProperty("last").GetUInt64());
        Assert.Equal(3UL, root.GetProperty("next").GetUInt64());
        Assert.Equal(texts[..3], root.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString()));
        Assert.All(root.GetProperty("messages").EnumerateArray(), m => Assert.Equal("<b>Alice</b>", m.GetProperty("name").GetString()));

        using System.Text.Json.JsonDocument rest = System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("/api/rooms/call/messages?after=3"));
        Assert.Equal([4UL], rest.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("seq").GetUInt64()));
        string raw = await server.Http.GetStringAsync("/api/rooms/call/messages");
        Assert.DoesNotContain("<script>", raw, StringComparison.Ordinal); // JSON-escaped: never markup, even to a careless reader

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await server.Http.GetAsync("/api/rooms/call/messages?after=-1")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await server.Http.GetAsync("/api/rooms/call/messages?limit=1001")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await server.Http.GetAsync("/api/rooms/bad%20name/messages")).StatusCode);
        using System.Text.Json.JsonDocument empty = System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("/api/rooms/nobody/messages"));
        Assert.Empty(empty.RootElement.GetProperty("messages").EnumerateArray());
    }

    /// <summary>A raw v2 client over a WebSocket: whole v2 messages, one per binary WebSocket message.</summary>
    private sealed class V2WebSocket : IAsyncDisposable
    {
        private V2WebSocket(ClientWebSocket socket) => Socket = socket;

        public ClientWebSocket Socket { get; }

        public static async Task<V2WebSocket> ConnectAsync(Uri uri)
        {
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol("socketcam.v2");
            await socket.ConnectAsync(uri, CancellationToken.None).WaitAsync(TestHub.Timeout);
            Assert.Equal("socketcam.v2", socket.SubProtocol);
            return new V2WebSocket(socket);
        }

        public Task SendAsync(byte[] message) => Socket.SendAsync(message, WebSocketMessageType.Binary, true, CancellationToken.None).WaitAsync(TestHub.Timeout);

        public async Task<(MessageType Type, byte[] Payload)> ReceiveAsync(CancellationToken cancellationToken = default)
        {
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[64 * 1024];
            while (true)
            {
                WebSocketReceiveResult result = await Socket.ReceiveAsync(chunk, cancellationToken).WaitAsync(TestHub.Timeout, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new IOException($"closed: {result.CloseStatus} {result.CloseStatusDescription}");
                }

                buffer.Write(chunk, 0, result.Count);
                if (result.EndOfMessage)
                {
                    break;
                }
            }

            byte[] message = buffer.ToArray();
            Assert.True(message.Length >= ProtocolConstants.MessageHeaderSize);
            Assert.Equal(message.Length - ProtocolConstants.MessageHeaderSize, (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(message.AsSpan(4)));
            return ((MessageType)message[0], message[ProtocolConstants.MessageHeaderSize..]);
        }

        public async Task<(MessageType Type, byte[] Payload)> ReceiveUntilAsync(MessageType wanted)
        {
            while (true)
            {
                (MessageType type, byte[] payload) = await ReceiveAsync();
                if (type == wanted)
                {
                    return (type, payload);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            Socket.Abort();
            Socket.Dispose();
            await Task.CompletedTask;
        }
    }
}
