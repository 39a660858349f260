using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web;

/// <summary>The HTTP endpoints against a real hub and a real Kestrel on 127.0.0.1:0.</summary>
[Collection(NetworkCollection.Name)]
public sealed class HttpServerTests
{
    [Fact]
    public async Task Stream_parts_are_whole_JPEGs_of_the_room_size_with_matching_Content_Length()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240);
        (HttpResponseMessage response, MultipartReader parts) = await server.OpenStreamAsync("/stream.mjpg");
        using (response)
        {
            using var timeout = new CancellationTokenSource(TestHub.Timeout);
            for (int i = 0; i < 10; i++)
            {
                (Dictionary<string, string> headers, byte[] jpeg) = await parts.ReadPartAsync(timeout.Token);
                Assert.Equal("image/jpeg", headers["Content-Type"]);
                Assert.True(headers.ContainsKey("X-Timestamp"));
                Assert.Equal([0xFF, 0xD8], jpeg[..2]);
                Assert.Equal([0xFF, 0xD9], jpeg[^2..]);
                Assert.True(JpegStructure.TryValidate(jpeg, out int width, out int height, out string? error), error);
                Assert.Equal((320, 240), (width, height));
            }
        }
    }

    [Fact]
    public async Task Each_frame_is_followed_by_the_boundary_before_any_next_frame_exists()
    {
        // A room with exactly one frame ever published: the reader must get that part's closing boundary with it
        // (browsers paint a part only once the next boundary arrives), not with a second frame that never comes.
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        Room room = server.Hub.Server.GetOrCreateRoom("still");
        try
        {
            using SharedFrameLease frame = await EncodeOneFrameAsync(200, 150);
            room.Publish(frame.Frame);
            (HttpResponseMessage response, MultipartReader parts) = await server.OpenStreamAsync("/rooms/still/stream.mjpg");
            using (response)
            {
                // A new client starts with the room's latest frame: the only one there is.
                using var timeout = new CancellationTokenSource(TestHub.Timeout);
                (_, byte[] jpeg) = await parts.ReadPartAsync(timeout.Token);
                Assert.True(JpegStructure.TryValidate(jpeg, out int width, out int height, out string? error), error);
                Assert.Equal((200, 150), (width, height));
            }
        }
        finally
        {
            server.Hub.Server.LeaveRoom(room);
        }
    }

    [Fact]
    public async Task A_client_that_reads_nothing_does_not_hold_up_another_and_its_drops_are_counted()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 640, height: 480);
        using Socket stalled = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(IPAddress.Loopback, server.Web.EndPoint.Port);
        await stalled.SendAsync(Encoding.ASCII.GetBytes("GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n\r\n"), SocketFlags.None);

        (HttpResponseMessage response, MultipartReader parts) = await server.OpenStreamAsync("/stream.mjpg");
        using (response)
        {
            using var timeout = new CancellationTokenSource(TestHub.Timeout);
            for (int i = 0; i < 60; i++)
            {
                await parts.ReadPartAsync(timeout.Token);
            }

            await Eventually.UntilAsync(
                async () =>
                {
                    JsonElement stats = await GetJsonAsync(server.Http, "/api/stats");
                    JsonElement[] mjpeg = [.. stats.GetProperty("clients").EnumerateArray().Where(c => c.GetProperty("kind").GetString() == "mjpeg")];
                    return mjpeg.Length == 2
                        && mjpeg.Any(c => c.GetProperty("framesDropped").GetInt64() > 0)
                        && mjpeg.Any(c => c.GetProperty("framesSent").GetInt64() >= 60);
                },
                "/api/stats shows the stalled client dropping frames and the other one receiving");
        }
    }

    [Fact]
    public async Task Snapshot_is_a_JPEG_of_the_room_size_and_wakes_a_paused_capture()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 352, height: 288);
        // Nobody watched yet, so the capture is paused and the room has no frame: the snapshot waits for one.
        foreach (string path in new[] { "/snapshot.jpg", "/rooms/main/snapshot.jpg" })
        {
            using HttpResponseMessage response = await server.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType!.MediaType);
            byte[] jpeg = await response.Content.ReadAsByteArrayAsync();
            Assert.True(JpegStructure.TryValidate(jpeg, out int width, out int height, out string? error), error);
            Assert.Equal((352, 288), (width, height));
        }
    }

    [Theory]
    [InlineData("/rooms/nosuch/stream.mjpg")]
    [InlineData("/rooms/nosuch/snapshot.jpg")]
    public async Task An_unknown_room_is_a_404_that_names_it(string path)
    {
        await using WebTestServer server = await WebTestServer.StartAsync();
        using HttpResponseMessage response = await server.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("unknown room 'nosuch'", body, StringComparison.Ordinal);
        Assert.Contains("'main'", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_token_every_endpoint_but_healthz_needs_it_in_the_query_or_a_bearer_header()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(token: "s3cret");
        foreach (string path in new[] { "/stream.mjpg", "/snapshot.jpg", "/api/rooms", "/api/stats", "/rooms/main/stream.mjpg", "/api/rooms?token=wrong" })
        {
            using HttpResponseMessage refused = await server.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            string text = await refused.Content.ReadAsStringAsync();
            Assert.Contains("?token=", text, StringComparison.Ordinal);
            Assert.Contains("Authorization: Bearer", text, StringComparison.Ordinal);
            Assert.Single(text.TrimEnd('\n').Split('\n'));
        }

        using (HttpResponseMessage health = await server.Http.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("ok", (await health.Content.ReadAsStringAsync()).Trim());
        }

        using (HttpResponseMessage query = await server.Http.GetAsync("/api/rooms?token=s3cret"))
        {
            Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/snapshot.jpg"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
            using HttpResponseMessage header = await server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, header.StatusCode);
        }

        (HttpResponseMessage stream, MultipartReader parts) = await server.OpenStreamAsync("/stream.mjpg?token=s3cret");
        using (stream)
        {
            using var timeout = new CancellationTokenSource(TestHub.Timeout);
            await parts.ReadPartAsync(timeout.Token);
        }
    }

    [Fact]
    public async Task Api_rooms_and_stats_describe_the_room_and_its_MJPEG_client()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240);
        (HttpResponseMessage response, MultipartReader parts) = await server.OpenStreamAsync("/stream.mjpg");
        using (response)
        {
            using var timeout = new CancellationTokenSource(TestHub.Timeout);
            for (int i = 0; i < 5; i++)
            {
                await parts.ReadPartAsync(timeout.Token);
            }

            JsonElement rooms = await GetJsonAsync(server.Http, "/api/rooms");
            JsonElement main = rooms.GetProperty("rooms").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "main");
            Assert.True(main.GetProperty("publisher").GetBoolean());
            Assert.True(main.GetProperty("signal").GetBoolean());
            Assert.True(main.GetProperty("framesPublished").GetInt64() >= 5);
            Assert.Equal(320, main.GetProperty("width").GetInt32());
            Assert.Equal(240, main.GetProperty("height").GetInt32());
            Assert.Equal("jpeg", main.GetProperty("codec").GetString());
            Assert.Equal(1, main.GetProperty("viewers").GetProperty("mjpeg").GetInt32());

            await Eventually.UntilAsync(
                async () =>
                {
                    JsonElement stats = await GetJsonAsync(server.Http, "/api/stats");
                    JsonElement client = stats.GetProperty("clients").EnumerateArray().Single(c => c.GetProperty("kind").GetString() == "mjpeg");
                    return client.GetProperty("room").GetString() == "main"
                        && client.GetProperty("remote").GetString()!.StartsWith("127.0.0.1:", StringComparison.Ordinal)
                        && client.GetProperty("framesSent").GetInt64() >= 5
                        && client.GetProperty("bytesSent").GetInt64() > 5 * 1000
                        && client.GetProperty("fps").GetDouble() > 0
                        && client.TryGetProperty("framesDropped", out _)
                        && client.TryGetProperty("latencyMs", out _);
                },
                "/api/stats lists the MJPEG client with its counters");
        }
    }

    internal static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using HttpResponseMessage response = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        using JsonDocument document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    private static async Task<SharedFrameLease> EncodeOneFrameAsync(int width, int height)
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        using VideoFrame picture = (await source.ReadFrameAsync(CancellationToken.None))!;
        return new SharedFrameLease(FrameEncoding.Encode(encoder, picture));
    }

    private sealed class SharedFrameLease(MediaFrame frame) : IDisposable
    {
        public MediaFrame Frame => frame;

        public void Dispose() => frame.Release();
    }
}
