using SocketCam.Auth;
using SocketCam.Client;
using SocketCam.Hub;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Tests.Rooms;
using SocketCam.Tests.Support;
using SocketCam.Tests.Web;
using Xunit;

namespace SocketCam.Tests.Auth;

/// <summary>
/// Scoped tokens and room limits on a real hub over real sockets (issue 16): each refusal says why, is counted, and the
/// rest of the hub keeps serving (a publisher and a bystander stream throughout).
/// </summary>
public sealed class AccessHubTests : IDisposable
{
    private static readonly RoomTokens Tokens = new(RoomTokens.NewKey());
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-access-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static HubOptions Options(RoomLimits? rooms = null, IReadOnlyList<string>? fixedRooms = null, int maxRooms = 100) => new()
    {
        Sessions = new SessionOptions { Token = "s3cret", RoomTokens = Tokens },
        Rooms = rooms ?? new RoomLimits(),
        FixedRooms = fixedRooms,
        MaxRooms = maxRooms,
    };

    private static string Token(string who, AccessGrants grants, string room = "call", TimeSpan? life = null) =>
        Tokens.Create(who, room, grants, DateTimeOffset.UtcNow + (life ?? TimeSpan.FromHours(1)));

    private static Task<RoomClient> ConnectAsync(TestHub hub, string token, string name = "Mallory", string room = "call") =>
        RoomClient.ConnectAsync(hub.Endpoint, new ClientOptions { Room = room, Token = token, Agent = "tests" }, name, hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout);

