using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Transfer;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class SendImageCommand
{
    private static readonly string[] Schemes = ["tcp", "udp"];

    public static Command Create()
    {
        var url = new Argument<string>("url")
        {
            Description = "Where `socketcam receive-image` listens: tcp://HOST:PORT or udp://HOST:PORT",
        };
        var file = new Argument<string>("file") { Description = "The file to send (an image or any other bytes, at most 2 GiB)" };
        var timeout = TransferCommandOptions.Timeout("the receiver");
        var maxRate = new Option<double>("--max-rate")
        {
            Description = "UDP: send at most this many megabytes per second (0 = as fast as the socket takes them)",
            HelpName = "MB/S",
            DefaultValueFactory = _ => 25,
        };
        maxRate.Validators.Add(r =>
        {
            double value = r.GetValueOrDefault<double>();
            if (!double.IsFinite(value) || value is < 0 or > 100_000)
            {
                r.AddError($"--max-rate must be between 0 and 100000 megabytes per second, not '{(r.Tokens.Count > 0 ? r.Tokens[0].Value : "?")}'.");
            }
        });
        var json = CommonOptions.Json();
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("send-image", "Send one file to `socketcam receive-image` over TCP or UDP, checked end to end (see docs/PROTOCOL.md)")
        {
            url, file, timeout, maxRate, json, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token) =>
        {
            StreamEndpoint endpoint = StreamEndpoint.Parse(r.GetValue(url)!, minPort: 1, defaultScheme: null, defaultPort: null, Schemes);
            string path = r.GetValue(file)!;
            byte[] data = await ReadFileAsync(path, token);
            ImageTransferOptions options = TransferCommandOptions.Options(r.GetValue(timeout), megabytesPerSecond: r.GetValue(maxRate));
            ILogger logger = loggers.CreateLogger("SocketCam.Transfer");
            try
            {
                IPEndPoint target = await endpoint.ResolveAsync(token);
                TransferReport report;
                if (endpoint.Scheme == "udp")
                {
                    using var sender = new UdpImageSender(target, data, options, logger);
                    report = await sender.SendAsync(token);
                }
                else
                {
                    report = await new TcpImageSender(options, logger).SendAsync(target, data, token);
                }

                Print(path, report, r.GetValue(json));
                return 0;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                throw new UserFacingException($"interrupted: the transfer to {endpoint} was not completed.");
            }
        }));
        return command;
    }

    private static async Task<byte[]> ReadFileAsync(string path, CancellationToken cancellationToken)
    {
        if (Directory.Exists(path))
        {
            throw new UserFacingException($"'{path}' is a directory: give a file to send.");
        }

        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new UserFacingException($"no such file: '{path}'.");
        }

        if (info.Length > TransferProtocol.MaxFileBytesLimit)
        {
            throw new UserFacingException($"'{path}' is {info.Length} bytes: send-image sends at most {TransferProtocol.MaxFileBytesLimit}.");
        }

        return await File.ReadAllBytesAsync(path, cancellationToken);
    }

    private static void Print(string path, TransferReport report, bool json)
    {
        string udp = report.Transport == "udp"
            ? string.Create(CultureInfo.InvariantCulture, $", {TransferCommandOptions.Count(report.Parts, "part")} in {TransferCommandOptions.Count(report.Datagrams, "datagram")} ({report.Retransmitted} retransmitted, {TransferCommandOptions.Count(report.Nacks, "NACK")})")
            : "";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sent {path} to {report.Transport}://{report.Peer}: {report.Bytes} bytes, crc32 {Crc32.Format(report.Crc32)}, sha256 {TransferCommandOptions.Sha256Hex(report)}{udp}, confirmed by the receiver in {TransferCommandOptions.Seconds(report.Elapsed)} s"));
        if (json)
        {
            Console.Out.WriteLine(TransferCommandOptions.Json("sender", path, report));
        }

        Console.Out.Flush();
    }
}
