using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SocketCam.Audio;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

/// <summary>
/// `socketcam call tcp://HOST:PORT/ROOM --name NAME`: a whole video-call participant (protocol v2): publishes its source,
/// shows everyone else in one window as a labelled grid (or, with --no-window, only counts what arrives: a bot), and
/// chats on the terminal: a line typed is sent, messages are printed with time and name, joins and leaves are told.
/// Reconnects by itself; the chat resumes where it was, nothing missed or twice.
/// </summary>
internal static class CallCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "The hub and the room, e.g. tcp://192.168.1.5:9999/family (tls:// with --ca or --fingerprint; unix:// with --room)" };
        var name = new Option<string>("--name") { Description = "Your name in the call; default: user@host", DefaultValueFactory = _ => DefaultName() };
        var sources = new SourceOptionSet(SourceFactory.AutoSpec);
        sources.Source.Description += "; none: only watch";
        // A call sends to everyone at once: 640x360 (the call page's size too) keeps a many-person call light.
        sources.Size.DefaultValueFactory = _ => new Media.FrameSize(640, 360);
        var codec = CommonOptions.Codec();
        sources.Codec = codec;
        var subsampling = CommonOptions.Subsampling();
        var room = new Option<string?>("--room", "-r") { HelpName = "ROOM", Description = "The room, when the URL does not name it (default: main)" };
        var token = CommonOptions.Token();
        var tls = new TlsOptionSet();
        var seconds = CommonOptions.Seconds("default: until Ctrl+C or /quit");
        var noWindow = new Option<bool>("--no-window") { Description = "No window: chat on the terminal and count what arrives (bots, tests, benchmarks)" };
        var json = new Option<bool>("--json") { Description = "Print JSON lines: chat messages and joins/leaves as they happen, a summary per participant at the end" };
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Exit when the hub goes away instead of reconnecting" };
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var audio = new AudioOptionSet("auto");
        var audioOut = AudioOutput.Option("the others'");
        audioOut.Description += " (default: speaker with the window, none with --no-window)";
        var command = new Command("call", "Join a video call: publish your camera, see everyone else, chat on the terminal (lines you type are sent)")
        {
            url, name, sources.Source, sources.Loop, sources.NoPassthrough, sources.Size, sources.Fps, codec, sources.Quality, subsampling, room, token, seconds, noWindow, json, noReconnect, quiet, logLevel,
        };
        tls.AddTo(command);
        sources.AddEncoderOptionsTo(command);
        audio.AddTo(command);
        command.Options.Add(audioOut);
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, cancellationToken) =>
        {
            (StreamEndpoint endpoint, string roomName) = ParseUrl(r.GetValue(url)!, r.GetValue(room));
            bool window = !r.GetValue(noWindow);
            if (window)
            {
                CommandWindow.RequireDisplay("call", "add --no-window to chat on the terminal without video");
            }

            var options = new ClientOptions
            {
                Room = roomName,
                Token = r.GetValue(token),
                Tls = tls.Get(r, r.GetValue(url)!),
                Reconnect = !r.GetValue(noReconnect),
                Agent = "socketcam call",
            };
            string who = r.GetValue(name)!;
            string spec = r.GetValue(sources.Source)!;
            var opened = new List<PublishedSource>();
            IFrameEncoder? encoder = null;
            try
            {
                if (!string.Equals(spec, "none", StringComparison.OrdinalIgnoreCase))
                {
                    (IFrameSource source, string? note) = await sources.OpenAsync(r, Media.FrameLimits.DefaultMaxFrameBytes, loggers, cancellationToken);
                    if (note is not null)
                    {
                        await Console.Error.WriteLineAsync("socketcam: " + note);
                    }

                    encoder = sources.CreateEncoder(r, codec, subsampling);
                    opened.Add(new PublishedSource(source, encoder, SourceOptionSet.TrackSourceOf(spec), source.Description));
                }

                AudioSourceSpec soundSpec = await audio.SpecAsync(r, opened.Count > 0 ? [spec] : [], cancellationToken);
                await using AudioTrackEncoder? sound = audio.Open(r, soundSpec, loggers);
                await using AudioOutput? speaker = OpenAudioOutput(r.GetValue(audioOut) ?? (window ? "speaker" : null), r.GetValue(audioOut) is null);
                await using var call = new CallSession(r.GetValue(json), loggers, speaker?.Mixer);
                using CallScreen? screen = window ? await CallScreen.OpenAsync(roomName, who, loggers, cancellationToken) : null;
                call.Screen = screen;
                if (screen is not null)
                {
                    screen.RequestKeyframe = call.RequestKeyframeAsync;
                }

                var publisher = new TrackPublisher(endpoint, options, opened, who, loggers, call.Hooks, sound);
                call.Publisher = publisher;
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, screen?.Closed ?? CancellationToken.None);
                if (r.GetValue(seconds) is > 0 and var s)
                {
                    stop.CancelAfter(TimeSpan.FromSeconds(s));
                }

                await Console.Error.WriteLineAsync(
                    $"Joining room '{roomName}' at {endpoint} as '{who}'" + (opened.Count > 0 ? $", publishing {opened[0].Label}" : ", not publishing")
                    + (sound is null ? ", no sound" : $", sound from {sound.Spec}") + (speaker is null ? "" : $", playing into {speaker.Target}")
                    + ". Type a message and Enter to send it; /who lists who is here, /mute [NAME] and /unmute [NAME] mute you or someone, /quit leaves.");
                call.Stopping = stop.Token;
                Task input = call.ReadInputAsync(Console.In, stop);
                Task sending = call.SendLoopAsync(stop.Token);
                Task status = new LiveStats(call.StatusLine(publisher), r.GetValue(quiet) || r.GetValue(json)).RunAsync(stop.Token);
                try
                {
                    await publisher.RunAsync(stop.Token);
                }
                catch (SourceEndedException ex)
                {
                    await Console.Error.WriteLineAsync(ex.Message);
                }
                finally
                {
                    await stop.CancelAsync();
                    await status;
                    await input;
                    await sending;
                }

                call.PrintSummary(publisher);
                if (speaker is not null)
                {
                    await Console.Error.WriteLineAsync(speaker.SummaryLine());
                }

                return 0;
            }
            finally
            {
                foreach (PublishedSource p in opened)
                {
                    await p.Source.DisposeAsync();
                }

                encoder?.Dispose();
            }
        }));
        return command;
    }

    /// <summary>The others' sound: where --audio-out says; by default the speaker, and no device there is a notice, not an error.</summary>
    private static AudioOutput? OpenAudioOutput(string? target, bool byDefault)
    {
        if (target is null)
        {
            return null;
        }

        try
        {
            return AudioOutput.Start(target);
        }
        catch (Exception ex) when (byDefault && ex is UserFacingException or NativeDependencyException)
        {
            Console.Error.WriteLine($"socketcam: you will not hear the others: {ex.Message}");
            return null;
        }
    }

    /// <summary>`tcp://HOST:PORT/ROOM` (the room in the path), or any hub URL and --room.</summary>
    internal static (StreamEndpoint Endpoint, string Room) ParseUrl(string text, string? room)
    {
        string address = text;
        string? fromPath = null;
        int scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0 && !text.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            int slash = text.IndexOf('/', scheme + 3);
            if (slash >= 0)
            {
                address = text[..slash];
                fromPath = Uri.UnescapeDataString(text[(slash + 1)..].TrimEnd('/'));
                if (fromPath.Length == 0)
                {
                    fromPath = null;
                }
            }
        }

        if (fromPath is not null && room is not null && fromPath != room)
        {
            throw new ArgumentException($"The URL names room '{PrintableText.Of(fromPath)}' and --room says '{PrintableText.Of(room)}': give one.");
        }

        string chosen = fromPath ?? room ?? Protocol.RoomName.Default;
        if (!Protocol.RoomName.IsValid(chosen))
        {
            throw new ArgumentException($"Invalid room name '{PrintableText.Of(chosen)}': use 1-{Protocol.RoomName.MaxLength} characters from A-Z a-z 0-9 . _ -");
        }

        StreamEndpoint endpoint = StreamEndpoint.Parse(address, 1, "tcp", StreamEndpoint.DefaultPort, StreamEndpoint.HubSchemes);
        return (endpoint, chosen);
    }

    private static string DefaultName()
    {
        string name = $"{Environment.UserName}@{Environment.MachineName}";
        return name.Length <= 64 ? name : name[..64];
    }
}
