using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Cli;

/// <summary>
/// The README's quick start, run as a newcomer runs it: on a clean copy of the repository (the files git tracks, no
/// bin/obj), `scripts/install` installs the tool into a fresh home directory, and each `socketcam ...` line then runs as
/// written from the installed tool (serve in the background, view and snapshot against it). Only the hub's port is
/// changed, to a free one: 9999 may be taken on a shared machine.
/// </summary>
[Collection(HeavyBuildCollection.Name)]
public sealed partial class ReadmeQuickStartTests : IDisposable
{
    // scripts/install builds the whole CLI from scratch on the clean copy: minutes on a small shared machine.
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _root = Directory.CreateTempSubdirectory("socketcam-readme-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void The_quick_start_is_install_then_demo_serve_view_and_snapshot()
    {
        string[] commands = QuickStart(File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")));
        Assert.Equal("scripts/install", commands[0]);
        Assert.All(commands[1..], c => Assert.StartsWith("socketcam ", c, StringComparison.Ordinal));
        Assert.Equal(["demo", "serve", "view", "snapshot"], commands[1..].Select(Verb));
    }

    [Fact]
    public async Task The_quick_start_commands_work_as_written_on_a_clean_copy()
    {
        string repository = RepositoryRoot();
        string[] commands = QuickStart(File.ReadAllText(Path.Combine(repository, "README.md")));
        string copy = CopyTrackedFiles(repository, Path.Combine(_root, "repo"));
        string home = Directory.CreateDirectory(Path.Combine(_root, "home")).FullName;
        string work = Directory.CreateDirectory(Path.Combine(_root, "work")).FullName;
        var environment = new Dictionary<string, string?>
        {
            // The global tool goes to this home, not the machine's; so does serve's data directory.
            ["HOME"] = home,
            ["DOTNET_CLI_HOME"] = home,
            ["XDG_DATA_HOME"] = null,
            // Restore from the packages this machine already has: the copy builds offline, without copying them all.
            ["NUGET_PACKAGES"] = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            // No MSBuild worker nodes left running after the test.
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DISPLAY"] = null,
        };

        Assert.Equal("scripts/install", commands[0]);
        var install = Stopwatch.StartNew();
        await using (ChildProcess installer = Shell(commands[0], copy, environment))
        {
            int code = await installer.WaitForExitAsync(InstallTimeout);
            Assert.True(code == 0, $"scripts/install exit code {code}{Environment.NewLine}{installer.Transcript()}");
            // Its last line says where the tool is and how to put that on PATH; do what it says.
            string said = installer.Stdout[^1];
            string tools = Path.Combine(home, ".dotnet", "tools");
            Assert.Contains($"export PATH=\"$PATH:{tools}\"", said, StringComparison.Ordinal);
            environment["PATH"] = $"{Environment.GetEnvironmentVariable("PATH")}:{tools}";
        }

        install.Stop();
        string port = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
        ChildProcess? serve = null;
        try
        {
            foreach (string written in commands[1..])
            {
                string command = written.Replace(":9999", ":" + port, StringComparison.Ordinal);
                if (Verb(command) == "serve")
                {
                    // Runs until stopped: the next lines are "in a second terminal".
                    serve = Shell(command, work, environment);
                    await serve.WaitForStdoutLineAsync(l => l.StartsWith($"SocketCam hub listening on tcp://127.0.0.1:{port}", StringComparison.Ordinal), CommandTimeout);
                    continue;
                }

                await using ChildProcess child = Shell(command, work, environment);
                int code = await child.WaitForExitAsync(CommandTimeout);
                Assert.True(code == 0, $"`{written}` exit code {code}{Environment.NewLine}{child.Transcript()}");
                Assert.DoesNotContain(child.Stderr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
                if (Verb(command) == "snapshot")
                {
                    byte[] jpeg = await File.ReadAllBytesAsync(Path.Combine(work, command.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]));
                    Assert.Equal([0xFF, 0xD8], jpeg[..2]);
                    Assert.Equal([0xFF, 0xD9], jpeg[^2..]);
                }
            }

            Assert.NotNull(serve);
            await serve.InterruptAsync();
            Assert.Equal(0, await serve.WaitForExitAsync(CommandTimeout));
        }
        finally
        {
            if (serve is not null)
            {
                await serve.DisposeAsync();
            }
        }

        // Told on the console, not asserted: how long a newcomer waits for scripts/install here.
        Console.WriteLine($"scripts/install took {install.Elapsed.TotalSeconds:0} s");
    }

    /// <summary>The commands of the sh block under "### Quick start", comments and alignment removed.</summary>
    internal static string[] QuickStart(string readme)
    {
        Match block = QuickStartBlock().Match(readme);
        Assert.True(block.Success, "README.md has no ```sh block under ### Quick start");
        return block.Groups[1].Value.Split('\n')
            .Select(l => Regex.Replace(l, @"\s+#.*$", "").Trim())
            .Where(l => l.Length > 0)
            .ToArray();
    }

    private static string Verb(string command) => command.Split(' ', StringSplitOptions.RemoveEmptyEntries) switch
    {
        ["socketcam", string verb, ..] => verb,
        var words => words[0],
    };

    // exec: the child is the command itself, so SIGINT reaches serve and its exit code is the command's.
    private static ChildProcess Shell(string command, string directory, IReadOnlyDictionary<string, string?> environment) =>
        ChildProcess.Start(command, "bash", ["-c", "exec " + command], directory, environment);

    private static string RepositoryRoot() => RepositoryFiles.Root;

    /// <summary>What a fresh clone has: the files git tracks (and new ones not ignored), none of bin/, obj/ or artifacts/.</summary>
    private static string CopyTrackedFiles(string repository, string target)
    {
        var git = new ProcessStartInfo("git") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = repository };
        foreach (string a in new[] { "ls-files", "-z", "--cached", "--others", "--exclude-standard" })
        {
            git.ArgumentList.Add(a);
        }

        using Process ls = Process.Start(git)!;
        string listing = ls.StandardOutput.ReadToEnd();
        ls.WaitForExit();
        Assert.Equal(0, ls.ExitCode);
        foreach (string file in listing.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            string source = Path.Combine(repository, file);
            if (!File.Exists(source))
            {
                continue; // deleted in the working tree
            }

            string destination = Path.Combine(target, file);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(source, destination); // with its mode: scripts stay executable
        }

        return target;
    }

    [GeneratedRegex(@"### Quick start\n.*?```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex QuickStartBlock();
}
