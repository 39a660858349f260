using System.CommandLine;
using SocketCam.Audio;
using SocketCam.Ffmpeg;
using SocketCam.Sources;

namespace SocketCam.Cli.Commands;

/// <summary>`socketcam devices`: the V4L2 cameras here, with their formats and sizes, and the microphones.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var command = new Command("devices", "List cameras (/dev/video*) with their formats and sizes, and microphones, as --source and --audio name them") { logLevel };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (_, token) =>
        {
            IReadOnlyList<string> devices = CameraDevices.List();
            if (devices.Count == 0)
            {
                Console.WriteLine("No cameras found (no /dev/video* devices). Use --source pattern, lavfi:GRAPH, file:PATH or screen instead.");
            }
            else
            {
                FfmpegTool.Locate();
            }

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

            PrintMicrophones();
            return 0;
        }));
        return command;
    }

    /// <summary>Microphones, as --audio names them: PulseAudio's default source, ALSA's capture devices with their cards' names.</summary>
    private static void PrintMicrophones()
    {
        IReadOnlyList<string> alsa = Microphones.AlsaCaptureDevices();
        bool pulse = Microphones.PulseRunning();
        if (!pulse && alsa.Count == 0)
        {
            Console.WriteLine("No microphones found (no PulseAudio, no ALSA capture device). Use --audio lavfi:sine=frequency=440 or file:PATH for sound, or --audio none.");
            return;
        }

        Console.WriteLine("Microphones:");
        if (pulse)
        {
            Console.WriteLine("  PulseAudio default source: --audio mic (others: pulse:NAME, as `pactl list short sources` names them)");
        }

        foreach (string device in alsa)
        {
            string card = device[3..].Split(',')[0];
            string name = File.Exists($"/proc/asound/card{card}/id") ? File.ReadAllText($"/proc/asound/card{card}/id").Trim() : "";
            Console.WriteLine($"  ALSA {device} {name}: --audio mic:{device}");
        }
    }
}
