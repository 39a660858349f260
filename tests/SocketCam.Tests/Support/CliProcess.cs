using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SocketCam.Tests.Support;

/// <summary>
/// The real `socketcam` CLI as a child process (`dotnet socketcam.dll ...` from the test's output directory), with
/// standard output and error captured line by line. Disposing kills the whole process tree if it is still running.
/// </summary>
internal sealed class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _stdoutWaiters = [];

    private CliProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Stdout
    {
        get
        {
            lock (_lock)
            {
                return [.. _stdout];
            }
        }
    }

    public IReadOnlyList<string> Stderr
    {
        get
        {
            lock (_lock)
            {
                return [.. _stderr];
            }
        }
    }

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "socketcam.dll");

    public static CliProcess Start(string? workingDirectory, params string[] args) => StartWithEnvironment(workingDirectory, null, args);

    /// <summary>Starts the CLI with extra environment variables (e.g. a PATH without ffmpeg).</summary>
    public static CliProcess StartWithEnvironment(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Launch(workingDirectory, environment, [], args);

    /// <summary>Starts the CLI without some environment variables (e.g. no DISPLAY), whatever this process has.</summary>
    public static CliProcess StartWithoutVariables(string? workingDirectory, IReadOnlyList<string> unset, params string[] args) =>
        Launch(workingDirectory, null, unset, args);

    private static CliProcess Launch(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, IReadOnlyList<string> unset, string[] args)
    {
        Assert.True(File.Exists(DllPath), $"{DllPath} is missing: the test project must reference the CLI.");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(DllPath);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        foreach (string name in unset)
        {
            info.Environment.Remove(name);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => cli.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => cli.OnStderr(e.Data);
        Assert.True(process.Start(), "dotnet did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
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
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"socketcam {string.Join(' ', _process.StartInfo.ArgumentList.Skip(1))} did not exit within {timeout.TotalSeconds:0} s.{Environment.NewLine}{Transcript()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Completes with the first standard output line that matches (already printed or still to come).</summary>
    public async Task<string> WaitForStdoutLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            string? existing = _stdout.FirstOrDefault(match);
            if (existing is not null)
            {
                return existing;
            }

            _stdoutWaiters.Add((match, done));
        }

        using var exited = new CancellationTokenSource();
        Task whenExited = _process.WaitForExitAsync(exited.Token);
        Task first = await Task.WhenAny(done.Task, whenExited).WaitAsync(timeout).ConfigureAwait(false);
        await exited.CancelAsync();
        if (first != done.Task && !done.Task.IsCompleted)
        {
            throw new InvalidOperationException($"socketcam exited ({_process.ExitCode}) before printing the expected line.{Environment.NewLine}{Transcript()}");
        }

        return await done.Task;
    }

    /// <summary>Sends SIGINT, like Ctrl+C in a terminal.</summary>
    public async Task InterruptAsync()
    {
        using Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", _process.Id.ToString(CultureInfo.InvariantCulture) } })!;
        await kill.WaitForExitAsync().WaitAsync(TestHub.Timeout);
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Sends SIGKILL (kill -9) to the process alone: it gets no chance to clean up or finish anything.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync().WaitAsync(TestHub.Timeout);
    }

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

    public string Transcript() =>
        $"--- stdout ---{Environment.NewLine}{string.Join(Environment.NewLine, Stdout)}{Environment.NewLine}--- stderr ---{Environment.NewLine}{string.Join(Environment.NewLine, Stderr)}";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TestHub.Timeout);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            return;
        }

        List<TaskCompletionSource<string>> ready = [];
        lock (_lock)
        {
            _stdout.Add(line);
            for (int i = _stdoutWaiters.Count - 1; i >= 0; i--)
            {
                if (_stdoutWaiters[i].Match(line))
                {
                    ready.Add(_stdoutWaiters[i].Done);
                    _stdoutWaiters.RemoveAt(i);
                }
            }
        }

        foreach (TaskCompletionSource<string> done in ready)
        {
            done.TrySetResult(line);
        }
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _stderr.Add(line);
        }
    }
}
