using System.Security.Cryptography;

using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SocketCam.Auth;

/// <summary>
/// Signed, scoped tokens (issue 16): HMAC-SHA256 JWTs like LiveKit's, made and checked by Microsoft.IdentityModel's
/// JsonWebTokenHandler. Claims: <c>iss</c> "socketcam", <c>sub</c> the identity (the participant's name), <c>room</c> (or
/// "*" for every room), <c>grants</c> ("publish,subscribe,chat"), <c>exp</c>. Kept small on purpose: a v1 HELLO carries at
/// most 255 bytes of token (docs/SECURITY.md).
/// </summary>
public sealed class RoomTokens
{
    /// <summary>The <c>iss</c> of every token.</summary>
    public const string Issuer = "socketcam";

    /// <summary>The <c>room</c> of a token good for every room.</summary>
    public const string AnyRoom = "*";

    /// <summary>The smallest key accepted: 256 bits, the size of the HMAC-SHA256 output.</summary>
    public const int MinKeyBytes = 32;

    /// <summary>How far clocks may disagree about <c>exp</c>.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);

    private readonly SymmetricSecurityKey _key;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false, MaximumTokenSizeInBytes = Protocol.ProtocolV2.MaxTokenLength };
    private readonly TokenValidationParameters _validation;

    /// <summary>Tokens signed and checked with <paramref name="key"/> (at least <see cref="MinKeyBytes"/> bytes).</summary>
    public RoomTokens(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < MinKeyBytes)
        {
            throw new ArgumentException($"a token key needs at least {MinKeyBytes} bytes; this one has {key.Length}", nameof(key));
        }

        _key = new SymmetricSecurityKey(key) { KeyId = null };
        _validation = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidateAudience = false,
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ClockSkew = ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
        };
    }

    /// <summary>A new random key, for a key file.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(MinKeyBytes);

    /// <summary>A signed token for <paramref name="identity"/> in <paramref name="room"/> ("*": every room) until <paramref name="expires"/>.</summary>
    public string Create(string identity, string room, AccessGrants grants, DateTimeOffset expires) =>
        _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Expires = expires.UtcDateTime,
            Claims = new Dictionary<string, object>
            {
                ["sub"] = identity,
                ["room"] = room,
                ["grants"] = AccessGrantNames.Format(grants),
            },
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        });

    /// <summary>True when <paramref name="token"/> has a JWT's shape (three dot-separated parts): it is checked here, not as a shared secret.</summary>
    public static bool LooksLikeOne(string token) => token.Count(c => c == '.') == 2;

    /// <summary>Checks signature, issuer and expiry (±<see cref="ClockSkew"/>); the claims, or why not, in one line for the peer.</summary>
    public RoomTokenClaims Validate(string token)
    {
        // The handler has nothing to fetch (the key is here, no metadata endpoint): its task is complete when returned.
        TokenValidationResult result = _handler.ValidateTokenAsync(token, _validation).GetAwaiter().GetResult();
        if (!result.IsValid)
        {
            return result.Exception switch
            {
                SecurityTokenExpiredException expired => RoomTokenClaims.Refused($"the token expired at {expired.Expires:yyyy-MM-dd HH:mm:ss} UTC; ask for a new one", forged: false),
                SecurityTokenNotYetValidException early => RoomTokenClaims.Refused($"the token is not valid before {early.NotBefore:yyyy-MM-dd HH:mm:ss} UTC", forged: false),
                SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException =>
                    RoomTokenClaims.Refused("the token's signature does not match this hub's key (forged, or made for another hub)", forged: true),
                SecurityTokenNoExpirationException => RoomTokenClaims.Refused("the token has no expiry (exp)", forged: true),
                SecurityTokenInvalidIssuerException => RoomTokenClaims.Refused("the token was not issued by a SocketCam hub", forged: true),
                _ => RoomTokenClaims.Refused("the token is not a valid signed token", forged: true),
            };
        }

        string? identity = result.Claims.TryGetValue("sub", out object? sub) ? sub as string : null;
        string? room = result.Claims.TryGetValue("room", out object? r) ? r as string : null;
        string? grants = result.Claims.TryGetValue("grants", out object? g) ? g as string : null;
        if (string.IsNullOrEmpty(identity) || string.IsNullOrEmpty(room) || grants is null)
        {
            return RoomTokenClaims.Refused("the token lacks sub, room or grants", forged: true);
        }

        try
        {
            return new RoomTokenClaims(identity, room, AccessGrantNames.Parse(grants), null, false);
        }
        catch (ArgumentException)
        {
            return RoomTokenClaims.Refused("the token names a grant this hub does not know", forged: false);
        }
    }
}

/// <summary>A checked token's claims, or <see cref="Refusal"/> (<see cref="Forged"/> when it counts as a guess).</summary>
public readonly record struct RoomTokenClaims(string? Identity, string? Room, AccessGrants Grants, string? Refusal, bool Forged)
{
    internal static RoomTokenClaims Refused(string why, bool forged) => new(null, null, AccessGrants.None, why, forged);
}
