using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SocketCam.Tests.Support;

/// <summary>
/// A Python program from tests/SocketCam.Tests/Seed/Programs (copied next to the test assembly) run by Debian's
/// python3 with python3-opencv and python3-numpy (scripts/setup installs them), standard output and error captured
/// line by line. Disposing kills it if it is still running.
/// </summary>
internal sealed class PythonProgram : IAsyncDisposable
{
    private readonly ChildProcess _child;

    private PythonProgram(ChildProcess child)
    {
        _child = child;
    }

    /// <summary>
    /// Debian's interpreter (the one python3-opencv is installed for), not whatever `python3` is first on PATH:
    /// SOCKETCAM_TEST_PYTHON overrides it.
    /// </summary>
    public static string Interpreter =>
        Environment.GetEnvironmentVariable("SOCKETCAM_TEST_PYTHON") is { Length: > 0 } python ? python
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public int Id => _child.Id;

    public bool HasExited => _child.HasExited;

    public IReadOnlyList<string> Stdout => _child.Stdout;

    public static string ScriptPath(string script) => Path.Combine(AppContext.BaseDirectory, "Seed", "Programs", script);

    public static PythonProgram Start(string script, params string[] args)
    {
        string path = ScriptPath(script);
        Assert.True(File.Exists(path), $"{path} is missing: the test project copies Seed/Programs/*.py to its output.");
        return new PythonProgram(ChildProcess.Start(
            $"{script} {string.Join(' ', args)}",
            Interpreter,
            [path, .. args],
            AppContext.BaseDirectory,
            new Dictionary<string, string?> { ["PYTHONDONTWRITEBYTECODE"] = "1" },
            transcriptLines: 60));
    }

    /// <summary>Runs to completion (killed after <paramref name="timeout"/>, which fails the test); fails the test on a non-zero exit.</summary>
    public static async Task<PythonProgram> RunAsync(string script, TimeSpan timeout, params string[] args)
    {
        PythonProgram program = Start(script, args);
        try
        {
            int code = await program.WaitForExitAsync(timeout);
            Assert.True(code == 0, $"{program._child.Name} exited with {code}{Environment.NewLine}{program.Transcript()}");
            return program;
        }
        finally
        {
            await program.DisposeAsync();
        }
    }

    public Task<int> WaitForExitAsync(TimeSpan timeout) => _child.WaitForExitAsync(timeout);

    /// <summary>Completes with the first standard output line that matches (already printed or still to come).</summary>
    public Task<string> WaitForStdoutLineAsync(Func<string, bool> match, TimeSpan timeout) => _child.WaitForStdoutLineAsync(match, timeout);

    public string Transcript() => _child.Transcript();

    public ValueTask DisposeAsync() => _child.DisposeAsync();
}

/// <summary>What seed_client_002.py printed as its last line.</summary>
internal sealed record SeedClientResult(int Frames, int[] Shape, string Dtype, string FirstSha256, string LastSha256, double Fps, PythonProgram Program)
{
    public int Height => Shape[0];

    public int Width => Shape[1];
}

/// <summary>
/// The seed tutorials' programs (Seed/Programs: seed_server_002.py, seed_server_003.py, seed_client_002.py,
/// evil_seed_server.py) and the media they need.
/// </summary>
internal static partial class SeedPrograms
{
    public static readonly TimeSpan ProgramTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Starts seed_server_002.py (or _003) on 127.0.0.1 port 0 sending <paramref name="video"/>; returns it with the port it printed.</summary>
    public static Task<(PythonProgram Server, int Port)> StartServerAsync(string script, string video, params string[] options) =>
        WithListeningPortAsync(PythonProgram.Start(script, [video, "127.0.0.1", "0", .. options]));

    /// <summary>Starts evil_seed_server.py serving <paramref name="scenario"/> to every client; returns it with its port.</summary>
    public static Task<(PythonProgram Server, int Port)> StartEvilServerAsync(string scenario, string marker) =>
        WithListeningPortAsync(PythonProgram.Start("evil_seed_server.py", scenario, marker, "127.0.0.1", "0"));

    /// <summary>Connections the evil server has accepted so far (it prints "connection N from ...").</summary>
    public static int Connections(PythonProgram evilServer) => evilServer.Stdout.Count(l => l.StartsWith("connection ", StringComparison.Ordinal) && l.Contains(" from ", StringComparison.Ordinal));

