using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Recording;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class ViewCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url")
        {
            Description = "The hub: tcp://HOST:9999 (or tls://, udp://, unix:///PATH), or seed+tcp://HOST:PORT, a Python tutorial's server (8-byte length + pickle)",
        };
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var tls = new TlsOptionSet();
        var frames = new Option<long>("--frames", "-n") { Description = "Stop after this many frames" };
        var seconds = CommonOptions.Seconds("default: run until Ctrl+C");
        var snapshot = new Option<string?>("--snapshot") { Description = "Write the last frame to FILE.jpg or FILE.png when done" };
        var record = new Option<string?>("--record")
        {
            HelpName = "FILE",
            Description = "Record what is received to FILE.mjpeg, .mkv or .mp4 (.mkv and .mp4 with the audio); replaced if it exists",
        };
        var maxFrame = CommonOptions.MaxFrameBytes();
        var json = CommonOptions.Json();
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Exit when the hub goes away instead of reconnecting" };
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var noRecovery = CommonOptions.NoRecovery();
        var logLevel = CommonOptions.LogLevel();
        var window = CommandWindow.WindowOption();
        var windowStats = CommandWindow.StatsOption();
        var noWindow = new Option<bool>("--no-window") { Description = "Statistics in the terminal only, even with a display (default: a window when there is one)" };
        var participant = new Option<string?>("--participant") { Description = "Watch this participant's video (a name `socketcam rooms` shows); default: the room's main video" };
        var track = new Option<string?>("--track") { Description = "Watch this track: its name, its source (camera, screen, file) or its id; default: the first video track" };
        var audioOut = AudioOutput.Option("the watched participant's");
        var command = new Command("view", "Watch a room: decode frames and show live fps, latency, bitrate and skipped frames")
        {
            url, room, token, participant, track, audioOut, frames, seconds, snapshot, record, maxFrame, json, noReconnect, quiet, noRecovery, window, noWindow, windowStats, logLevel,
        };
        tls.AddTo(command);
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, (loggers, token2) =>
        {
            var options = new ViewerOptions
            {
                Room = r.GetValue(room)!,
                Token = r.GetValue(token),
                Tls = tls.Get(r, r.GetValue(url)!),
                Reconnect = !r.GetValue(noReconnect),
                MaxFrameBytes = r.GetValue(maxFrame),
                Agent = "socketcam view",
                UdpRecovery = !r.GetValue(noRecovery),
                Participant = r.GetValue(participant),
                Track = r.GetValue(track),
            };
            string? snapshotPath = r.GetValue(snapshot);
            ValidateSnapshotPath(snapshotPath);
            string? recordPath = r.GetValue(record);
            RecordingFormat? recordFormat = recordPath is null ? null : RecordingFormats.FromPath(recordPath);
            bool showWindow = WantsWindow(r.GetValue(window), r.GetValue(noWindow), r.GetValue(json), r.GetValue(quiet), r.GetValue(windowStats));

            var output = new ViewOutput(snapshotPath, recordPath, recordFormat, r.GetValue(json), r.GetValue(quiet))
            {
                Window = showWindow,
                WindowStats = r.GetValue(windowStats),
                AudioOut = r.GetValue(audioOut),
            };
            StreamEndpoint endpoint = ParseUrl(r.GetValue(url)!);
            if (output.AudioOut is not null && endpoint.Scheme.StartsWith("seed", StringComparison.Ordinal))
            {
                throw new UserFacingException("--audio-out needs a SocketCam hub (tcp://, tls://, unix:// or udp://): the seed format carries no sound.");
            }

            return RunAsync(endpoint, options, r.GetValue(frames), r.GetValue(seconds), output, loggers, token2);
        }));
        return command;
    }

    /// <summary>
    /// A person expects a picture: the window opens when there is a display, unless --no-window or --json (a script) says
    /// otherwise; --window insists (and fails in one line without a display). Without one, one line says how to get a picture.
    /// </summary>
    private static bool WantsWindow(bool window, bool noWindow, bool json, bool quiet, bool stats)
    {
        if (window && noWindow)
        {
            throw new ArgumentException("--window and --no-window contradict each other: give one of them.");
        }

        bool hasDisplay = Display.DisplayEnvironment.HasDisplay(Environment.GetEnvironmentVariable);
        if (stats && !window && (noWindow || json || !hasDisplay))
        {
            throw new ArgumentException("--stats draws over the video window: use it with --window.");
        }

        if (window)
        {
            CommandWindow.RequireDisplay("view --window", "use --snapshot FILE.jpg to save a frame instead");
            return true;
        }

        if (noWindow || json)
        {
            return false;
        }

        if (!hasDisplay)
        {
            if (!quiet)
            {
                Console.Error.WriteLine("socketcam: no display here, so statistics only: for a picture open the hub's watch page "
                    + "(http://HOST:8080/rooms/ROOM) in a browser, or save frames with --snapshot FILE.jpg or --record FILE.mkv.");
            }

            return false;
        }

        try
        {
            CommandWindow.RequireDisplay("view", "use --no-window");
            return true;
        }
        catch (Diagnostics.NativeDependencyException ex)
        {
            // A window was not asked for: say what is missing and watch in the terminal.
            Console.Error.WriteLine($"socketcam: {ex.Message} (statistics only; --no-window hides this line)");
            return false;
        }
    }

    /// <summary>tcp://HOST:PORT (the default scheme), unix:///PATH or seed+tcp://HOST:PORT.</summary>
    private static StreamEndpoint ParseUrl(string text) =>
        StreamEndpoint.Parse(text, 1, "tcp", StreamEndpoint.DefaultPort, [.. StreamEndpoint.LiveSchemes, Seed.SeedClient.Scheme]);

    /// <summary>The file must be one we can write; <paramref name="option"/> names where it came from (null: the snapshot command's own argument).</summary>
    public static void ValidateSnapshotPath(string? path, string? option = "--snapshot")
    {
        if (path is not null && Path.GetExtension(path).ToLowerInvariant() is not (".jpg" or ".jpeg" or ".png"))
        {
            string subject = option is null ? $"'{path}'" : $"{option} '{path}'";
            throw new ArgumentException($"{subject}: the file name must end in .jpg, .jpeg or .png (a JPEG or PNG is written).");
        }
    }

    private static async Task<int> RunAsync(StreamEndpoint endpoint, ViewerOptions options, long maxFrames, double seconds, ViewOutput output, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (seconds > 0)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        await using AudioOutput? audio = output.AudioOut is { } audioTarget ? AudioOutput.Start(audioTarget) : null;
        using var viewer = new ViewerClient(endpoint, options, loggers)
        {
            Audio = audio?.Mixer,
            LipSync = audio?.LipSync,
            // Pictures are shown with their sound: held back by the sound's delay (docs/AUDIO.md, "Lip sync").
            SoundDelayMicros = audio is null ? null : () => audio.Player.DelayMicros,
        };
        if (maxFrames > 0)
        {
            viewer.FrameDecoded = _ =>
            {
                if (viewer.Stats.Frames >= maxFrames)
                {
                    stop.Cancel();
                }
            };
        }

        using CommandWindow? window = output.Window
            ? await CommandWindow.ForViewerAsync(viewer, endpoint, options.Room, output.WindowStats, "view --window", stop, loggers)
            : null;
        RecordingSink? recording = output.RecordPath is { } recordPath ? StartRecording(recordPath, output.RecordFormat!.Value, loggers) : null;
        try
        {
            if (recording is not null)
            {
                // Every received frame goes to the recorder before it is decoded; a full recording queue holds the receive
                // loop (TCP pushes back, the hub skips frames for this viewer). A recording that failed ends the viewer.
                viewer.FrameReceivedAsync = async (header, data, ct) =>
                {
                    if (!await recording.EnqueueCopyAsync(header, data, ct))
                    {
                        await stop.CancelAsync();
                    }
                };

                // A recorded call has sound: .mkv and .mp4 keep the watched participant's Opus track (protocol v2, so
                // tcp://, tls:// and unix://); .mjpeg, udp:// and seed+tcp:// record video only.
                if (RecordsAudio(output.RecordFormat!.Value, endpoint))
                {
                    viewer.AudioTrackChanged = recording.SetAudio;
                    viewer.AudioReceivedAsync = async (info, data, ct) =>
                    {
                        if (!await recording.EnqueueCopyAsync(info, data, ct))
                        {
                            await stop.CancelAsync();
                        }
                    };
                }
            }

            Task status = new LiveStats(ViewerLine(viewer.Stats), output.Quiet).RunAsync(stop.Token);
            try
            {
                await viewer.RunAsync(stop.Token);
            }
            catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionRefused && !endpoint.IsUnix)
            {
                // --no-reconnect: the same line the reconnector logs, naming the address and its port.
                throw new UserFacingException($"{endpoint}: connection refused: is `socketcam serve` running there, and is {endpoint.Port} its port?", ex);
            }
            catch (Exception ex) when (ex is IOException or TimeoutException && Seed.SeedClient.IsSeed(endpoint))
            {
                // Without --no-reconnect these are logged with the server's address; as the final error, name it too.
                throw new UserFacingException($"{endpoint}: {ex.Message}", ex);
            }
            finally
            {
                await stop.CancelAsync();
                await status;
                if (recording is not null)
                {
                    await recording.CompleteAsync();
                }

                Finish(viewer, output.Snapshot, output.Json, recording, window);
                if (audio is not null)
                {
                    await Console.Error.WriteLineAsync(audio.SummaryLine(viewer.PresentedLatency.Count > 0 ? viewer.PresentedLatency.Summarize().P50 : null));
                }
            }

            if (recording?.Failure is { } failure)
            {
                throw new UserFacingException($"recording failed: {failure.Message}", failure);
            }
        }
        finally
        {
            if (recording is not null)
            {
                await recording.DisposeAsync();
            }
        }

        int code = viewer.Stats.Frames > 0 || viewer.AudioPackets > 0 ? 0 : 1;
        return window?.ExitCode(code) ?? code;
    }

    /// <summary>Whether `view --record` keeps audio: a format with room for Opus, over a transport that carries it.</summary>
    internal static bool RecordsAudio(RecordingFormat format, StreamEndpoint endpoint) =>
        format != RecordingFormat.Mjpeg && endpoint.Scheme is "tcp" or "tls" or "unix";

    private static RecordingSink StartRecording(string path, RecordingFormat format, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger("SocketCam.Recording");
        var options = new RecordingOptions();
        IFrameRecorder recorder;
        try
        {
            recorder = FrameRecorders.Create(format, path, options, overwrite: true, logger);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--record '{path}': {CannotWrite(path, ex)}", ex);
        }

        return RecordingSink.Start(path, recorder, options, logger);
    }

    /// <summary>Why a file cannot be written, in our words (.NET's "Could not find a part of the path" does not say which part).</summary>
    internal static string CannotWrite(string path, Exception ex)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return ex switch
        {
            DirectoryNotFoundException => $"the directory {directory} does not exist: create it or record somewhere else",
            UnauthorizedAccessException => $"no permission to write in {directory}: record somewhere else",
            _ => ex.Message,
        };
    }

    /// <summary>Writes the snapshot, the recording line and the JSON summary; shared by view and demo.</summary>
    public static void Finish(ViewerClient viewer, string? snapshot, bool json, RecordingSink? recording = null, CommandWindow? window = null)
    {
        ViewerStats s = viewer.Stats;
        if (snapshot is not null)
        {
            if (viewer.LastPicture is { } picture)
            {
                SnapshotWriter.Save(picture, snapshot);
                Console.Error.WriteLine($"Snapshot of frame {picture.Sequence} ({picture.Width}x{picture.Height}) written to {snapshot}");
            }
            else
            {
                Console.Error.WriteLine("No frame was received: no snapshot written.");
            }
        }

        LatencySummaryLine(s);
        if (recording is not null)
        {
            Console.Error.WriteLine(RecordingLine(recording));
        }

        if (window is not null)
        {
            Console.Error.WriteLine(window.SummaryLine());
        }

        if (json)
        {
            Console.Out.WriteLine(JsonSummary.Viewer(s, recording, window?.Stats));
            Console.Out.Flush();
        }
    }

    private static string RecordingLine(RecordingSink recording)
    {
        RecordingQueue queue = recording.Queue;
        string line = recording.FramesRecorded == 0
            ? $"recorded no frames: {recording.Name} not written"
            : $"recorded {recording.FramesRecorded} frames to {recording.Name} ({LiveStats.Size(recording.BytesRecorded)})"
                + (recording.AudioPacketsRecorded > 0 ? $" with {recording.AudioPacketsRecorded} audio packets" : "");
        if (queue.StallEpisodes > 0)
        {
            line += string.Create(CultureInfo.InvariantCulture, $"; the recorder held the input back {queue.Stalled.TotalSeconds:0.0} s in all");
        }

        return line;
    }

    private static void LatencySummaryLine(ViewerStats s)
    {
        var l = s.Latency;
        string latency = s.MeasuresLatency ? string.Create(CultureInfo.InvariantCulture, $", skipped {s.Dropped}, latency p50 {l.P50:0.0} ms p99 {l.P99:0.0} ms max {l.Max:0.0} ms") : "";
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Frames} frames, {s.Fps:0.0} fps, {s.Width}x{s.Height}, {s.Bytes / 1e6:0.0} MB{latency}, frozen {s.FreezeTime.TotalSeconds:0.00} s in {s.Freezes} pauses over {ViewerStats.FreezeThreshold.TotalMilliseconds:0} ms"));
    }

    public static Func<TimeSpan, string> ViewerLine(ViewerStats stats)
    {
        long lastFrames = 0;
        long lastBytes = 0;
        return interval =>
        {
            long frames = stats.Frames;
            long bytes = stats.Bytes;
            var l = stats.Latency;
            // While the source is down the hub sends no frames: say why instead of showing a frame rate of 0.
            string line = stats.Retry is { } retry ? RetryLine(retry, DateTime.UtcNow)
                : stats.SignalReason is { } reason ? NoSignalLine(reason)
                : stats.NoPublisher is { } noPublisher ? noPublisher
                : frames == 0 ? "waiting for frames..."
                : !stats.MeasuresLatency ? string.Create(CultureInfo.InvariantCulture,
                    $"{stats.Width}x{stats.Height} {(frames - lastFrames) / interval.TotalSeconds,5:0.0} fps  {LiveStats.Rate((bytes - lastBytes) / interval.TotalSeconds)}  frames {frames}")
                : string.Create(CultureInfo.InvariantCulture,
                    $"{stats.Width}x{stats.Height} {(frames - lastFrames) / interval.TotalSeconds,5:0.0} fps  {LiveStats.Rate((bytes - lastBytes) / interval.TotalSeconds)}  latency p50 {l.P50:0.0} ms p99 {l.P99:0.0} ms  skipped {stats.Dropped}  rtt {stats.RttMilliseconds:0.00} ms  frames {frames}");
            lastFrames = frames;
            lastBytes = bytes;
            return line;
        };
    }

    /// <summary>Not connected: why, and when the next try is (the reconnector logs only the first failure of a kind).</summary>
    internal static string RetryLine(RetryState retry, DateTime now)
    {
        double seconds = Math.Ceiling((retry.NextAttempt - now).TotalSeconds);
        string when = seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"retrying in {seconds:0} s") : "retrying now";
        return $"not connected ({retry.Reason}): {when}, attempt {retry.Attempts + 1}";
    }

    private static string NoSignalLine(string reason) => reason.Length == 0 ? "NO SIGNAL" : "NO SIGNAL: " + reason;
}

/// <summary>What view writes besides its status line.</summary>
internal sealed record ViewOutput(string? Snapshot, string? RecordPath, RecordingFormat? RecordFormat, bool Json, bool Quiet)
{
    /// <summary>--window: show the video in a desktop window.</summary>
    public bool Window { get; init; }

    /// <summary>--stats: the window's overlay.</summary>
    public bool WindowStats { get; init; }

    /// <summary>--audio-out: a .wav file or speaker; null: no audio.</summary>
    public string? AudioOut { get; init; }
}
