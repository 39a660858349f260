using Microsoft.AspNetCore.Http;

namespace SocketCam.Web;

/// <summary>
/// Which pages may open the WebSockets: the server's own (the Origin's scheme://host:port equals the request's own
/// scheme and Host), those listed with `serve --allow-origin`, any with "*". A request without Origin is not from a page
/// (python clients, curl) and is allowed; the literal "null" (sandboxed frames, file://) is a page of no site, refused.
/// "Own" also needs the name the page was opened by to be one of this machine's: an IP address, localhost or its host
/// name. Otherwise a page of evil.example whose name was re-pointed at this server (DNS rebinding) would send
/// Origin = Host = evil.example and pass as the server's own; such a name must be listed with --allow-origin.
/// </summary>
internal sealed class OriginPolicy
{
    private readonly HashSet<string> _allowed = new(StringComparer.Ordinal);
    private readonly bool _any;
    private readonly string _hostName = SafeHostName();

    public OriginPolicy(IEnumerable<string> allowed)
    {
        foreach (string origin in allowed)
        {
            if (origin.Trim() == "*")
            {
                _any = true;
            }
            else
            {
                _allowed.Add(Normalize(origin) ?? throw new ArgumentException(
                    $"--allow-origin '{origin}': an origin is scheme://host[:port], e.g. http://localhost:3000 (or * for any site)."));
            }
        }
    }

    /// <summary>Checks each of <paramref name="origins"/> (an origin or "*"); throws the one-line ArgumentException for the first that is neither.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<string> origins)
    {
        _ = new OriginPolicy(origins);
        return origins;
    }

    /// <summary>Whether the request's page may use the WebSocket; otherwise the origin seen and the server's own, for the refusal.</summary>
    public bool Allows(HttpRequest request, out string origin, out string self)
    {
        origin = request.Headers.Origin.ToString();
        self = $"{request.Scheme}://{request.Host.Value}";
        if (origin.Length == 0 || _any)
        {
            return true;
        }

        string? normalized = Normalize(origin);
        return normalized is not null
            && ((normalized == Normalize(self) && IsOwnName(request.Host.Host)) || _allowed.Contains(normalized));
    }

    /// <summary>An IP literal, localhost (or a name under it), or this machine's host name (with or without a domain).</summary>
    private bool IsOwnName(string host)
    {
        host = host.TrimEnd('.');
        if (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out _)
            || host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return _hostName.Length > 0
            && (host.Equals(_hostName, StringComparison.OrdinalIgnoreCase)
                || host.StartsWith(_hostName + ".", StringComparison.OrdinalIgnoreCase));
    }

    private static string SafeHostName()
    {
        try
        {
            return System.Net.Dns.GetHostName().Split('.')[0];
        }
        catch (System.Net.Sockets.SocketException)
        {
            return "";
        }
    }

    /// <summary>"scheme://host:port" in lower case with the port spelled out, or null for anything that is not an origin.</summary>
    internal static string? Normalize(string origin)
    {
        if (!Uri.TryCreate(origin.Trim(), UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https" or "ws" or "wss")
            || uri.AbsolutePath is not ("/" or "") || uri.Query.Length > 0 || uri.UserInfo.Length > 0 || uri.Host.Length == 0)
        {
            return null;
        }

        return $"{uri.Scheme}://{uri.Host.ToLowerInvariant()}:{uri.Port}";
    }
}
