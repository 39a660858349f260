namespace SocketCam.Auth;

/// <summary>What a token lets its holder do (issue 16). A shared `--token` and an open hub grant <see cref="All"/>.</summary>
[Flags]
public enum AccessGrants
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Watch a room's tracks (view, snapshot, watch pages, /stream.mjpg, chat history over HTTP).</summary>
    Subscribe = 1,

    /// <summary>Publish tracks into a room.</summary>
    Publish = 2,

    /// <summary>Send chat messages.</summary>
    Chat = 4,

    /// <summary>Open a room that does not exist yet when serve limits rooms (`--rooms`).</summary>
    Create = 8,

    /// <summary>The whole hub: every room, every grant, the room list, /api/stats and /metrics.</summary>
    Admin = 16,

    /// <summary>Everything.</summary>
    All = Subscribe | Publish | Chat | Create | Admin,
}

/// <summary>Grants as the words of `socketcam token --grants` and of a token's <c>grants</c> claim.</summary>
public static class AccessGrantNames
{
    private static readonly (AccessGrants Grant, string Name)[] Names =
    [
        (AccessGrants.Publish, "publish"), (AccessGrants.Subscribe, "subscribe"), (AccessGrants.Chat, "chat"), (AccessGrants.Create, "create"), (AccessGrants.Admin, "admin"),
    ];

    /// <summary>The words every grant is written as.</summary>
    public static IEnumerable<string> All => Names.Select(n => n.Name);

    /// <summary>True when <paramref name="held"/> includes all of <paramref name="needed"/> (admin includes everything).</summary>
    public static bool Covers(this AccessGrants held, AccessGrants needed) => (held & AccessGrants.Admin) != 0 || (held & needed) == needed;

    /// <summary>"publish,subscribe,chat" → flags; an unknown word is an <see cref="ArgumentException"/> naming the known ones.</summary>
    public static AccessGrants Parse(string text)
    {
        AccessGrants grants = AccessGrants.None;
        foreach (string word in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            (AccessGrants grant, string? name) = Names.FirstOrDefault(n => string.Equals(n.Name, word, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                throw new ArgumentException($"unknown grant '{Protocol.PrintableText.Of(word)}': use {string.Join(", ", All)}");
            }

            grants |= grant;
        }

        return grants;
    }

    /// <summary>Flags → "publish,subscribe,chat" (in a fixed order).</summary>
    public static string Format(AccessGrants grants) =>
        grants == AccessGrants.None ? "none" : string.Join(',', Names.Where(n => (grants & n.Grant) != 0).Select(n => n.Name));
}
