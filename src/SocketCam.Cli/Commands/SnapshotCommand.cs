using System.CommandLine;
using Microsoft.Extensions.Logging;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Transfer;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

/// <summary>`socketcam snapshot URL FILE`: one frame from a room, saved as JPEG or PNG.</summary>
internal static class SnapshotCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "The hub, e.g. tcp://192.168.1.5:9999 (or tls://, unix:///PATH; see docs/PROTOCOL.md)" };
        var file = new Argument<string>("file") { Description = "Where to save the frame: FILE.jpg (a JPEG frame is saved byte for byte) or FILE.png" };
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var tls = new TlsOptionSet();
        var timeout = new Option<double>("--timeout") { Description = "Give up after this many seconds without a frame", DefaultValueFactory = _ => 10 };
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var command = new Command("snapshot", "Save one frame of a room to a .jpg or .png file, then exit")
        {
            url, file, room, token, timeout, logLevel,
        };
        tls.AddTo(command);
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, (loggers, token2) =>
        {
            string path = r.GetValue(file)!;
            ViewCommand.ValidateSnapshotPath(path, option: null);
            var options = new ViewerOptions
            {
                Room = r.GetValue(room)!,
                Token = r.GetValue(token),
                Tls = tls.Get(r, r.GetValue(url)!),
                Reconnect = false,
                Agent = "socketcam snapshot",
            };
            return RunAsync(StreamEndpoint.Parse(r.GetValue(url)!), options, path, TimeSpan.FromSeconds(r.GetValue(timeout)), loggers, token2);
        }));
        return command;
    }

    private static async Task<int> RunAsync(StreamEndpoint endpoint, ViewerOptions options, string path, TimeSpan timeout, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(timeout);
        using var viewer = new ViewerClient(endpoint, options, loggers);
        bool jpegFile = Path.GetExtension(path).ToLowerInvariant() is ".jpg" or ".jpeg";
        byte[]? received = null;
        byte[]? jpeg = null;
        viewer.FrameReceived = (header, data) =>
        {
            received = jpegFile && header.Codec == CodecId.Jpeg
                ? System.Buffers.BuffersExtensions.ToArray(data) // the hub's JPEG as it is: no second lossy encode
                : null;
        };
        viewer.FrameDecoded = _ =>
        {
            jpeg = received; // the JPEG of the very frame that decoded (a corrupt one never gets here)
            stop.Cancel();
        };
        try
        {
            await viewer.RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
        }

        VideoFrame? picture = viewer.LastPicture;
        if (picture is null)
        {
            throw new UserFacingException(cancellationToken.IsCancellationRequested
                ? "interrupted before a frame arrived."
                : $"no frame arrived within {timeout.TotalSeconds:0.#} s (is anything publishing to room '{options.Room}'?).");
        }

        if (jpeg is not null)
        {
            await AtomicFile.WriteAsync(path, jpeg, CancellationToken.None);
        }
        else
        {
            SnapshotWriter.Save(picture, path);
        }

        Console.WriteLine($"{path}: frame {picture.Sequence}, {picture.Width}x{picture.Height}, {new FileInfo(path).Length} bytes");
        return 0;
    }
}