    /// <summary>Parses "LISTENING AT: ('127.0.0.1', PORT)" (002, evil) or "Server listening on 127.0.0.1:PORT..." (003).</summary>
    public static async Task<int> ListeningPortAsync(PythonProgram server)
    {
        string line = await server.WaitForStdoutLineAsync(l => ListeningPattern().IsMatch(l), ProgramTimeout);
        return int.Parse(ListeningPattern().Match(line).Groups["port"].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>"sent K SHA256 ..." lines of a seed server: frame index → SHA-256 of frame.tobytes().</summary>
    public static Dictionary<int, string> SentHashes(PythonProgram server)
    {
        var hashes = new Dictionary<int, string>();
        foreach (string line in server.Stdout)
        {
            Match match = SentPattern().Match(line);
            if (match.Success)
            {
                hashes[int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)] = match.Groups[2].Value;
            }
        }

        return hashes;
    }

    /// <summary>Runs seed_client_002.py until it has <paramref name="frames"/> frames; fails the test if it fails.</summary>
    public static async Task<SeedClientResult> RunClientAsync(int port, int frames, params string[] options)
    {
        PythonProgram client = PythonProgram.Start("seed_client_002.py", ["127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "--frames", frames.ToString(CultureInfo.InvariantCulture), .. options]);
        await using (client)
        {
            int code = await client.WaitForExitAsync(ProgramTimeout);
            Assert.True(code == 0, $"seed_client_002.py exited with {code}{Environment.NewLine}{client.Transcript()}");
            return ParseClient(client);
        }
    }

    public static SeedClientResult ParseClient(PythonProgram client)
    {
        string? line = client.Stdout.LastOrDefault(l => l.StartsWith('{'));
        Assert.True(line is not null, $"seed_client_002.py printed no summary{Environment.NewLine}{client.Transcript()}");
        using JsonDocument document = JsonDocument.Parse(line);
        JsonElement json = document.RootElement;
        int count = json.GetProperty("frames").GetInt32();
        Assert.True(count > 0, $"seed_client_002.py received no frame{Environment.NewLine}{client.Transcript()}");
        return new SeedClientResult(
            count,
            [.. json.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())],
            json.GetProperty("dtype").GetString()!,
            json.GetProperty("first_sha256").GetString()!,
            json.GetProperty("last_sha256").GetString()!,
            json.GetProperty("fps").GetDouble(),
            client);
    }

    /// <summary>A video OpenCV reads (MJPEG in AVI) of ffmpeg's testsrc2: every frame differs (it shows a frame counter).</summary>
    public static Task MakeVideoAsync(string path, int width, int height, int frames) =>
        MediaTools.FfmpegAsync("-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate=30", "-frames:v", frames.ToString(CultureInfo.InvariantCulture), "-c:v", "mjpeg", "-q:v", "3", path);

    /// <summary>The picture's pixels as ffmpeg decodes them to packed BGR (what cv2.imread gives).</summary>
    public static async Task<byte[]> BgrPixelsAsync(string imagePath)
    {
        (int code, byte[] stdout, string stderr) = await MediaTools.RunAsync("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", imagePath, "-frames:v", "1", "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1");
        Assert.True(code == 0, $"ffmpeg could not decode {imagePath}: {stderr}");
        return stdout;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Peak resident memory of a live process (VmHWM in /proc/PID/status), in bytes.</summary>
    public static long PeakResidentBytes(int processId)
    {
        foreach (string line in File.ReadLines($"/proc/{processId}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmHWM in /proc/{processId}/status");
    }

    /// <summary>The server with the port it printed; disposed (killed) if it prints none.</summary>
    private static async Task<(PythonProgram Server, int Port)> WithListeningPortAsync(PythonProgram server)
    {
        try
        {
            int port = await ListeningPortAsync(server);
            return (server, port);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    [GeneratedRegex(@"(?:LISTENING AT: \('127\.0\.0\.1', |Server listening on 127\.0\.0\.1:)(?<port>\d+)")]
    private static partial Regex ListeningPattern();

    [GeneratedRegex(@"^sent (\d+) ([0-9a-f]{64})\b")]
    private static partial Regex SentPattern();
}

/// <summary>`socketcam` commands the Seed tests run, and what they check on every one of them.</summary>
internal static partial class SeedCli
{
    public static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Starts `socketcam serve --listen 127.0.0.1:0 ARGS --quiet` and reads both banners: "SocketCam hub listening on
    /// tcp://127.0.0.1:PORT" and, when ARGS has --seed-tcp, "SocketCam seed-format listener on tcp://127.0.0.1:PORT (room 'R')".
    /// </summary>
    public static async Task<(CliProcess Serve, int HubPort, int SeedPort)> StartServeAsync(string directory, params string[] args)
    {
        CliProcess serve = CliProcess.Start(directory, ["serve", "--listen", "127.0.0.1:0", .. args, "--quiet"]);
        try
        {
            string hub = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
            int hubPort = int.Parse(HubBanner().Match(hub).Groups[1].Value, CultureInfo.InvariantCulture);
            int seedPort = 0;
            if (args.Contains("--seed-tcp"))
            {
                string seed = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam seed-format listener on tcp://", StringComparison.Ordinal), ProcessTimeout);
                Match match = SeedBanner().Match(seed);
                Assert.True(match.Success, $"unexpected seed banner: {seed}");
                seedPort = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                Assert.NotEqual(0, seedPort);
            }

            return (serve, hubPort, seedPort);
        }
        catch
        {
            await serve.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for serve's "SocketCam UDP listening on udp://127.0.0.1:PORT" banner and returns the port.</summary>
    public static async Task<int> UdpPortAsync(CliProcess serve)
    {
        string line = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam UDP listening on udp://", StringComparison.Ordinal), ProcessTimeout);
        Match match = UdpBanner().Match(line);
        Assert.True(match.Success, line);
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public static void AssertNoStackTrace(CliProcess process)
    {
        Assert.False(process.Stderr.Concat(process.Stdout).Any(l => l.Contains("   at ", StringComparison.Ordinal)), $"a stack trace was printed{Environment.NewLine}{process.Transcript()}");
    }

    /// <summary><see cref="Eventually.UntilAsync"/> that adds what <paramref name="process"/> printed when it times out.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, CliProcess process)
    {
        try
        {
            await Eventually.UntilAsync(condition, what, ProcessTimeout);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}{Environment.NewLine}{process.Transcript()}", ex);
        }
    }

    public static bool IsRunning(int processId)
    {
        try
        {
            using Process process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^SocketCam hub listening on tcp://127\.0\.0\.1:(\d+)")]
    private static partial Regex HubBanner();

    [GeneratedRegex(@"^SocketCam seed-format listener on tcp://127\.0\.0\.1:(\d+)")]
    private static partial Regex SeedBanner();

    [GeneratedRegex(@"^SocketCam UDP listening on udp://127\.0\.0\.1:(\d+)$")]
    private static partial Regex UdpBanner();
}
