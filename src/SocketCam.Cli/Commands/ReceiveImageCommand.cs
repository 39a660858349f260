using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Transfer;

using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class ReceiveImageCommand
{
    public static Command Create()
    {
        const string AddressForms = "HOST:PORT, :PORT or PORT (every interface); port 0 picks a free one, which is printed";
        var tcp = new Option<string?>("--tcp") { Description = $"Receive over TCP, listening on {AddressForms}", HelpName = "ADDR" };
        var udp = new Option<string?>("--udp") { Description = $"Receive over UDP, listening on {AddressForms}", HelpName = "ADDR" };
        var output = new Option<string>("--out", "-o")
        {
            Description = "Where to write the file (replaced if it exists), only once it is complete and its CRC-32 matches",
            HelpName = "FILE",
            Required = true,
        };
        var timeout = TransferCommandOptions.Timeout("the sender");
        var wait = TransferCommandOptions.Seconds("--wait", "Give up if no transfer starts within this many seconds (default: wait until Ctrl+C)", null);
        var maxBytes = new Option<long>("--max-bytes")
        {
            Description = $"Refuse files larger than this many bytes, before allocating anything (default 256 MiB, at most {TransferProtocol.MaxFileBytesLimit})",
            HelpName = "BYTES",
            DefaultValueFactory = _ => TransferProtocol.DefaultMaxFileBytes,
        };
        maxBytes.Validators.Add(r =>
        {
            long value = r.GetValueOrDefault<long>();
            if (value < 0 || value > TransferProtocol.MaxFileBytesLimit)
            {
                r.AddError($"--max-bytes must be between 0 and {TransferProtocol.MaxFileBytesLimit}, not '{(r.Tokens.Count > 0 ? r.Tokens[0].Value : "?")}'.");
            }
        });
        var json = CommonOptions.Json();
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("receive-image", "Receive one file from `socketcam send-image` and write it to --out once complete and checked")
        {
            tcp, udp, output, timeout, wait, maxBytes, json, logLevel,
        };
        command.Validators.Add(r =>
        {
            bool hasTcp = r.GetResult(tcp) is not null;
            bool hasUdp = r.GetResult(udp) is not null;
            if (hasTcp == hasUdp)
            {
                r.AddError("receive-image needs exactly one of --tcp ADDR or --udp ADDR.");
            }
        });
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token) =>
        {
            string path = r.GetValue(output)!;
            AtomicFile.CheckWritable(path);
            bool overUdp = r.GetValue(udp) is not null;
            string scheme = overUdp ? "udp" : "tcp";
            IPEndPoint listen = await TransferCommandOptions.ParseListenAsync((overUdp ? r.GetValue(udp) : r.GetValue(tcp))!, scheme, token);
            double? waitSeconds = r.GetResult(wait) is null ? null : r.GetValue(wait);
            ImageTransferOptions options = TransferCommandOptions.Options(r.GetValue(timeout), waitSeconds, r.GetValue(maxBytes));
            ILogger logger = loggers.CreateLogger("SocketCam.Transfer");
            bool asJson = r.GetValue(json);
            try
            {
                if (overUdp)
                {
                    using var receiver = AddressInUse.Wrap(() => new UdpImageReceiver(listen, options, logger), listen, "--udp", "another receive-image?");
                    PrintListening(scheme, receiver.LocalEndPoint);
                    await receiver.ReceiveAsync(path, report => Print(path, report, asJson), token);
                }
                else
                {
                    using var receiver = AddressInUse.Wrap(() => new TcpImageReceiver(listen, options, logger), listen, "--tcp", "another receive-image?");
                    PrintListening(scheme, receiver.LocalEndPoint);
                    Print(path, await receiver.ReceiveAsync(path, token), asJson);
                }

                return 0;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                throw new UserFacingException($"interrupted before a file was received: nothing was written to {path}.");
            }
        }));
        return command;
    }

    private static void PrintListening(string scheme, IPEndPoint bound)
    {
        Console.Out.WriteLine($"listening on {scheme}://{bound}");
        Console.Out.Flush();
        foreach (IPAddress address in ServeCommand.ReachableAddresses(bound))
        {
            Console.Error.WriteLine($"  send with:  socketcam send-image {scheme}://{ServeCommand.FormatHost(address)}:{bound.Port} FILE");
        }
    }

    private static void Print(string path, TransferReport report, bool json)
    {
        string udp = report.Transport == "udp"
            ? string.Create(CultureInfo.InvariantCulture, $", {TransferCommandOptions.Count(report.Parts, "part")}, {TransferCommandOptions.Count(report.Datagrams, "datagram")}, {TransferCommandOptions.Count(report.Duplicates, "duplicate")}, {report.Ignored} ignored, {TransferCommandOptions.Count(report.Nacks, "NACK")}")
            : "";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {path}: {report.Bytes} bytes, crc32 {Crc32.Format(report.Crc32)}, sha256 {TransferCommandOptions.Sha256Hex(report)} (from {report.Transport}://{report.Peer}{udp}, {TransferCommandOptions.Seconds(report.Elapsed)} s)"));
        if (json)
        {
            Console.Out.WriteLine(TransferCommandOptions.Json("receiver", path, report));
        }

        Console.Out.Flush();
    }
}
