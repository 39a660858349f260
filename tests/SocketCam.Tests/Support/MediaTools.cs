using System.Diagnostics;
using System.Globalization;

namespace SocketCam.Tests.Support;

/// <summary>Runs the real ffmpeg / ffprobe for tests (making input files, reading results back).</summary>
internal static class MediaTools
{
    public static Task<(int ExitCode, byte[] Stdout, string Stderr)> RunAsync(string tool, params string[] args) =>
        RunWithEnvironmentAsync(tool, new Dictionary<string, string>(), args);

    /// <summary>
    /// Runs <paramref name="tool"/> to completion (standard input closed) with <paramref name="environment"/> set over
    /// this process's variables; returns its exit code, standard output and standard error.
    /// </summary>
    public static async Task<(int ExitCode, byte[] Stdout, string Stderr)> RunWithEnvironmentAsync(
        string tool, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info)!;
        process.StandardInput.Close();
        using var stdout = new MemoryStream();
        Task copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TestHub.Timeout);
        await copy;
        return (process.ExitCode, stdout.ToArray(), await stderr);
    }

    /// <summary>Runs ffmpeg (quiet, overwrite) and fails the test if it fails.</summary>
    public static async Task FfmpegAsync(params string[] args)
    {
        (int code, _, string stderr) = await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", .. args]);
        Assert.True(code == 0, $"ffmpeg {string.Join(' ', args)} failed: {stderr}");
    }

    /// <summary>Frames ffprobe decodes in the first video stream (`-count_frames`).</summary>
    public static async Task<int> CountFramesAsync(string path, params string[] inputOptions)
    {
        (int code, byte[] stdout, string stderr) = await RunAsync(
            "ffprobe", ["-v", "error", .. inputOptions, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path]);
        Assert.True(code == 0, $"ffprobe {path} failed: {stderr}");
        return int.Parse(System.Text.Encoding.ASCII.GetString(stdout).Trim(), CultureInfo.InvariantCulture);
    }
}
