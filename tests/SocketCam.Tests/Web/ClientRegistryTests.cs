using System.Text.Json;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Tests.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web;

/// <summary>`/api/rooms` (v1 seat, v1 viewers, v2 participants and tracks) and `/api/stats` (the hub's one client registry, typed kinds).</summary>
public sealed class ClientRegistryTests
{
    [Fact]
    public async Task Api_rooms_lists_a_v2_participant_with_its_track_and_counts_the_v1_viewers()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using RoomSession alice = await RoomSession.JoinAsync(server.Hub, "Alice", room: "call");
        Assert.Equal(ErrorCode.Normal, (await alice.PublishJpegAsync(3, "camera", 64, 48)).Code);
        await using TestViewer viewer = TestViewer.Start(server.Hub.Endpoint, room: "call");

        JsonElement call = default;
        await Eventually.UntilAsync(
            async () =>
            {
                JsonElement rooms = await HttpServerTests.GetJsonAsync(server.Http, "/api/rooms");
                call = rooms.GetProperty("rooms").EnumerateArray().SingleOrDefault(r => r.GetProperty("name").GetString() == "call");
                return call.ValueKind == JsonValueKind.Object
                    && call.GetProperty("viewers").TryGetProperty("native", out JsonElement native) && native.GetInt32() == 1;
            },
            "/api/rooms counts the v1 viewer");

        // The v1 viewer watches unlisted, like a hidden v2 participant.
        Assert.Equal(1, call.GetProperty("hiddenWatchers").GetInt32());
        JsonElement participant = Assert.Single(call.GetProperty("participants").EnumerateArray());
        Assert.Equal(alice.Id, participant.GetProperty("id").GetUInt32());
        Assert.Equal("Alice", participant.GetProperty("name").GetString());
        Assert.Equal("tcp", participant.GetProperty("transport").GetString());
        Assert.InRange(DateTimeOffset.UtcNow - participant.GetProperty("joinedAt").GetDateTimeOffset(), TimeSpan.FromSeconds(-5), TestHub.Timeout);

        JsonElement track = Assert.Single(call.GetProperty("tracks").EnumerateArray());
        Assert.Equal(alice.Id, track.GetProperty("participant").GetUInt32());
        Assert.Equal(3, track.GetProperty("id").GetInt32());
        Assert.Equal("video", track.GetProperty("kind").GetString());
        Assert.Equal("jpeg", track.GetProperty("codec").GetString());
        Assert.Equal("camera", track.GetProperty("name").GetString());
        Assert.Equal((64, 48), (track.GetProperty("width").GetInt32(), track.GetProperty("height").GetInt32()));
        Assert.Equal("live", track.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Api_stats_lists_every_transports_clients_by_kind_and_publishers_by_what_they_sent_us()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 160, height: 120);
        await using TestViewer native = TestViewer.Start(server.Hub.Endpoint);
        await using RoomSession participant = await RoomSession.JoinAsync(server.Hub, "Alice", room: "call");
        Assert.Equal(ErrorCode.Normal, (await participant.PublishJpegAsync(1)).Code);
        for (int i = 0; i < 3; i++)
        {
            await participant.SendJpegAsync(1, Rooms.RoomScene.Jpegs[i], i);
        }

        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new PublisherClient(server.Hub.Endpoint, new ClientOptions { Room = "pub", Reconnect = false, Agent = "test publisher" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        (HttpResponseMessage response, MultipartReader parts) = await server.OpenStreamAsync("/stream.mjpg");
        try
        {
            using (response)
            {
                using var timeout = new CancellationTokenSource(TestHub.Timeout);
                await parts.ReadPartAsync(timeout.Token);
                await native.WaitForFramesAsync(3);

                JsonElement[] clients = [];
                await Eventually.UntilAsync(
                    async () =>
                    {
                        clients = [.. (await HttpServerTests.GetJsonAsync(server.Http, "/api/stats")).GetProperty("clients").EnumerateArray()];
                        return clients.Any(c => Kind(c) == "publisher" && c.GetProperty("framesReceived").GetInt64() >= 3)
                            && clients.Any(c => Kind(c) == "participant" && c.GetProperty("framesReceived").GetInt64() == 3)
                            && clients.Any(c => Kind(c) == "viewer" && c.GetProperty("framesSent").GetInt64() >= 3);
                    },
                    "/api/stats shows the publisher's frames and the viewer's");

                Assert.Equal(["mjpeg", "participant", "publisher", "viewer"], clients.Select(Kind).Order(StringComparer.Ordinal));
                JsonElement pub = clients.Single(c => Kind(c) == "publisher");
                Assert.Equal("pub", pub.GetProperty("room").GetString());
                Assert.True(pub.GetProperty("bytesReceived").GetInt64() > 3 * 100, pub.ToString());
                Assert.Equal(0, pub.GetProperty("bytesSent").GetInt64()); // what it sent us is not what we sent it
                Assert.Equal(0, pub.GetProperty("framesSent").GetInt64());
                JsonElement viewer = clients.Single(c => Kind(c) == "viewer");
                Assert.Equal("main", viewer.GetProperty("room").GetString());
                Assert.True(viewer.GetProperty("bytesSent").GetInt64() > 3 * 100, viewer.ToString());
                Assert.False(viewer.TryGetProperty("bytesReceived", out _));
                Assert.True(viewer.TryGetProperty("latencyMs", out _));
                JsonElement alice = clients.Single(c => Kind(c) == "participant");
                Assert.Equal("call", alice.GetProperty("room").GetString());
                // A v2 participant both publishes and watches: what it sent us is counted apart from what we send it.
                long jpegBytes = Rooms.RoomScene.Jpegs.Take(3).Sum(j => (long)j.Length);
                Assert.Equal(jpegBytes, alice.GetProperty("bytesReceived").GetInt64());
            }

            // A client that leaves leaves the registry.
            await Eventually.UntilAsync(
                async () => !(await HttpServerTests.GetJsonAsync(server.Http, "/api/stats")).GetProperty("clients").EnumerateArray().Any(c => Kind(c) == "mjpeg"),
                "the MJPEG client is gone from /api/stats");
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.WaitAsync(TestHub.Timeout);
        }
    }

    private static string? Kind(JsonElement client) => client.GetProperty("kind").GetString();
}
