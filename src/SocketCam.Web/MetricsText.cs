using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;

namespace SocketCam.Web;

/// <summary>Process and limit figures shared by `/metrics` and `/api/stats`.</summary>
internal readonly record struct MemoryFigures(long WorkingSetBytes, long GcHeapBytes, long GcCommittedBytes, long FramesInFlightBytes, long ReassemblyBytes)
{
    public static MemoryFigures Now(ServerGuards guards) => new(
        Environment.WorkingSet,
        GC.GetTotalMemory(false),
        GC.GetGCMemoryInfo().TotalCommittedBytes,
        guards.FramesInFlight.InUse,
        guards.Reassembly.InUse);
}

/// <summary>
/// `GET /metrics`: Prometheus text exposition format 0.0.4, written by hand (no client library): connections by kind,
/// refusals by reason, the byte budgets, process memory and recording bytes, all prefixed `socketcam_`.
/// </summary>
internal static class MetricsText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";


    public static async Task WriteAsync(HttpContext context, HttpServer server, HubServer hub)
    {
        string text = Build(server, hub);
        context.Response.ContentType = ContentType;
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(text, context.RequestAborted);
    }

    internal static string Build(HttpServer server, HubServer hub)
    {
        // Every kind is listed (at 0 when none is connected), so a series does not vanish between scrapes.
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (ClientKind kind in Enum.GetValues<ClientKind>())
        {
            kinds[ClientKinds.Label(kind)] = 0;
        }

        foreach (IClientStats client in server.AllClients())
        {
            kinds[ClientKinds.Label(client.Kind)]++;
        }

        kinds["http"] = server.ConnectionCount;

        var text = new StringBuilder(4096);
        Header(text, "socketcam_connections", "gauge", "Clients connected now, by kind (http: open HTTP connections, whatever they carry).");
        foreach ((string kind, int count) in kinds)
        {
            Sample(text, "socketcam_connections", "kind", kind, count);
        }

        ServerGuards guards = hub.Guards;
        Header(text, "socketcam_refusals_total", "counter", "Peers refused or ended by a limit since the server started, by reason.");
        foreach (Refusal reason in Enum.GetValues<Refusal>())
        {
            Sample(text, "socketcam_refusals_total", "reason", RefusalCounters.Label(reason), guards.Refusals[reason]);
        }

        MemoryFigures memory = MemoryFigures.Now(guards);
        Gauge(text, "socketcam_frames_in_flight_bytes", "Bytes of frames still arriving from publishers (TCP, Unix, WebSocket), held against the budget.", memory.FramesInFlightBytes);
        Gauge(text, "socketcam_frames_in_flight_limit_bytes", "The budget for frames still arriving.", guards.FramesInFlight.Total);
        Gauge(text, "socketcam_reassembly_bytes", "Bytes of UDP frames being reassembled, held against the budget.", memory.ReassemblyBytes);
        Gauge(text, "socketcam_reassembly_limit_bytes", "The budget for UDP frames being reassembled.", guards.Reassembly.Total);
        Gauge(text, "socketcam_process_working_set_bytes", "The process's resident memory.", memory.WorkingSetBytes);
        Gauge(text, "socketcam_gc_heap_bytes", "Bytes allocated on the managed heap now.", memory.GcHeapBytes);
        Gauge(text, "socketcam_gc_committed_bytes", "Bytes the garbage collector has committed (as of its last collection).", memory.GcCommittedBytes);
        if (server.Options.RecordingBytes is { } recording)
        {
            Gauge(text, "socketcam_recording_bytes", "Bytes the room recorders hold on disk.", recording());
        }

        Gauge(text, "socketcam_rooms", "Rooms now.", hub.Rooms.Count());
        Header(text, "socketcam_frames_published_total", "counter", "Frames published into every room since the server started.");
        text.Append("socketcam_frames_published_total ").Append(hub.FramesPublished.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return text.ToString();
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Gauge(StringBuilder text, string name, string help, long value)
    {
        Header(text, name, "gauge", help);
        text.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void Sample(StringBuilder text, string name, string label, string value, long count) =>
        text.Append(name).Append('{').Append(label).Append("=\"").Append(Escape(value)).Append("\"} ").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');

    /// <summary>Label values escape backslash, double quote and newline (the format's rule).</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
