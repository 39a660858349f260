using System.Net;
using SocketCam.Auth;
using SocketCam.Web.Hosting;

namespace SocketCam.Cli.Commands;

/// <summary>
/// Who may use what `serve` starts (issue 16, docs/SECURITY.md): secure by default like Jupyter. A hub that listens on
/// any address other than loopback asks for a token it makes up (kept in the data directory, so a page's URL and a
/// restart agree) and prints inside every URL and command; `--token` picks it, `--open` asks for none. Signed room tokens
/// (`socketcam token`) are checked with the data directory's key or `--token-key`.
/// </summary>
internal sealed record ServeAccess(string? Token, bool Generated, bool Open, RoomTokens? RoomTokens, string? TokenFile)
{
    /// <summary>
    /// What the banner shows where a token goes, or null: the token itself, made up or given with --token (the user typed it
    /// on this very terminal), so every printed URL and command can be pasted as is.
    /// </summary>
    public string? Shown => Token;

    public static ServeAccess Decide(HostOptions options, string? token, bool open, string? dataDirectory, string? tokenKeyFile)
    {
        if (open && token is not null)
        {
            throw new ArgumentException("--open and --token contradict each other: --open asks for no token; give one of them.");
        }

        RoomTokens? roomTokens = tokenKeyFile is not null ? new RoomTokens(SecretFile.LoadKey(tokenKeyFile))
            : dataDirectory is not null ? new RoomTokens(SecretFile.LoadOrCreateKey(Path.Combine(dataDirectory, SecretFile.KeyFileName)))
            : null;
        if (token is not null || open || !ListensBeyondLoopback(options))
        {
            return new ServeAccess(token, false, open, roomTokens, null);
        }

        if (dataDirectory is null)
        {
            // Nowhere to keep it: a new one each run.
            return new ServeAccess(Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(), true, false, roomTokens, null);
        }

        string file = Path.Combine(dataDirectory, SecretFile.AccessTokenFileName);
        return new ServeAccess(SecretFile.LoadOrCreateAccessToken(file), true, false, roomTokens, Path.GetFullPath(file));
    }

    /// <summary>True when any network listener takes connections from beyond this machine (0.0.0.0 included).</summary>
    internal static bool ListensBeyondLoopback(HostOptions options)
    {
        IEnumerable<IPEndPoint?> endpoints = [options.Tcp?.EndPoint, options.Udp?.EndPoint, options.Http?.EndPoint, options.Http?.Https?.EndPoint, options.Seed?.EndPoint];
        return endpoints.Any(e => e is not null && !IPAddress.IsLoopback(e.Address));
    }
}
