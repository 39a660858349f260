using System.CommandLine;
using System.Globalization;
using SocketCam.Cli.Output;
using SocketCam.Audio;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class PublishCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "The hub, e.g. tcp://192.168.1.5:9999 (or tls://, udp://, unix:///PATH; see docs/PROTOCOL.md)" };
        var sources = new SourceOptionSet(SourceFactory.AutoSpec, many: true);
        var name = new Option<string>("--name") { Description = "Your name in the room, shown to the others; default: user@host", DefaultValueFactory = _ => DefaultName() };
        var codec = CommonOptions.Codec();
        sources.Codec = codec;
        var subsampling = CommonOptions.Subsampling();
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var tls = new TlsOptionSet();
        var seconds = CommonOptions.Seconds("default: run until Ctrl+C");
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Exit when the hub goes away instead of reconnecting" };
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var noRecovery = CommonOptions.NoRecovery();
        var preview = CommandWindow.PreviewOption();
        var logLevel = CommonOptions.LogLevel();
        var audio = new AudioOptionSet("auto");
        var command = new Command("publish", "Feed a room of a hub from a local source (the hub need not own the camera)")
        {
            url, sources.SourceOption, name, sources.Loop, sources.NoPassthrough, sources.Size, sources.Fps, codec, sources.Quality, subsampling, room, token, seconds, noReconnect, quiet, noRecovery, preview, logLevel,
        };
        tls.AddTo(command);
        sources.AddEncoderOptionsTo(command);
        audio.AddTo(command);
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token2) =>
        {
            if (r.GetValue(preview))
            {
                CommandWindow.RequireDisplay("publish --preview", "leave out --preview");
            }

            var options = new ClientOptions
            {
                Room = r.GetValue(room)!,
                Token = r.GetValue(token),
                Tls = tls.Get(r, r.GetValue(url)!),
                Reconnect = !r.GetValue(noReconnect),
                Agent = "socketcam publish",
                UdpRecovery = !r.GetValue(noRecovery),
            };
            IReadOnlyList<string> specs = sources.Specs(r);
            bool udp = r.GetValue(url)!.StartsWith("udp", StringComparison.OrdinalIgnoreCase);
            AudioSourceSpec soundSpec = await audio.SpecAsync(r, specs, token2);
            bool withAudio = soundSpec.Kind != AudioSourceKind.None;
            // Over TCP, TLS and Unix sound is a v2 track; over UDP it rides beside the v1 frames (AUDIO datagrams).
            if (specs.Count > 1 || (withAudio && !udp))
            {
                if (withAudio && r.GetValue(preview))
                {
                    throw new UserFacingException("--preview shows a video-only publisher: leave it out, or add --audio none.");
                }

                await using AudioTrackEncoder? sound = withAudio ? audio.Open(r, soundSpec, loggers) : null;
                return await PublishTracksAsync(r, specs, options with { Agent = "socketcam publish (tracks)" }, r.GetValue(name)!, r.GetValue(quiet), r.GetValue(seconds), loggers, sound, token2);
            }

            using IFrameEncoder encoder = sources.CreateEncoder(r, codec, subsampling);
            (IFrameSource opened, string? note) = await sources.OpenAsync(r, Media.FrameLimits.DefaultMaxFrameBytes, loggers, token2);
            if (note is not null)
            {
                await Console.Error.WriteLineAsync("socketcam: " + note);
            }

            await using IFrameSource frames = opened;
            await using AudioTrackEncoder? udpSound = withAudio ? audio.Open(r, soundSpec, loggers) : null;
            var publisher = new PublisherClient(StreamEndpoint.Parse(r.GetValue(url)!, 1, "tcp", StreamEndpoint.DefaultPort, StreamEndpoint.LiveSchemes), options, frames, encoder, loggers)
            {
                Audio = udpSound,
            };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(token2);
            if (r.GetValue(seconds) is > 0 and var s)
            {
                stop.CancelAfter(TimeSpan.FromSeconds(s));
            }

            using CommandWindow? window = r.GetValue(preview) ? await CommandWindow.ForPublisherAsync(publisher, options.Room, stop, loggers) : null;
            await Console.Error.WriteLineAsync($"Publishing {frames.Description}{(udpSound is null ? "" : $" with sound ({udpSound.Spec}, Opus {udpSound.Options.Bitrate / 1000} kbit/s, {udpSound.Options.PacketMilliseconds} ms packets)")} to room '{options.Room}' at {r.GetValue(url)}");
            await RunWithStatusAsync(publisher.RunAsync, PublisherLine(publisher), r.GetValue(quiet), stop);

            await Console.Error.WriteLineAsync($"Sent {publisher.FramesSent} frames ({publisher.BytesSent / 1e6:0.0} MB)"
                + (udpSound is null ? "." : $" and {publisher.AudioPacketsSent} audio packets.")
                + (publisher.UdpBytes is (> 0, var recoveryBytes) and (var dataBytes, _) ? $" Loss recovery sent {recoveryBytes / 1e6:0.0} MB more ({100.0 * recoveryBytes / dataBytes:0.#}%)." : ""));
            return window?.ExitCode(0) ?? 0;
        }));
        return command;

        // Several sources: one v2 participant with a track per source (docs/PROTOCOL.md Part II).
        async Task<int> PublishTracksAsync(ParseResult r, IReadOnlyList<string> specs, ClientOptions options, string who, bool quietLine, double duration, Microsoft.Extensions.Logging.ILoggerFactory loggers, AudioTrackEncoder? sound, CancellationToken token2)
        {
            StreamEndpoint endpoint = StreamEndpoint.Parse(r.GetValue(url)!, 1, "tcp", StreamEndpoint.DefaultPort, StreamEndpoint.LiveSchemes);
            if (endpoint.Scheme is not ("tcp" or "tls" or "unix"))
            {
                throw new UserFacingException("Several --source need protocol v2, which runs over tcp://, tls:// or unix:// (not udp://).");
            }

            if (r.GetValue(preview))
            {
                throw new UserFacingException("--preview shows one source: leave it out with several --source.");
            }

            var opened = new List<PublishedSource>();
            var encoders = new List<IFrameEncoder>();
            try
            {
                foreach (string spec in specs)
                {
                    (IFrameSource source, _) = await sources.OpenSpecAsync(spec, r, Media.FrameLimits.DefaultMaxFrameBytes, loggers, token2);
                    IFrameEncoder encoder = sources.CreateEncoder(r, codec, subsampling);
                    encoders.Add(encoder);
                    opened.Add(new PublishedSource(source, encoder, SourceOptionSet.TrackSourceOf(spec), source.Description));
                }

                var publisher = new TrackPublisher(endpoint, options, opened, who, loggers, audio: sound);
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(token2);
                if (duration > 0)
                {
                    stop.CancelAfter(TimeSpan.FromSeconds(duration));
                }

                int tracks = opened.Count + (sound is null ? 0 : 1);
                await Console.Error.WriteLineAsync($"Publishing {tracks} tracks as '{who}' to room '{options.Room}' at {endpoint}:");
                for (int i = 0; i < opened.Count; i++)
                {
                    await Console.Error.WriteLineAsync($"  track {i + 1}: {opened[i].Label}");
                }

                if (sound is not null)
                {
                    await Console.Error.WriteLineAsync($"  track {opened.Count + 1}: {sound.Spec}, Opus {sound.Options.Bitrate / 1000} kbit/s, {sound.Options.PacketMilliseconds} ms packets (--audio none for video only)");
                }

                await RunWithStatusAsync(publisher.RunAsync, TracksLine(publisher), quietLine, stop);

                await Console.Error.WriteLineAsync($"Sent {publisher.FramesSent} frames"
                    + (sound is null ? "" : $" and {publisher.AudioPacketsSent} audio packets") + $" ({publisher.BytesSent / 1e6:0.0} MB) on {tracks} tracks.");
                return 0;
            }
            finally
            {
                foreach (PublishedSource s in opened)
                {
                    await s.Source.DisposeAsync();
                }

                foreach (IFrameEncoder e in encoders)
                {
                    e.Dispose();
                }
            }
        }
    }

    private static string DefaultName()
    {
        string user = Environment.UserName;
        string host = Environment.MachineName;
        string name = $"{user}@{host}";
        return name.Length <= 64 ? name : name[..64];
    }

    /// <summary>Runs a publisher with its live status line until it ends or <paramref name="stop"/> fires; a source that ended is said in one line.</summary>
    private static async Task RunWithStatusAsync(Func<CancellationToken, Task> run, Func<TimeSpan, string> line, bool quiet, CancellationTokenSource stop)
    {
        Task status = new LiveStats(line, quiet).RunAsync(stop.Token);
        try
        {
            await run(stop.Token);
        }
        catch (SourceEndedException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
        }
        finally
        {
            await stop.CancelAsync();
            await status;
        }
    }

    public static Func<TimeSpan, string> PublisherLine(PublisherClient publisher) =>
        SendingLine(() => (publisher.FramesSent, publisher.BytesSent, publisher.RttMilliseconds), "", () => publisher.Retry);

    private static Func<TimeSpan, string> TracksLine(TrackPublisher publisher) =>
        SendingLine(() => (publisher.FramesSent, publisher.BytesSent, publisher.RttMilliseconds), " (all tracks)", () => publisher.Retry);

    /// <summary>The live line of either kind of publisher: rates over the last interval from its running totals.</summary>
    private static Func<TimeSpan, string> SendingLine(Func<(long Frames, long Bytes, double RttMilliseconds)> totals, string what, Func<RetryState?> retry)
    {
        long lastFrames = 0;
        long lastBytes = 0;
        return interval =>
        {
            (long frames, long bytes, double rtt) = totals();
            string line = retry() is { } waiting ? ViewCommand.RetryLine(waiting, DateTime.UtcNow) : string.Create(CultureInfo.InvariantCulture,
                $"sending {(frames - lastFrames) / interval.TotalSeconds,5:0.0} fps{what}  {LiveStats.Rate((bytes - lastBytes) / interval.TotalSeconds)}  rtt {rtt:0.00} ms  frames {frames}");
            lastFrames = frames;
            lastBytes = bytes;
            return line;
        };
    }
}
