using System.CommandLine;
using System.CommandLine.Parsing;
using SocketCam.Cli.Commands;

namespace SocketCam.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand(
            """
            SocketCam: live camera video over sockets.
            A hub (`serve`) captures or receives frames and fans them out to any number of viewers; `view` watches,
            `publish` feeds a room from another machine, `demo` shows it all in one process, `bench` measures it.

            Quick start:  socketcam demo
                          socketcam serve            (then, elsewhere)  socketcam view tcp://HOST:9999
            """)
        {
            ServeCommand.Create(),
            ViewCommand.Create(),
            PublishCommand.Create(),
            DemoCommand.Create(),
            BenchCommand.Create(),
            SendImageCommand.Create(),
            ReceiveImageCommand.Create(),
        };
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Usage errors: one line each, what is wrong and how to fix it, and exit code 2 (never a stack trace).
            foreach (ParseError error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"socketcam: {error.Message}");
            }

            return 2;
        }

        return await parsed.InvokeAsync();
    }
}
