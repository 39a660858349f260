using System.Globalization;
using System.Text;
using System.Text.Json;
using SocketCam.Cli.Commands;
using SocketCam.Sniff;

namespace SocketCam.Cli.Output;

/// <summary>
/// What `socketcam sniff` prints: on a terminal a table redrawn every interval; with --json one line per interval (the
/// last with "final": true); otherwise (a pipe or file without --json) the table once, at the end. Peers' text (rooms,
/// names, error texts) arrives already made printable by the dissectors.
/// </summary>
internal sealed class SniffOutput(Sniffer sniffer, bool json, bool redirected)
{
    private readonly long _startMicros = Diagnostics.Clock.NowMicros();

    public void Draw(long nowMicros, KernelCounts kernel, bool final)
    {
        string text;
        lock (sniffer.Sync)
        {
            IReadOnlyList<SessionFigures> sessions = sniffer.Tick(nowMicros, final);
            if (json)
            {
                text = Json(sessions, kernel, nowMicros, final);
            }
            else if (!redirected || final)
            {
                text = Table(sessions, kernel, nowMicros, final);
            }
            else
            {
                return;
            }
        }

        if (!json && !redirected)
        {
            Console.Write("\e[H\e[2J"); // redraw in place, like top (the final table stays on the screen)
        }

        Console.Out.Write(text);
        Console.Out.Flush();
    }

