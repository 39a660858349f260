using System.Diagnostics;
using System.Globalization;

namespace SocketCam.Tests.Support;

/// <summary>
/// A child process with standard output and error captured line by line, waiters for output lines, and a transcript
/// for failure messages (what <see cref="CliProcess"/> and <see cref="PythonProgram"/> are built on). Disposing kills
/// the whole process tree if it is still running.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly int _transcriptLines;
    private readonly bool _nameInTranscript;
    private readonly Lock _lock = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _stdoutWaiters = [];

    private ChildProcess(Process process, string name, int transcriptLines, bool nameInTranscript)
    {
        _process = process;
        Name = name;
        _transcriptLines = transcriptLines;
        _nameInTranscript = nameInTranscript;
    }

    /// <summary>What failure messages call the process (e.g. "socketcam serve --listen ...").</summary>
    public string Name { get; }

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

    /// <summary>
    /// Starts <paramref name="fileName"/> with all three standard streams redirected. <paramref name="environment"/> is
    /// applied over this process's variables: a null value removes the variable. <see cref="Transcript"/> shows the last
    /// <paramref name="transcriptLines"/> lines of each stream, headed by <see cref="Name"/> if
    /// <paramref name="nameInTranscript"/> (off where a test checks that the transcript does not echo an argument).
    /// </summary>
    public static ChildProcess Start(
        string name,
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string?> environment,
        int transcriptLines = int.MaxValue,
        bool nameInTranscript = true)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string variable, string? value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(variable);
            }
            else
            {
                info.Environment[variable] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name, transcriptLines, nameInTranscript);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, stdout: false);
        Assert.True(process.Start(), $"{fileName} did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
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
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0} s.{Environment.NewLine}{await WhyStillRunningAsync()}{Transcript()}");
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// For a timeout's message: whether the process really is still there (or only its output is still open, held by a
    /// grandchild), and its managed threads' stacks when dotnet-stack is installed, so a hang in CI names its place.
    /// </summary>
    private async Task<string> WhyStillRunningAsync()
    {
        if (_process.HasExited)
        {
            return $"(the process exited with {_process.ExitCode}; its output is still open, held by a child it started){Environment.NewLine}";
        }

        string tool = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools", "dotnet-stack");
        if (!File.Exists(tool))
        {
            return "";
        }

        try
        {
            using var stack = Process.Start(new ProcessStartInfo(tool) { ArgumentList = { "report", "-p", _process.Id.ToString(CultureInfo.InvariantCulture) }, RedirectStandardOutput = true, RedirectStandardError = true })!;
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            string report = await stack.StandardOutput.ReadToEndAsync(limit.Token);
            // Only our frames and the waits they sit in: the rest is runtime plumbing.
            IEnumerable<string> lines = report.Split('\n').Where(l => l.Contains("SocketCam", StringComparison.Ordinal) || l.StartsWith("Thread", StringComparison.Ordinal) || l.Contains("Wait", StringComparison.Ordinal));
            return "--- managed stacks (dotnet-stack) ---" + Environment.NewLine + string.Join(Environment.NewLine, lines.Take(200)) + Environment.NewLine;
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"(dotnet-stack failed: {ex.Message}){Environment.NewLine}";
        }
    }

    /// <summary>Completes with the first standard output line that matches (already printed or still to come).</summary>
    public async Task<string> WaitForStdoutLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_stdout.FirstOrDefault(match) is { } existing)
            {
                return existing;
            }

            _stdoutWaiters.Add((match, done));
        }

        using var exited = new CancellationTokenSource();
        Task whenExited = _process.WaitForExitAsync(exited.Token);
        try
        {
            Task first = await Task.WhenAny(done.Task, whenExited).WaitAsync(timeout);
            if (first != done.Task && !done.Task.IsCompleted)
            {
                throw new InvalidOperationException($"{Name} exited ({_process.ExitCode}) before printing the expected line.{Environment.NewLine}{Transcript()}");
            }
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not print the expected line within {timeout.TotalSeconds:0} s.{Environment.NewLine}{Transcript()}");
        }
        finally
        {
            await exited.CancelAsync();
        }

        return await done.Task;
    }

    /// <summary>Writes a line to the child's standard input (what a person would type).</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
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

    public string Transcript()
    {
        lock (_lock)
        {
            string title = _nameInTranscript ? $"{Name}: stdout" : "stdout";
            return $"--- {title} ---{Environment.NewLine}{string.Join(Environment.NewLine, _stdout.TakeLast(_transcriptLines))}{Environment.NewLine}--- stderr ---{Environment.NewLine}{string.Join(Environment.NewLine, _stderr.TakeLast(_transcriptLines))}";
        }
    }

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

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }

        List<TaskCompletionSource<string>> ready = [];
        lock (_lock)
        {
            if (!stdout)
            {
                _stderr.Add(line);
                return;
            }

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
}
