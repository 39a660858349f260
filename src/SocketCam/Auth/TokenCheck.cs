using System.Security.Cryptography;
using System.Text;

namespace SocketCam.Auth;

/// <summary>The one check of a presented token against `serve --token`, for every transport (TCP and Unix, UDP, HTTP).</summary>
public static class TokenCheck
{
    /// <summary>
    /// True when the server has no token, or <paramref name="presented"/> is it. Compares SHA-256 digests in constant time,
    /// so neither the content nor the length of the secret shows in the timing.
    /// </summary>
    public static bool Matches(string? expected, string? presented) =>
        string.IsNullOrEmpty(expected)
        || CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented ?? "")), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
