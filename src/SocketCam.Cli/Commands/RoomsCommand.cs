using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SocketCam.Client;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

/// <summary>`socketcam rooms tcp://HOST:PORT`: the hub's rooms, who is in each and what they publish (LIST_ROOMS, protocol v2).</summary>
internal static class RoomsCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "The hub, e.g. tcp://192.168.1.5:9999 (or tls://, unix:///PATH; see docs/PROTOCOL.md)", DefaultValueFactory = _ => "tcp://127.0.0.1:9999" };
        var token = CommonOptions.Token();
        var tls = new TlsOptionSet();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text" };
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var command = new Command("rooms", "List a hub's rooms, their participants and the tracks they publish") { url, token, json, logLevel };
        tls.AddTo(command);
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (_, cancellationToken) =>
        {
            StreamEndpoint endpoint = StreamEndpoint.Parse(r.GetValue(url)!, 1, "tcp", StreamEndpoint.DefaultPort, StreamEndpoint.HubSchemes);
            (List<RoomListing> rooms, bool truncated) = await RoomLister.ListAsync(endpoint, new ClientOptions { Token = r.GetValue(token), Tls = tls.Get(r, r.GetValue(url)!) }, cancellationToken);
            if (r.GetValue(json))
            {
                WriteJson(rooms, truncated);
            }
            else
            {
                WriteText(endpoint, rooms, truncated);
            }

            return 0;
        }));
        return command;
    }

    private static void WriteText(StreamEndpoint endpoint, List<RoomListing> rooms, bool truncated)
    {
        if (rooms.Count == 0)
        {
            Console.WriteLine($"{endpoint} has no rooms (a room exists while someone publishes or watches it).");
            return;
        }

        foreach (RoomListing room in rooms)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"room '{room.Name}': {Plural(room.Participants.Count, "participant")}, {Plural(room.Tracks.Count, "track")}, {room.HiddenWatchers} watching without publishing"));
            foreach (ParticipantRecord p in room.Participants)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {p.ParticipantId,3}  {p.Name}  ({Transport(p)}, joined {DateTimeOffset.FromUnixTimeMilliseconds(p.JoinedAtMicros / 1000).ToLocalTime():HH:mm:ss})"));
                foreach (TrackRecord t in room.Tracks.Where(t => t.ParticipantId == p.ParticipantId))
                {
                    Console.WriteLine($"         track {t.Description.TrackId}: {Describe(t)}");
                }
            }
        }

        if (truncated)
        {
            Console.WriteLine("(more rooms than fit in one answer: the list is cut)");
        }
    }

    private static string Describe(TrackRecord t)
    {
        TrackDescription d = t.Description;
        string size = d.Kind == TrackKind.Video ? (d.A == 0 ? "" : $" {d.A}x{d.B}") : $" {d.A} ch {d.Rate} Hz";
        string rate = d.Kind == TrackKind.Video && d.Rate > 0 ? string.Create(CultureInfo.InvariantCulture, $" {d.Rate / 1000.0:0.##} fps") : "";
        string label = d.Name.Length > 0 ? $" '{d.Name}'" : "";
        string state = t.Live ? "live" : $"no signal{(t.Text.Length > 0 ? ": " + t.Text : "")}";
        return $"{d.Kind.ToString().ToLowerInvariant()} {CodecIds.Name(d.Codec)}{size}{rate}, {d.Source.ToString().ToLowerInvariant()}{label}, {state}";
    }

    private static string Transport(ParticipantRecord p) =>
        p.Flags.HasFlag(ParticipantFlags.HubSource) ? "the hub's own source" : p.Transport.ToString().ToLowerInvariant() + (p.Flags.HasFlag(ParticipantFlags.SpeaksV1) ? ", protocol v1" : "");

    private static string Plural(int n, string word) => n == 1 ? $"1 {word}" : $"{n} {word}s";

    private static void WriteJson(List<RoomListing> rooms, bool truncated)
    {
        using Stream stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout)) // one line, like every --json of socketcam (pipe it to jq to read it)
        {
            w.WriteStartObject();
            w.WriteBoolean("truncated", truncated);
            w.WriteStartArray("rooms");
            foreach (RoomListing room in rooms)
            {
                w.WriteStartObject();
                w.WriteString("name", room.Name);
                w.WriteString("epoch", room.Epoch.ToString("x16", CultureInfo.InvariantCulture));
                w.WriteNumber("event_seq", room.EventSequence);
                w.WriteNumber("hidden_watchers", room.HiddenWatchers);
                w.WriteStartArray("participants");
                foreach (ParticipantRecord p in room.Participants)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", p.ParticipantId);
                    w.WriteString("name", p.Name);
                    w.WriteString("transport", p.Transport.ToString().ToLowerInvariant());
                    w.WriteBoolean("v1", p.Flags.HasFlag(ParticipantFlags.SpeaksV1));
                    w.WriteBoolean("hub_source", p.Flags.HasFlag(ParticipantFlags.HubSource));
                    w.WriteNumber("joined_at_us", p.JoinedAtMicros);
                    w.WriteStartArray("tracks");
                    foreach (TrackRecord t in room.Tracks.Where(t => t.ParticipantId == p.ParticipantId))
                    {
                        TrackDescription d = t.Description;
                        w.WriteStartObject();
                        w.WriteNumber("id", d.TrackId);
                        w.WriteString("kind", d.Kind.ToString().ToLowerInvariant());
                        w.WriteString("codec", CodecIds.Name(d.Codec));
                        w.WriteString("source", d.Source.ToString().ToLowerInvariant());
                        w.WriteString("name", d.Name);
                        w.WriteNumber(d.Kind == TrackKind.Video ? "width" : "channels", d.A);
                        if (d.Kind == TrackKind.Video)
                        {
                            w.WriteNumber("height", d.B);
                        }

                        w.WriteNumber("rate", d.Rate);
                        w.WriteBoolean("live", t.Live);
                        w.WriteString("text", t.Text);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        stdout.Write("\n"u8);
    }
}
