using System.CommandLine;
using System.Globalization;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class PublishCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "The hub, e.g. tcp://192.168.1.5:9999 or unix:///run/user/1000/socketcam.sock" };
        var sources = new SourceOptionSet();
        var codec = CommonOptions.Codec();
        var subsampling = CommonOptions.Subsampling();
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var seconds = CommonOptions.Seconds("default: run until Ctrl+C");
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Exit when the server goes away instead of reconnecting" };
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var preview = CommandWindow.PreviewOption();
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("publish", "Feed a room of a hub from a local source (the hub need not own the camera)")
        {
            url, sources.Source, sources.Loop, sources.NoPassthrough, sources.Size, sources.Fps, codec, sources.Quality, subsampling, room, token, seconds, noReconnect, quiet, preview, logLevel,
        };
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
                Reconnect = !r.GetValue(noReconnect),
                Agent = "socketcam publish",
            };
            using IFrameEncoder encoder = CodecFactory.CreateEncoder(r.GetValue(codec), CommonOptions.Jpeg(r.GetValue(sources.Quality), r.GetValue(subsampling)!));
            (IFrameSource opened, _) = await sources.OpenAsync(r, Media.FrameLimits.DefaultMaxFrameBytes, loggers, token2);
            await using IFrameSource frames = opened;
            var publisher = new PublisherClient(StreamEndpoint.Parse(r.GetValue(url)!), options, frames, encoder, loggers);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(token2);
            if (r.GetValue(seconds) is > 0 and var s)
            {
                stop.CancelAfter(TimeSpan.FromSeconds(s));
            }

            using CommandWindow? window = r.GetValue(preview) ? await CommandWindow.ForPublisherAsync(publisher, options.Room, stop, loggers) : null;
            await Console.Error.WriteLineAsync($"Publishing {frames.Description} to room '{options.Room}' at {r.GetValue(url)}");
            Task status = new LiveStats(PublisherLine(publisher), r.GetValue(quiet)).RunAsync(stop.Token);
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
            }

            await Console.Error.WriteLineAsync($"Sent {publisher.FramesSent} frames ({publisher.BytesSent / 1e6:0.0} MB).");
            return window?.ExitCode(0) ?? 0;
        }));
        return command;
    }

    public static Func<TimeSpan, string> PublisherLine(PublisherClient publisher)
    {
        long lastFrames = 0;
        long lastBytes = 0;
        return interval =>
        {
            long frames = publisher.FramesSent;
            long bytes = publisher.BytesSent;
            string line = string.Create(CultureInfo.InvariantCulture,
                $"sending {(frames - lastFrames) / interval.TotalSeconds,5:0.0} fps  {LiveStats.Rate((bytes - lastBytes) / interval.TotalSeconds)}  rtt {publisher.RttMilliseconds:0.00} ms  frames {frames}");
            lastFrames = frames;
            lastBytes = bytes;
            return line;
        };
    }
}
