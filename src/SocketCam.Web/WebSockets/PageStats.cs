using System.Text.Json;

namespace SocketCam.Web.WebSockets;

/// <summary>What a watch page measured itself (capture → drawn on its canvas), from its `stats` messages; for /api/stats.</summary>
internal sealed record PageStats(double Fps, double LatencyMs, double LatencyP99Ms, long FramesDrawn, long FramesDropped, int Width, int Height)
{
    /// <summary>Reads a `stats` message; absent or non-finite numbers become 0 (a page's numbers are shown, never trusted).</summary>
    public static PageStats From(JsonElement message) => new(
        Number(message, "fps"),
        Number(message, "latencyMs"),
        Number(message, "latencyP99Ms"),
        (long)Number(message, "framesDrawn"),
        (long)Number(message, "framesDropped"),
        (int)Number(message, "width"),
        (int)Number(message, "height"));

    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject("page");
        json.WriteNumber("fps", Math.Round(Fps, 1));
        json.WriteNumber("latencyMs", Math.Round(LatencyMs, 1));
        json.WriteNumber("latencyP99Ms", Math.Round(LatencyP99Ms, 1));
        json.WriteNumber("framesDrawn", FramesDrawn);
        json.WriteNumber("framesDropped", FramesDropped);
        json.WriteNumber("width", Width);
        json.WriteNumber("height", Height);
        json.WriteEndObject();
    }

    private static double Number(JsonElement message, string name) =>
        message.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number
            && value.TryGetDouble(out double number) && double.IsFinite(number)
            ? Math.Clamp(number, 0, 1e12)
            : 0;
}
