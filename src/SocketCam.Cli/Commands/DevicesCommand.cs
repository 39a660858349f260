using System.CommandLine;
using SocketCam.Ffmpeg;
using SocketCam.Sources;

namespace SocketCam.Cli.Commands;

/// <summary>`socketcam devices`: the V4L2 cameras here, with their formats and sizes.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var command = new Command("devices", "List cameras (/dev/video*) with their formats and sizes, as --source camera:N uses them") { logLevel };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (_, token) =>
        {
            IReadOnlyList<string> devices = CameraDevices.List();
            if (devices.Count == 0)
            {
                Console.WriteLine("No cameras found (no /dev/video* devices). Use --source pattern, lavfi:GRAPH, file:PATH or screen instead.");
                return 0;
            }

            FfmpegTool.Locate();
            foreach (string device in devices)
            {
                IReadOnlyList<CameraFormat> formats = await CameraDevices.ListFormatsAsync(device, token);
                Console.WriteLine(formats.Count == 0 ? $"{device}: no capture formats (metadata node, or busy)" : $"{device}:");
                foreach (CameraFormat format in formats)
                {
                    string passthrough = format.Name == "mjpeg" ? "  (passed through without re-encoding)" : "";
                    Console.WriteLine($"  {(format.Compressed ? "compressed" : "raw"),-10} {format.Name,-8} {format.Description}{passthrough}");
                    Console.WriteLine($"             sizes: {string.Join(' ', format.Sizes)}");
                }
            }

            return 0;
        }));
        return command;
    }
}
