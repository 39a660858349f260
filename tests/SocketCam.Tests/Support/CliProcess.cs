using System.Text.Json;

namespace SocketCam.Tests.Support;

/// <summary>
/// The real `socketcam` CLI as a child process (`dotnet socketcam.dll ...` from the test's output directory), with
/// standard output and error captured line by line. Disposing kills the whole process tree if it is still running.
/// </summary>
internal sealed class CliProcess : IAsyncDisposable
{
    private readonly ChildProcess _child;

    private CliProcess(ChildProcess child)
    {
        _child = child;
    }

    public int Id => _child.Id;

    public bool HasExited => _child.HasExited;

    public IReadOnlyList<string> Stdout => _child.Stdout;

    public IReadOnlyList<string> Stderr => _child.Stderr;

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "socketcam.dll");

    public static CliProcess Start(string? workingDirectory, params string[] args) => StartWithEnvironment(workingDirectory, null, args);

    /// <summary>Starts the CLI with extra environment variables (e.g. a PATH without ffmpeg).</summary>
    public static CliProcess StartWithEnvironment(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Launch(workingDirectory, environment, [], args);

    /// <summary>Starts the CLI without some environment variables (e.g. no DISPLAY), whatever this process has.</summary>
    public static CliProcess StartWithoutVariables(string? workingDirectory, IReadOnlyList<string> unset, params string[] args) =>
        Launch(workingDirectory, null, unset, args);

    /// <summary>
    /// Starts the CLI through a launcher that execs its command (e.g. `ip netns exec NS`, see <see cref="LossyNetwork"/>):
    /// the child is then `dotnet socketcam.dll` itself, so <see cref="Id"/>, <see cref="InterruptAsync"/> and the output
    /// are the CLI's own. <paramref name="name"/> heads failure messages (e.g. "[client] socketcam view ...").
    /// </summary>
    public static CliProcess StartThrough(
        IReadOnlyList<string> launcher, string name, string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Launch(workingDirectory, environment, [], args, launcher, name);

    /// <summary>The children's XDG_DATA_HOME: one temporary directory per test run, removed when the run ends.</summary>
    public static readonly string TestDataHome = CreateDataHome();

    private static string CreateDataHome()
    {
        string path = Directory.CreateTempSubdirectory("socketcam-tests-data-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
                // A child still holding a file: the temporary directory is the system's to clean.
            }
        };
        return path;
    }

    private static CliProcess Launch(
        string? workingDirectory,
        IReadOnlyDictionary<string, string>? environment,
        IReadOnlyList<string> unset,
        string[] args,
        IReadOnlyList<string>? launcher = null,
        string? transcriptName = null)
    {
        Assert.True(File.Exists(DllPath), $"{DllPath} is missing: the test project must reference the CLI.");
        // serve keeps its chat store in the per-user data directory unless told otherwise: the tests' children share one of
        // their own, never the user's.
        // No display unless a test gives one (an Xvfb's): `view` opens a window whenever it sees a display, and a test run
        // from a desktop session must behave as in CI.
        var variables = new Dictionary<string, string?> { ["DOTNET_NOLOGO"] = "1", ["XDG_DATA_HOME"] = TestDataHome, ["DISPLAY"] = null, ["WAYLAND_DISPLAY"] = null };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        foreach (string name in unset)
        {
            variables[name] = null;
        }

        string[] command = [.. launcher ?? [], "dotnet", DllPath, .. args];
        return new CliProcess(ChildProcess.Start(
            transcriptName ?? $"socketcam {string.Join(' ', args)}",
            command[0],
            command[1..],
            workingDirectory ?? AppContext.BaseDirectory,
            variables,
            nameInTranscript: transcriptName is not null));
    }

    /// <summary>Runs to completion (killed after <paramref name="timeout"/>, which fails the test) and returns the exit code.</summary>
    public static async Task<(int ExitCode, CliProcess Process)> RunAsync(string? workingDirectory, TimeSpan timeout, params string[] args)
    {
        CliProcess cli = Start(workingDirectory, args);
        try
        {
            int code = await cli.WaitForExitAsync(timeout);
            return (code, cli);
        }
        catch
        {
            await cli.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for the process to exit and for its output to be read to the end.</summary>
    public Task<int> WaitForExitAsync(TimeSpan timeout) => _child.WaitForExitAsync(timeout);

    /// <summary>Completes with the first standard output line that matches (already printed or still to come).</summary>
    public Task<string> WaitForStdoutLineAsync(Func<string, bool> match, TimeSpan timeout) => _child.WaitForStdoutLineAsync(match, timeout);

    /// <summary>Sends SIGINT, like Ctrl+C in a terminal.</summary>
    public Task InterruptAsync() => _child.InterruptAsync();

    /// <summary>Types a line into the CLI's standard input.</summary>
    public Task WriteLineAsync(string line) => _child.WriteLineAsync(line);

    /// <summary>Sends SIGKILL (kill -9) to the process alone: it gets no chance to clean up or finish anything.</summary>
    public Task KillAsync() => _child.KillAsync();

    /// <summary>The last non-empty standard output line, parsed as JSON.</summary>
    public JsonElement LastJsonLine()
    {
        string? line = Stdout.LastOrDefault(l => !string.IsNullOrWhiteSpace(l));
        Assert.True(line is not null, $"no standard output.{Environment.NewLine}{Transcript()}");
        try
        {
            using JsonDocument document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"The last output line is not JSON: {line}{Environment.NewLine}{Transcript()}", ex);
        }
    }

    public string Transcript() => _child.Transcript();

    public ValueTask DisposeAsync() => _child.DisposeAsync();
}
