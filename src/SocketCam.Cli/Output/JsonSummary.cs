using System.Text;
using System.Text.Json;
using SocketCam.Cli.Commands;
using SocketCam.Client;
using SocketCam.Diagnostics;
using SocketCam.Display;
using SocketCam.Recording;

namespace SocketCam.Cli.Output;

/// <summary>The one-line JSON summaries of view, demo and bench (written with Utf8JsonWriter: no reflection).</summary>
internal static class JsonSummary
{
    public static string Viewer(ViewerStats stats, RecordingSink? recording = null, DisplayStats? display = null) => Write(w =>
    {
        WriteViewer(w, stats);
        if (recording is not null)
        {
            WriteRecording(w, recording);
        }

        if (display is not null)
        {
            WriteDisplay(w, display);
        }
    });

    /// <summary>
    /// "display": {"renderer", "frames" (shown), "fps", "dropped" (never shown), "latency_ms" (presented time minus capture
    /// time on the hub's clock)}.
    /// </summary>
    public static void WriteDisplay(Utf8JsonWriter w, DisplayStats display)
    {
        w.WriteStartObject("display");
        w.WriteString("renderer", display.Renderer);
        w.WriteNumber("frames", display.FramesShown);
        w.WriteNumber("fps", Math.Round(display.Fps, 2));
        w.WriteNumber("dropped", display.Dropped);
        WriteLatency(w, display.Latency);
        w.WriteEndObject();
    }

    /// <summary>"recorded": {"file", "frames", "bytes", "skipped" (not valid JPEGs), "stalled_ms" (input held back), "error"}.</summary>
    public static void WriteRecording(Utf8JsonWriter w, RecordingSink recording)
    {
        w.WriteStartObject("recorded");
        w.WriteString("file", recording.Name);
        w.WriteNumber("frames", recording.FramesRecorded);
        w.WriteNumber("audio_packets", recording.AudioPacketsRecorded);
        w.WriteNumber("bytes", recording.BytesRecorded);
        w.WriteNumber("skipped", recording.FramesSkipped);
        w.WriteNumber("stalled_ms", Math.Round(recording.Queue.Stalled.TotalMilliseconds, 1));
        w.WriteString("error", recording.Failure?.Message);
        w.WriteEndObject();
    }

    public static void WriteViewer(Utf8JsonWriter w, ViewerStats stats)
    {
        w.WriteNumber("frames", stats.Frames);
        w.WriteNumber("fps", Math.Round(stats.Fps, 2));
        w.WriteNumber("bytes", stats.Bytes);
        w.WriteNumber("width", stats.Width);
        w.WriteNumber("height", stats.Height);
        w.WriteString("codec", stats.Codec is { } c ? CommonOptions.CodecName(c) : null);
        w.WriteNumber("dropped", stats.Dropped);
        if (stats.MeasuresLatency || stats.Frames == 0)
        {
            WriteLatency(w, stats.Latency);
        }
        else
        {
            w.WriteNull("latency_ms"); // seed+tcp:// frames carry no capture time
        }

        w.WriteNumber("no_signal_events", stats.NoSignalEvents);
        w.WriteNumber("corrupt", stats.Corrupt); // added after the first keys: scripts reading them by position keep working
        // Freezes: pauses between shown frames over 100 ms, summed; shown_pct: frames shown of the publisher's frames
        // between the first and the last shown (by sequence).
        w.WriteNumber("freeze_ms", Math.Round(stats.FreezeTime.TotalMilliseconds, 1));
        w.WriteNumber("freezes", stats.Freezes);
        w.WriteNumber("longest_freeze_ms", Math.Round(stats.LongestFreeze.TotalMilliseconds, 1));
        w.WriteNumber("shown_pct", stats.SequenceSpan == 0 ? 0 : Math.Round(100.0 * stats.Frames / stats.SequenceSpan, 2));
        w.WriteNumber("waiting_for_keyframe", stats.WaitingForKeyframe);
        if (stats.Link is { } link)
        {
            WriteLink(w, link);
        }
    }

    /// <summary>UDP: "loss_pct" (fragments lost before recovery), "recovered" (rebuilt or resent), "frames_lost" (dropped incomplete), and details.</summary>
    public static void WriteLink(Utf8JsonWriter w, Udp.UdpLinkStats link)
    {
        w.WriteNumber("loss_pct", Math.Round(link.LossPercent, 3));
        w.WriteNumber("recovered", link.Recovered);
        w.WriteNumber("frames_lost", link.FramesLost);
        w.WriteStartObject("udp");
        w.WriteNumber("fragments_expected", link.FragmentsExpected);
        w.WriteNumber("fragments_lost", link.FragmentsLost);
        w.WriteNumber("rebuilt_from_parity", link.RebuiltFromParity);
        w.WriteNumber("frames_completed", link.FramesCompleted);
        w.WriteNumber("datagrams_dropped", link.DatagramsDropped);
        w.WriteEndObject();
    }

    public static void WriteLatency(Utf8JsonWriter w, LatencySummary latency)
    {
        w.WriteStartObject("latency_ms");
        w.WriteNumber("p50", Math.Round(latency.P50, 3));
        w.WriteNumber("p99", Math.Round(latency.P99, 3));
        w.WriteNumber("max", Math.Round(latency.Max, 3));
        w.WriteEndObject();
    }

    public static string Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
