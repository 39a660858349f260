using System.CommandLine;
using System.CommandLine.Parsing;
using SocketCam.Cli.Commands;

namespace SocketCam.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // First of all, so a Ctrl+C at any moment (even while the command starts) stops it the same way.
        using var signals = new TerminationSignals();
        ParseResult parsed = CreateRoot().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Usage errors: one line each, what is wrong and how to fix it, and exit code 2 (never a stack trace).
            foreach (ParseError error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"socketcam: {error.Message}");
            }

            return 2;
        }

        // Ctrl+C is TerminationSignals' (System.CommandLine's handler would come too late and its 2 s default is too short).
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, signals.Token);
    }

    /// <summary>Every command and option, as `socketcam` parses them (the help tests walk it).</summary>
    internal static RootCommand CreateRoot() => NameValues(new RootCommand(
        """
        SocketCam: live camera video over sockets.
        A hub (`serve`) captures (camera, file, screen, image, ffmpeg graph, test pattern) or receives frames and
        fans them out to any number of viewers; `view` watches (and records), `publish` feeds a room from another
        machine, `call` joins a video call (everyone publishes and watches, with text chat), `snapshot` saves one frame,
        `devices` lists cameras, `send-image`/`receive-image` move one file over TCP or UDP, `sniff` shows SocketCam traffic
        on the wire, `demo` shows it all in one process, `bench` measures it. Details: README.md and docs/*.md.

        Quick start:  socketcam demo
                      socketcam serve            (then, elsewhere)  socketcam view tcp://HOST:9999
                      socketcam serve            (then, on each machine)  socketcam call tcp://HOST:9999/family --name Ana
                                                 (or in a browser)  http://HOST:8080/call/family
                      socketcam serve --source file:clip.mp4 --loop --record recordings/
        """)
    {
        ServeCommand.Create(),
        ViewCommand.Create(),
        PublishCommand.Create(),
        CallCommand.Create(),
        DemoCommand.Create(),
        BenchCommand.Create(),
        SnapshotCommand.Create(),
        DevicesCommand.Create(),
        RoomsCommand.Create(),
        TokenCommand.Create(),
        SendImageCommand.Create(),
        ReceiveImageCommand.Create(),
        SniffCommand.Create(),
    });

    // Value names for options that set none, here once so that one thing has one name in every command's help
    // (System.CommandLine would print the option's own name in lower case: `--frames <frames>`).
    private static readonly Dictionary<string, string> ValueNames = new(StringComparer.Ordinal)
    {
        ["--fps"] = "FPS",
        ["--frames"] = "N",
        ["--viewers"] = "N",
        ["--chat-rate"] = "N",
        ["--seconds"] = "SECONDS",
        ["--timeout"] = "SECONDS",
        ["--size"] = "WxH",
        ["--quality"] = "1-100",
        ["--subsampling"] = "420|422|444|gray",
        ["--max-frame-bytes"] = "BYTES",
        ["--log-level"] = "LEVEL",
        ["--name"] = "NAME",
        ["--participant"] = "NAME",
        ["--track"] = "LABEL",
        ["--room"] = "ROOM",
        ["--snapshot"] = "FILE",
    };

    private static RootCommand NameValues(RootCommand root)
    {
        foreach (Command command in root.Subcommands)
        {
            foreach (Option option in command.Options)
            {
                if (ValueNames.TryGetValue(option.Name, out string? name))
                {
                    option.HelpName = name;
                }
            }
        }

        return root;
    }
}
