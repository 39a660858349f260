using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace SocketCam.Web;

/// <summary>
/// The pages and their scripts and styles, embedded in this assembly (wwwroot/, logical names "wwwroot/..."): nothing
/// from a CDN, so the pages work offline. Loaded once; served with an ETag so a reload costs a 304.
/// </summary>
internal sealed class PageAssets
{
    private const string Prefix = "wwwroot/";

    private readonly FrozenDictionary<string, Asset> _assets;

    private PageAssets(FrozenDictionary<string, Asset> assets) => _assets = assets;

    public static PageAssets Load()
    {
        Assembly assembly = typeof(PageAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();
            string etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 8))}\"";
            assets[name[Prefix.Length..]] = new Asset(bytes, ContentType(name), etag);
        }

        return new PageAssets(assets.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Writes the asset at <paramref name="path"/> (e.g. "watch.html", "assets/watch.js"), or 404.</summary>
    public Task ServeAsync(HttpContext context, string path)
    {
        HttpResponse response = context.Response;
        if (!_assets.TryGetValue(path, out Asset? asset))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            return response.WriteAsync($"not found: /{path}\n", context.RequestAborted);
        }

        response.Headers.CacheControl = "no-cache";
        response.Headers.ETag = asset.ETag;
        response.Headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        return response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".ico" => "image/x-icon",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
