using SocketCam.Auth;
using Xunit;

namespace SocketCam.Tests.Auth;

/// <summary>The one judge of presented tokens (issue 16): shared secret, signed room tokens, their refusals.</summary>
public sealed class AccessPolicyTests
{
    private static readonly RoomTokens Tokens = new(RoomTokens.NewKey());
    private static readonly AccessPolicy Policy = new("s3cret", Tokens);

    private static string Make(string room = "team", AccessGrants grants = AccessGrants.Subscribe | AccessGrants.Chat, string who = "alice", RoomTokens? by = null, TimeSpan? life = null) =>
        (by ?? Tokens).Create(who, room, grants, DateTimeOffset.UtcNow + (life ?? TimeSpan.FromHours(1)));

    [Fact]
    public void A_hub_without_a_shared_token_is_open_and_ignores_what_is_presented()
    {
        AccessDecision open = new AccessPolicy(null, Tokens).Check("anything", "team", AccessGrants.Publish);
        Assert.True(open.Allowed);
        Assert.Equal(AccessGrants.All, open.Grants);
        Assert.Null(open.Identity);
    }

    [Fact]
    public void The_shared_token_grants_everything_and_a_wrong_or_missing_one_is_refused()
    {
        Assert.Equal(AccessGrants.All, Policy.Check("s3cret", null, AccessGrants.Admin).Grants);
        AccessDecision wrong = Policy.Check("s3creT", "team", AccessGrants.Subscribe);
        Assert.Equal("wrong token", wrong.Refusal);
        Assert.True(wrong.Guess);
        AccessDecision none = Policy.Check(null, "team", AccessGrants.Subscribe);
        Assert.StartsWith("this hub needs a token", none.Refusal, StringComparison.Ordinal);
        Assert.False(none.Guess);
    }

    [Fact]
    public void A_room_token_names_its_holder_and_grants_what_it_says_in_its_room()
    {
        AccessDecision ok = Policy.Check(Make(), "team", AccessGrants.Subscribe);
        Assert.True(ok.Allowed, ok.Refusal);
        Assert.Equal("alice", ok.Identity);
        Assert.Equal(AccessGrants.Subscribe | AccessGrants.Chat, ok.Grants);
        Assert.True(Policy.Check(Make(room: RoomTokens.AnyRoom), "elsewhere", AccessGrants.Subscribe).Allowed);
    }

    [Fact]
    public void Expired_forged_wrong_room_and_missing_grant_tokens_are_each_refused_with_the_reason()
    {
        AccessDecision expired = Policy.Check(Make(life: TimeSpan.FromMinutes(-5)), "team", AccessGrants.Subscribe);
        Assert.StartsWith("the token expired at ", expired.Refusal, StringComparison.Ordinal);
        Assert.False(expired.Guess);

        // Within the 60 s of clock skew it still counts.
        Assert.True(Policy.Check(Make(life: TimeSpan.FromSeconds(-20)), "team", AccessGrants.Subscribe).Allowed);

        AccessDecision forged = Policy.Check(Make(by: new RoomTokens(RoomTokens.NewKey())), "team", AccessGrants.Subscribe);
        Assert.StartsWith("the token's signature does not match this hub's key", forged.Refusal, StringComparison.Ordinal);
        Assert.True(forged.Guess);

        // A real token with its payload edited (room "team" → "boss"): the signature no longer matches.
        string[] parts = Make().Split('.');
        string payload = System.Text.Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(parts[1]));
        string edited = $"{parts[0]}.{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(payload.Replace("\"team\"", "\"boss\"", StringComparison.Ordinal))}.{parts[2]}";
        Assert.StartsWith("the token's signature does not match", Policy.Check(edited, "boss", AccessGrants.Subscribe).Refusal, StringComparison.Ordinal);

        AccessDecision room = Policy.Check(Make(), "other", AccessGrants.Subscribe);
        Assert.Equal("the token is for room 'team', not 'other'", room.Refusal);
        Assert.False(room.Guess);

        AccessDecision grant = Policy.Check(Make(), "team", AccessGrants.Publish);
        Assert.Equal("the token of 'alice' does not grant publish (it grants subscribe,chat)", grant.Refusal);

        // The hub-wide endpoints (room list, stats, metrics) need admin.
        Assert.Contains("does not grant admin", Policy.Check(Make(room: RoomTokens.AnyRoom), null, AccessGrants.None).Refusal, StringComparison.Ordinal);
        Assert.True(Policy.Check(Make(grants: AccessGrants.Admin), null, AccessGrants.None).Allowed);
    }

    [Fact]
    public void Grants_are_written_and_read_as_words_and_an_unknown_one_is_named()
    {
        Assert.Equal(AccessGrants.Publish | AccessGrants.Chat, AccessGrantNames.Parse("publish, chat"));
        Assert.Equal("publish,subscribe,chat", AccessGrantNames.Format(AccessGrants.Publish | AccessGrants.Subscribe | AccessGrants.Chat));
        ArgumentException unknown = Assert.Throws<ArgumentException>(() => AccessGrantNames.Parse("publish,fly"));
        Assert.Contains("'fly'", unknown.Message, StringComparison.Ordinal);
        Assert.True(AccessGrants.Admin.Covers(AccessGrants.Publish | AccessGrants.Create));
    }

    [Fact]
    public void A_typical_token_fits_the_255_bytes_of_a_v1_hello()
    {
        Assert.True(Make(room: "main", grants: AccessGrants.Publish | AccessGrants.Subscribe | AccessGrants.Chat).Length <= global::SocketCam.Protocol.ProtocolConstants.MaxTokenLength);
    }

    [Fact]
    public void Key_and_access_token_files_are_made_once_readable_by_the_owner_only_and_reused()
    {
        string directory = Directory.CreateTempSubdirectory("socketcam-secrets-").FullName;
        try
        {
            string keyPath = Path.Combine(directory, SecretFile.KeyFileName);
            byte[] key = SecretFile.LoadOrCreateKey(keyPath);
            Assert.Equal(key, SecretFile.LoadOrCreateKey(keyPath));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            }

            string tokenPath = Path.Combine(directory, SecretFile.AccessTokenFileName);
            string token = SecretFile.LoadOrCreateAccessToken(tokenPath);
            Assert.Equal(22, token.Length);
            Assert.Equal(token, SecretFile.LoadOrCreateAccessToken(tokenPath));
            File.WriteAllText(Path.Combine(directory, "short.key"), Convert.ToBase64String(new byte[8]));
            IOException bad = Assert.Throws<IOException>(() => SecretFile.LoadKey(Path.Combine(directory, "short.key")));
            Assert.Contains("at least 32 bytes", bad.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