    private string Table(IReadOnlyList<SessionFigures> sessions, KernelCounts kernel, long now, bool final)
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"{(final ? "sniffed" : "sniffing")} {CommonOptions.FormatDuration(TimeSpan.FromMicroseconds(now - _startMicros))}: ")
            .Append(ci, $"{sniffer.Frames} frames, {sniffer.SocketCamFrames} of SocketCam sessions; kernel: {kernel.Packets} queued, {kernel.Drops} dropped; ")
            .Append(ci, $"CPU {Cpu(now).Percent:0}% of a core")
            .AppendLine();
        if (sniffer.OtherLinkFrames > 0)
        {
            sb.Append(ci, $"{sniffer.OtherLinkFrames} frames from a link sniff cannot read (ARPHRD {sniffer.OtherLinkType}: not Ethernet, loopback or IP)").AppendLine();
        }

        if (sniffer.FlowsRefused + sniffer.ReadErrors > 0)
        {
            sb.Append(ci, $"{sniffer.FlowsRefused} flows not followed (tables full), {sniffer.ReadErrors} frames sniff could not read").AppendLine();
        }

        if (sessions.Count == 0)
        {
            sb.AppendLine("no SocketCam traffic seen yet (a session is told from its first bytes; --port follows connections already under way)");
        }

        foreach (SessionFigures s in sessions)
        {
            sb.AppendLine();
            sb.Append(ci, $"{s.Id}  {s.FormatName}");
            if (s.Room is not null)
            {
                sb.Append(ci, $"  room '{s.Room}'");
            }

            if (s.Name is { Length: > 0 })
            {
                sb.Append(ci, $"  '{s.Name}'");
            }

            if (s.Role is not null)
            {
                sb.Append(ci, $"  {s.Role}");
            }

            if (s.MidStream)
            {
                sb.Append("  (joined mid-way)");
            }

            if (s.Sealed)
            {
                sb.Append("  (sealed: types and sizes only)");
            }

            sb.Append(ci, $"  {CommonOptions.FormatDuration(TimeSpan.FromMicroseconds(s.LastSeenUs - s.FirstSeenUs))}");
            if (s.Ended)
            {
                sb.Append("  ended");
            }

            sb.AppendLine();
            if (s.EndReason is not null)
            {
                sb.Append("  last word: ").AppendLine(s.EndReason);
            }

            if (s.MessagesFromClient.Count > 0)
            {
                sb.Append("  from client:");
                SessionFigures.AppendCounts(sb, s.MessagesFromClient);
                sb.AppendLine();
            }

            if (s.MessagesFromServer.Count > 0)
            {
                sb.Append("  from server:");
                SessionFigures.AppendCounts(sb, s.MessagesFromServer);
                sb.AppendLine();
            }

            foreach (TrackFigures t in s.Tracks)
            {
                string size = t.Width > 0 ? $" {t.Width}x{t.Height}" : "";
                sb.Append(ci, $"  {(t.FromClient ? "sent" : "received")} {t.Id}: {t.Kind} {t.Codec}{size}, {t.Frames} frames")
                    .Append(t.Kind == "video" && t.Keyframes != t.Frames ? $" ({t.Keyframes} key)" : "")
                    .Append(ci, $", {t.FramesPerSecond:0.0}/s, {SessionFigures.Rate(t.BitsPerSecond)}")
                    .AppendLine();
            }

            if (s.ChatSent + s.ChatReceived + s.ChatHistory > 0)
            {
                sb.Append(ci, $"  chat: {s.ChatSent} sent, {s.ChatReceived} received, history in {SessionFigures.Describe(s.ChatHistory, "message")}").AppendLine();
            }

            if (s.Transport == "udp")
            {
                if (s.Format == SessionFormat.ImageUdp)
                {
                    sb.Append(ci, $"  file: {s.ImagePartsSeen} of {s.ImagePartsTotal} parts seen ({s.ImageLength} bytes), {s.Resends} resent, {s.Nacks} NACKs asking for {s.NackedItems}").AppendLine();
                }
                else
                {
                    sb.Append(ci, $"  udp: {s.Fragments} fragments ({s.ParityFragments} parity), {s.Nacks} NACKs for {s.NackedItems}, {s.Resends} resends, {s.FramesIncomplete} frames incomplete");
                    if (s.ReportedLossPercent is { } loss)
                    {
                        sb.Append(ci, $", loss {loss:0.0}% as reported ({s.ReportedLost}/{s.ReportedExpected} fragments, {s.ReportedFramesLost} frames lost)");
                    }

                    if (s.KeyframeRequests > 0)
                    {
                        sb.Append(ci, $", {s.KeyframeRequests} keyframe requests");
                    }

                    sb.AppendLine();
                }
            }
            else
            {
                sb.Append(ci, $"  tcp: {CommonOptions.FormatByteSize(s.BytesFromClient)} from client, {CommonOptions.FormatByteSize(s.BytesFromServer)} from server, {s.Retransmissions} retransmitted segments, {s.OutOfOrder} out of order");
                if (s.LostBytes > 0)
                {
                    sb.Append(ci, $", {CommonOptions.FormatByteSize(s.LostBytes)} not captured ({SessionFigures.Describe(s.Resyncs, "resync")})");
                }

                if (s.KeyframeRequests > 0)
                {
                    sb.Append(ci, $", {s.KeyframeRequests} keyframe requests");
                }

                sb.AppendLine();
            }

            if (s.Malformed is not null)
            {
                sb.Append("  malformed: ").AppendLine(s.Malformed);
            }
        }

        return sb.ToString();
    }

    /// <summary>This process's CPU time, and its share of one core since the start: what reading every frame costs.</summary>
    private (double Seconds, double Percent) Cpu(long now)
    {
        double seconds = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        double elapsed = (now - _startMicros) / 1e6;
        return (seconds, elapsed > 0 ? 100 * seconds / elapsed : 0);
    }

    private string Json(IReadOnlyList<SessionFigures> sessions, KernelCounts kernel, long now, bool final)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteBoolean("final", final);
            w.WriteNumber("seconds", Math.Round((now - _startMicros) / 1e6, 3));
            w.WriteNumber("frames", sniffer.Frames);
            w.WriteNumber("socketcam_frames", sniffer.SocketCamFrames);
            w.WriteNumber("kernel_packets", kernel.Packets);
            w.WriteNumber("kernel_drops", kernel.Drops);
            (double cpuSeconds, double cpuPercent) = Cpu(now);
            w.WriteNumber("cpu_seconds", Math.Round(cpuSeconds, 3));
            w.WriteNumber("cpu_pct", Math.Round(cpuPercent, 1));
            w.WriteNumber("other_link_frames", sniffer.OtherLinkFrames);
            w.WriteNumber("flows_refused", sniffer.FlowsRefused);
            w.WriteNumber("read_errors", sniffer.ReadErrors);
            w.WriteStartArray("sessions");
            foreach (SessionFigures s in sessions)
            {
                WriteSession(w, s);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }

    private static void WriteSession(Utf8JsonWriter w, SessionFigures s)
    {
        w.WriteStartObject();
        w.WriteString("transport", s.Transport);
        w.WriteString("client", s.Client);
        w.WriteString("server", s.Server);
        w.WriteString("format", s.FormatName);
        w.WriteString("room", s.Room);
        w.WriteString("name", s.Name);
        w.WriteString("role", s.Role);
        w.WriteBoolean("mid_stream", s.MidStream);
        w.WriteBoolean("sealed", s.Sealed);
        w.WriteBoolean("ended", s.Ended);
        w.WriteString("end", s.EndReason);
        w.WriteString("malformed", s.Malformed);
        w.WriteNumber("packets", s.Packets);
        w.WriteNumber("bytes_from_client", s.BytesFromClient);
        w.WriteNumber("bytes_from_server", s.BytesFromServer);
        WriteCounts(w, "from_client", s.MessagesFromClient);
        WriteCounts(w, "from_server", s.MessagesFromServer);
        w.WriteStartArray("tracks");
        foreach (TrackFigures t in s.Tracks)
        {
            w.WriteStartObject();
            w.WriteString("id", t.Id);
            w.WriteString("direction", t.FromClient ? "from_client" : "from_server");
            w.WriteString("kind", t.Kind);
            w.WriteString("codec", t.Codec);
            w.WriteNumber("width", t.Width);
            w.WriteNumber("height", t.Height);
            w.WriteNumber("frames", t.Frames);
            w.WriteNumber("keyframes", t.Keyframes);
            w.WriteNumber("bytes", t.Bytes);
            w.WriteNumber("fps", Math.Round(t.FramesPerSecond, 2));
            w.WriteNumber("bits_per_second", Math.Round(t.BitsPerSecond));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("chat");
        w.WriteNumber("sent", s.ChatSent);
        w.WriteNumber("received", s.ChatReceived);
        w.WriteNumber("history", s.ChatHistory);
        w.WriteEndObject();
        if (s.Transport == "udp")
        {
            w.WriteStartObject("udp");
            w.WriteNumber("fragments", s.Fragments);
            w.WriteNumber("parity_fragments", s.ParityFragments);
            w.WriteNumber("frames_incomplete", s.FramesIncomplete);
            w.WriteNumber("nacks", s.Nacks);
            w.WriteNumber("nacked", s.NackedItems);
            w.WriteNumber("resends", s.Resends);
            w.WriteNumber("reported_expected", s.ReportedExpected);
            w.WriteNumber("reported_lost", s.ReportedLost);
            w.WriteNumber("reported_frames_lost", s.ReportedFramesLost);
            w.WriteNumber("keyframe_requests", s.KeyframeRequests);
            if (s.Format == SessionFormat.ImageUdp)
            {
                w.WriteNumber("file_bytes", s.ImageLength);
                w.WriteNumber("parts", s.ImagePartsTotal);
                w.WriteNumber("parts_seen", s.ImagePartsSeen);
            }

            w.WriteEndObject();
        }
        else
        {
            w.WriteStartObject("tcp");
            w.WriteNumber("retransmissions", s.Retransmissions);
            w.WriteNumber("out_of_order", s.OutOfOrder);
            w.WriteNumber("lost_bytes", s.LostBytes);
            w.WriteNumber("resyncs", s.Resyncs);
            w.WriteNumber("keyframe_requests", s.KeyframeRequests);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteCounts(Utf8JsonWriter w, string name, SortedDictionary<string, long> counts)
    {
        w.WriteStartObject(name);
        foreach ((string type, long n) in counts)
        {
            w.WriteNumber(type, n);
        }

        w.WriteEndObject();
    }
}
