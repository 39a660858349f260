using Microsoft.AspNetCore.Http;

namespace SocketCam.Web;

/// <summary>
/// Which pages may open the WebSockets: the server's own (the Origin's scheme://host:port equals the request's own
/// scheme and Host), those listed with `serve --allow-origin`, any with "*". A request without Origin is not from a page
/// (python clients, curl) and is allowed; the literal "null" (sandboxed frames, file://) is a page of no site, refused.
/// </summary>
internal sealed class OriginPolicy
{
    private readonly HashSet<string> _allowed = new(StringComparer.Ordinal);
    private readonly bool _any;

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
        return normalized is not null && (normalized == Normalize(self) || _allowed.Contains(normalized));
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
