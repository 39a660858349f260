using System.Buffers;
using System.Text.Json;
using SocketCam.Diagnostics;

namespace SocketCam.Web.WebSockets;

/// <summary>The JSON text messages of the watch and publish WebSockets (docs/HTTP.md, "WebSockets").</summary>
internal static class ClientMessages
{
    /// <summary>Cap on one text message from a client; larger ones close the socket with 1009.</summary>
    public const int MaxTextBytes = 4096;

    /// <summary>What a client's text message asked for.</summary>
    public enum Kind
    {
        Unknown,
        Ping,
        Stats,
    }

    /// <summary>Parses a client text message; anything that is not a JSON object with a known "type" is <see cref="Kind.Unknown"/>.</summary>
    public static Kind Parse(ReadOnlySpan<byte> utf8, out JsonElement message)
    {
        message = default;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 4 });
            if (!JsonElement.TryParseValue(ref reader, out JsonElement? parsed) || parsed is not { ValueKind: JsonValueKind.Object } element
                || !element.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String)
            {
                return Kind.Unknown;
            }

            message = element;
            return type.GetString() switch
            {
                "ping" => Kind.Ping,
                "stats" => Kind.Stats,
                _ => Kind.Unknown,
            };
        }
        catch (JsonException)
        {
            return Kind.Unknown;
        }
    }

    /// <summary>The pong for a ping: echoes its "t" (a number, else 0) with the server's clock.</summary>
    public static byte[] Pong(JsonElement ping)
    {
        double t = ping.TryGetProperty("t", out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && double.IsFinite(d) ? d : 0;
        return Write(json =>
        {
            json.WriteString("type", "pong");
            json.WriteNumber("t", t);
            json.WriteNumber("serverTime", Clock.NowMicros());
        });
    }

    public static byte[] Signal(bool live, string reason) => Write(json =>
    {
        json.WriteString("type", "signal");
        json.WriteBoolean("live", live);
        if (!live)
        {
            json.WriteString("reason", reason);
        }
    });

    public static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