    [Fact]
    public async Task A_room_token_names_the_participant_and_its_grants_become_its_permissions()
    {
        await using RoomScene scene = await RoomScene.StartAsync(Options() with { Chat = new SocketCam.Chat.ChatOptions { Directory = _directory } });
        await using RoomSession viewer = await RoomSession.JoinAsync(scene.Hub, "Mallory", token: Token("carol", AccessGrants.Subscribe), chat: new ChatChannel());

        // The hub uses the token's identity, not the name the peer picked, and says what it may do.
        Assert.Equal("carol", (await scene.ArrivalOfAsync(viewer.Id)).Participant.Name);
        Assert.DoesNotContain(scene.Bystander.Events.OfType<ParticipantJoinedEvent>(), e => e.Participant.Name == "Mallory");
        Assert.Equal(ProtocolV2.PermissionSubscribe, viewer.Client.Welcome.Permissions);

        // What it may not do is refused as a RESULT with the reason; the session goes on and still watches.
        ResultMessage publish = await viewer.PublishJpegAsync(1);
        Assert.Equal(ErrorCode.NotAllowed, publish.Code);
        Assert.Equal("Your token does not grant publish.", publish.Text);
        ResultMessage chat = await viewer.Client.SendChatAsync("hello", CancellationToken.None).WaitAsync(TestHub.Timeout);
        Assert.Equal(ErrorCode.NotAllowed, chat.Code);
        Assert.Equal(ErrorCode.Normal, (await viewer.Client.SubscribeAsync(scene.Publisher.Id, 1, CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
        await viewer.WaitForFramesAsync(scene.Publisher.Id, 1, 3);
        Assert.Equal(1, scene.Hub.Server.Guards.Refusals[Refusal.NotGranted]);
        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task Expired_forged_wrong_room_and_missing_grant_tokens_are_refused_with_the_reason_and_the_room_goes_on()
    {
        await using RoomScene scene = await RoomScene.StartAsync(Options());
        (string Token, string Reason)[] cases =
        [
            (Token("eve", AccessGrants.Publish, life: TimeSpan.FromMinutes(-10)), "the token expired at "),
            (new RoomTokens(RoomTokens.NewKey()).Create("eve", "call", AccessGrants.All, DateTimeOffset.UtcNow.AddHours(1)), "the token's signature does not match this hub's key"),
            (Token("eve", AccessGrants.Publish, room: "other"), "the token is for room 'other', not 'call'"),
            (Token("eve", AccessGrants.None | AccessGrants.Create), "the token grants nothing in a room"),
        ];
        foreach ((string token, string reason) in cases)
        {
            Exception error = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(scene.Hub, token));
            Assert.Contains(reason, error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(token, error.Message, StringComparison.Ordinal);
        }

        // A hidden watcher needs subscribe: a chat-only token cannot watch unseen.
        RemoteErrorException hidden = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            RoomClient.ConnectAsync(scene.Hub.Endpoint, new ClientOptions { Room = "call", Token = Token("eve", AccessGrants.Chat), Agent = "tests" }, "eve", hidden: true, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Contains("does not grant subscribe", hidden.Message, StringComparison.Ordinal);

        await scene.AssertBystanderKeepsReceivingAsync();
        Assert.DoesNotContain(scene.Bystander.Events.OfType<ParticipantJoinedEvent>(), e => e.Participant.Name == "eve");
    }

    [Fact]
    public async Task Each_room_limit_is_reached_refused_with_a_reason_counted_and_the_rest_of_the_hub_keeps_serving()
    {
        await using RoomScene scene = await RoomScene.StartAsync(Options(new RoomLimits { MaxParticipants = 3, MaxTracks = 1 }, fixedRooms: ["call", "team"], maxRooms: 2));
        RefusalCounters refusals = scene.Hub.Server.Guards.Refusals;

        // Participants per room: the publisher and the bystander are two of three.
        await using RoomSession third = await scene.JoinAsync("Third");
        RemoteErrorException full = await Assert.ThrowsAsync<RemoteErrorException>(() => ConnectAsync(scene.Hub, "s3cret", "Fourth"));
        Assert.Equal(ErrorCode.RoomFull, full.Code);
        Assert.Equal(1, refusals[Refusal.RoomFull]);

        // Tracks per participant.
        ResultMessage second = await scene.Publisher.PublishJpegAsync(2, "second");
        Assert.Equal(ErrorCode.TooManyTracks, second.Code);
        Assert.Equal(1, refusals[Refusal.TrackLimit]);

        // --rooms: a room not listed needs the create grant; a listed one opens for a plain token.
        RemoteErrorException notListed = await Assert.ThrowsAsync<RemoteErrorException>(() => ConnectAsync(scene.Hub, Token("dan", AccessGrants.Subscribe | AccessGrants.Publish, room: "side"), room: "side"));
        Assert.Equal(ErrorCode.NotAllowed, notListed.Code);
        Assert.Contains("not one of this hub's rooms (call, team)", notListed.Message, StringComparison.Ordinal);
        await using RoomSession team = await RoomSession.JoinAsync(scene.Hub, "x", room: "team", token: Token("dan", AccessGrants.Subscribe, room: "team"));

        // --max-rooms 2 (call and team are open): even the create grant cannot open a third.
        RemoteErrorException tooMany = await Assert.ThrowsAsync<RemoteErrorException>(() => ConnectAsync(scene.Hub, Token("dan", AccessGrants.Subscribe | AccessGrants.Create, room: "side"), room: "side"));
        Assert.Contains("2 rooms open, its limit", tooMany.Message, StringComparison.Ordinal);
        Assert.Equal(2, refusals[Refusal.RoomLimit]);

        await scene.AssertBystanderKeepsReceivingAsync();
    }

    [Fact]
    public async Task Http_checks_room_tokens_by_route_and_metrics_count_the_refusals()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(token: "s3cret", hubOptions: Options(), web: o => o with { RoomTokens = Tokens });
        string watcher = Token("carol", AccessGrants.Subscribe, room: "main");

        using (HttpResponseMessage snapshot = await server.Http.GetAsync($"/rooms/main/snapshot.jpg?token={watcher}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, snapshot.StatusCode);
        }

        using (HttpResponseMessage other = await server.Http.GetAsync($"/rooms/other/snapshot.jpg?token={watcher}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, other.StatusCode);
            Assert.StartsWith("unauthorized: the token is for room 'main', not 'other'", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (HttpResponseMessage stats = await server.Http.GetAsync($"/api/stats?token={watcher}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, stats.StatusCode);
            Assert.Contains("does not grant admin", await stats.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        string metrics = await server.Http.GetStringAsync($"/metrics?token={Token("ops", AccessGrants.Admin, room: RoomTokens.AnyRoom)}");
        Assert.Contains("socketcam_refusals_total{reason=\"unauthorized\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("socketcam_refusals_total{reason=\"room_full\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("socketcam_refusals_total{reason=\"room_limit\"} 0", metrics, StringComparison.Ordinal);
    }
}
