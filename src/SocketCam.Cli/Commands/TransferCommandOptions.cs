using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using SocketCam.Cli.Output;
using SocketCam.Transfer;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

/// <summary>Options and output shared by send-image and receive-image.</summary>
internal static class TransferCommandOptions
{
    /// <summary>A number of seconds: finite, above 0, at most 1e6.</summary>
    public static Option<double> Seconds(string name, string description, double? defaultSeconds)
    {
        var option = new Option<double>(name) { Description = description, HelpName = "SECONDS" };
        if (defaultSeconds is { } d)
        {
            option.DefaultValueFactory = _ => d;
        }

        option.Validators.Add(r =>
        {
            if (r.Implicit)
            {
                return;
            }

            double value = r.GetValueOrDefault<double>();
            if (!double.IsFinite(value) || value is <= 0 or > 1e6)
            {
                r.AddError($"{name} must be a number of seconds above 0 and at most 1000000, not '{(r.Tokens.Count > 0 ? r.Tokens[0].Value : "?")}'.");
            }
        });
        return option;
    }

    public static Option<double> Timeout(string whoIsSilent) => Seconds(
        "--timeout",
        $"Give up when {whoIsSilent} has been silent this many seconds during the transfer",
        10);

    public static ImageTransferOptions Options(double timeoutSeconds, double? waitSeconds = null, long maxBytes = TransferProtocol.DefaultMaxFileBytes, double megabytesPerSecond = 25) => new()
    {
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        StartTimeout = waitSeconds is { } w ? TimeSpan.FromSeconds(w) : System.Threading.Timeout.InfiniteTimeSpan,
        MaxFileBytes = maxBytes,
        MaxBytesPerSecond = megabytesPerSecond * 1e6,
    };

    /// <summary>
    /// A listening address for <paramref name="scheme"/>: <c>PORT</c>, <c>:PORT</c> (both: every interface),
    /// <c>HOST:PORT</c> or <c>SCHEME://HOST:PORT</c>; port 0 lets the system pick a free one.
    /// </summary>
    public static async Task<IPEndPoint> ParseListenAsync(string text, string scheme, CancellationToken cancellationToken)
    {
        string address = text.Trim();
        if (address.Length > 0 && address.All(char.IsAsciiDigit))
        {
            address = "0.0.0.0:" + address;
        }
        else if (address.StartsWith(':'))
        {
            address = "0.0.0.0" + address;
        }

        StreamEndpoint endpoint = StreamEndpoint.Parse(address, minPort: 0, defaultScheme: scheme, defaultPort: null, [scheme]);
        if (endpoint.Host is "*" or "0.0.0.0")
        {
            return new IPEndPoint(IPAddress.Any, endpoint.Port);
        }

        return await endpoint.ResolveAsync(cancellationToken);
    }

    /// <summary>"1 NACK", "2 NACKs".</summary>
    public static string Count(long n, string noun) => string.Create(CultureInfo.InvariantCulture, $"{n} {noun}{(n == 1 ? "" : "s")}");

    public static string Sha256Hex(TransferReport report) => Convert.ToHexStringLower(report.Sha256);

    public static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>The JSON summary line both commands print with --json.</summary>
    public static string Json(string role, string file, TransferReport report) => JsonSummary.Write(w =>
    {
        w.WriteString("role", role);
        w.WriteString("file", file);
        w.WriteString("transport", report.Transport);
        w.WriteString("peer", $"{report.Transport}://{report.Peer}");
        w.WriteNumber("bytes", report.Bytes);
        w.WriteString("crc32", Crc32.Format(report.Crc32));
        w.WriteString("sha256", Sha256Hex(report));
        w.WriteNumber("seconds", Math.Round(report.Elapsed.TotalSeconds, 3));
        if (report.Transport == "udp")
        {
            WriteUdp(w, report);
        }
    });

    private static void WriteUdp(Utf8JsonWriter w, TransferReport report)
    {
        w.WriteNumber("parts", report.Parts);
        w.WriteNumber("datagrams", report.Datagrams);
        w.WriteNumber("retransmitted", report.Retransmitted);
        w.WriteNumber("nacks", report.Nacks);
        w.WriteNumber("duplicates", report.Duplicates);
        w.WriteNumber("ignored", report.Ignored);
    }
}
