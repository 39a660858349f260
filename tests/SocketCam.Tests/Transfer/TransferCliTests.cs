using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;
using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

/// <summary>`socketcam send-image` and `socketcam receive-image` end to end, as child processes on 127.0.0.1.</summary>
[Collection(NetworkCollection.Name)]
public sealed partial class TransferCliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-transfer-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public async Task Send_image_to_receive_image_gives_an_identical_file_and_both_print_size_and_checksum(string transport)
    {
        byte[] image = TransferTesting.Bytes(200_000, seed: 11);
        string input = Path.Combine(_directory, "photo.jpg");
        string output = Path.Combine(_directory, "copy.jpg");
        await File.WriteAllBytesAsync(input, image);
        string crc = Crc32.Format(Crc32.Compute(image));

        await using CliProcess receive = CliProcess.Start(_directory, "receive-image", $"--{transport}", "127.0.0.1:0", "--out", output, "--json", "--timeout", "10");
        int port = await ListeningPortAsync(receive, transport);
        (int sendCode, CliProcess send) = await CliProcess.RunAsync(_directory, ProcessTimeout, "send-image", $"{transport}://127.0.0.1:{port}", input, "--json");
        await using (send)
        {
            Assert.True(sendCode == 0, $"send-image exit code {sendCode}{Environment.NewLine}{send.Transcript()}");
            Assert.Contains(send.Stdout, l => l.StartsWith($"sent {input} to {transport}://127.0.0.1:{port}: 200000 bytes, crc32 {crc}", StringComparison.Ordinal));
            JsonElement json = send.LastJsonLine();
            Assert.Equal(200_000, json.GetProperty("bytes").GetInt64());
            Assert.Equal(crc, json.GetProperty("crc32").GetString());
            if (transport == "udp")
            {
                Assert.True(json.GetProperty("datagrams").GetInt64() >= 173, send.Transcript());
                Assert.Equal(JsonValueKind.Number, json.GetProperty("retransmitted").ValueKind);
            }
        }

        int receiveCode = await receive.WaitForExitAsync(ProcessTimeout);
        Assert.True(receiveCode == 0, $"receive-image exit code {receiveCode}{Environment.NewLine}{receive.Transcript()}");
        Assert.Equal(image, await File.ReadAllBytesAsync(output));
        Assert.Contains(receive.Stdout, l => l.StartsWith($"wrote {output}: 200000 bytes, crc32 {crc}, sha256 ", StringComparison.Ordinal));
        JsonElement received = receive.LastJsonLine();
        Assert.Equal(crc, received.GetProperty("crc32").GetString());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image)), received.GetProperty("sha256").GetString());
        Assert.Equal(transport, received.GetProperty("transport").GetString());
        AssertNoStackTrace(receive);
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Theory]
    [InlineData("receive-image", "--out", "x.bin")]
    [InlineData("receive-image", "--tcp", "0", "--udp", "0", "--out", "x.bin")]
    [InlineData("receive-image", "--udp", "127.0.0.1:0")]
    [InlineData("receive-image", "--udp", "127.0.0.1:0", "--out", "x.bin", "--timeout", "0")]
    [InlineData("receive-image", "--udp", "127.0.0.1:0", "--out", "x.bin", "--max-bytes", "-1")]
    [InlineData("receive-image", "--tcp", "udp://127.0.0.1:0", "--out", "x.bin")]
    [InlineData("send-image", "127.0.0.1:9", "x.bin")]
    [InlineData("send-image", "udp://127.0.0.1", "x.bin")]
    [InlineData("send-image", "udp://127.0.0.1:9", "x.bin", "--max-rate", "NaN")]
    public async Task A_usage_error_is_one_line_and_exit_code_2(params string[] args)
    {
        await File.WriteAllBytesAsync(Path.Combine(_directory, "x.bin"), [1, 2, 3]);
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, args);
        await using (cli)
        {
            Assert.True(code == 2, $"exit code {code}{Environment.NewLine}{cli.Transcript()}");
            string[] lines = [.. cli.Stderr.Where(l => l.Length > 0)];
            Assert.True(lines.Length == 1, $"expected one line on stderr:{Environment.NewLine}{cli.Transcript()}");
            Assert.StartsWith("socketcam:", lines[0], StringComparison.Ordinal);
            AssertNoStackTrace(cli);
        }
    }

    [Fact]
    public async Task Receive_image_that_gets_no_transfer_fails_with_one_line_and_writes_nothing()
    {
        string output = Path.Combine(_directory, "never.bin");
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "receive-image", "--udp", "127.0.0.1:0", "--out", output, "--wait", "0.5");
        await using (cli)
        {
            Assert.True(code == 1, $"exit code {code}{Environment.NewLine}{cli.Transcript()}");
            string error = Assert.Single(cli.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Contains("no transfer arrived", error, StringComparison.Ordinal);
            Assert.False(File.Exists(output));
            AssertNoStackTrace(cli);
        }
    }

    [Fact]
    public async Task Send_image_where_nothing_listens_fails_with_one_line()
    {
        string input = Path.Combine(_directory, "x.bin");
        await File.WriteAllBytesAsync(input, TransferTesting.Bytes(5000));
        int port;
        using (var probe = new UdpImageReceiver(TransferTesting.Loopback0))
        {
            port = probe.LocalEndPoint.Port;
        }

        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "send-image", $"udp://127.0.0.1:{port}", input, "--timeout", "5");
        await using (cli)
        {
            Assert.True(code == 1, $"exit code {code}{Environment.NewLine}{cli.Transcript()}");
            string error = Assert.Single(cli.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Contains("nothing is listening", error, StringComparison.Ordinal);
            AssertNoStackTrace(cli);
        }
    }

    [Fact]
    public async Task Help_lists_the_transfer_commands()
    {
        (int code, CliProcess help) = await CliProcess.RunAsync(_directory, ProcessTimeout, "--help");
        await using (help)
        {
            Assert.Equal(0, code);
            string text = string.Join('\n', help.Stdout);
            Assert.Matches(new Regex(@"^\s+send-image\b", RegexOptions.Multiline), text);
            Assert.Matches(new Regex(@"^\s+receive-image\b", RegexOptions.Multiline), text);
        }
    }

    private static async Task<int> ListeningPortAsync(CliProcess receive, string transport)
    {
        string line = await receive.WaitForStdoutLineAsync(l => l.StartsWith($"listening on {transport}://", StringComparison.Ordinal), ProcessTimeout);
        Match match = ListeningPattern().Match(line);
        Assert.True(match.Success, $"unexpected line: {line}");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static void AssertNoStackTrace(CliProcess process)
    {
        Assert.False(process.Stderr.Concat(process.Stdout).Any(l => l.Contains("   at ", StringComparison.Ordinal)), $"a stack trace was printed{Environment.NewLine}{process.Transcript()}");
    }

    [GeneratedRegex(@"^listening on (?:tcp|udp)://127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningPattern();
}
