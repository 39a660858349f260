namespace SocketCam.Auth;

/// <summary>
/// Who may do what, for every transport (TCP and Unix, UDP, HTTP and WebSockets): the one place a presented token is
/// judged (issue 16, docs/SECURITY.md). A hub without a shared token is open (everyone gets every grant: loopback-only
/// hubs and `serve --open`); with one, a peer presents either that token (every grant) or a signed room token made by
/// `socketcam token` with this hub's key (its identity, its room, its grants, until it expires).
/// </summary>
public sealed class AccessPolicy(string? sharedToken, RoomTokens? roomTokens)
{
    /// <summary>No checks at all.</summary>
    public static readonly AccessPolicy Open = new(null, null);

    /// <summary>True when a peer must present a token.</summary>
    public bool Required => !string.IsNullOrEmpty(sharedToken);

    /// <summary>
    /// Judges <paramref name="presented"/> for <paramref name="room"/> (null: the whole hub, which needs admin) and the
    /// <paramref name="needed"/> grants. The refusal is one line fit for the peer; it never repeats the token.
    /// </summary>
    public AccessDecision Check(string? presented, string? room, AccessGrants needed)
    {
        if (!Required)
        {
            return new AccessDecision(AccessGrants.All, null, null, false);
        }

        if (string.IsNullOrEmpty(presented))
        {
            return new AccessDecision(AccessGrants.None, null, "this hub needs a token: use the one serve printed (--token TOKEN, or #token= in a page's URL)", false);
        }

        if (TokenCheck.Matches(sharedToken, presented))
        {
            return new AccessDecision(AccessGrants.All, null, null, false);
        }

        if (roomTokens is null || !RoomTokens.LooksLikeOne(presented))
        {
            return new AccessDecision(AccessGrants.None, null, "wrong token", true);
        }

        RoomTokenClaims claims = roomTokens.Validate(presented);
        if (claims.Refusal is not null)
        {
            return new AccessDecision(AccessGrants.None, null, claims.Refusal, claims.Forged);
        }

        if (room is null)
        {
            needed |= AccessGrants.Admin;
        }
        else if (claims.Room != RoomTokens.AnyRoom && !claims.Grants.Covers(AccessGrants.Admin) && !string.Equals(claims.Room, room, StringComparison.Ordinal))
        {
            return new AccessDecision(AccessGrants.None, claims.Identity,
                $"the token is for room '{Protocol.PrintableText.Of(claims.Room!)}', not '{Protocol.PrintableText.Of(room)}'", false);
        }

        if (!claims.Grants.Covers(needed))
        {
            AccessGrants missing = needed & ~claims.Grants;
            return new AccessDecision(AccessGrants.None, claims.Identity,
                $"the token of '{Protocol.PrintableText.Of(claims.Identity!)}' does not grant {AccessGrantNames.Format(missing)} (it grants {AccessGrantNames.Format(claims.Grants)})", false);
        }

        return new AccessDecision(claims.Grants.Covers(AccessGrants.Admin) ? AccessGrants.All : claims.Grants, claims.Identity, null, false);
    }
}

/// <summary>
/// The answer to one presented token: the grants it carries and the identity it names (null for a shared token or an
/// open hub), or <see cref="Refusal"/>. <see cref="Guess"/>: a refusal that counts toward the address's failed-attempts
/// throttle (a wrong or forged token, not an expired one or a missing grant).
/// </summary>
public readonly record struct AccessDecision(AccessGrants Grants, string? Identity, string? Refusal, bool Guess)
{
    /// <summary>True when the peer may go on.</summary>
    public bool Allowed => Refusal is null;
}
