using SocketCam.Ffmpeg;

namespace SocketCam.Tests.Ffmpeg;

public sealed class FfmpegProcessTests
{
    [Fact]
    public async Task Keeps_ffmpegs_last_error_line_and_exit_code()
    {
        await using FfmpegProcess ffmpeg = FfmpegProcess.Start(["-loglevel", "error", "-i", "/no/such/input.mp4", "-f", "null", "-"]);
        int code = await ffmpeg.WaitForExitAsync(CancellationToken.None);
        Assert.NotEqual(0, code);
        Assert.Equal("/no/such/input.mp4: No such file or directory", ffmpeg.LastErrorLine);
        Assert.Equal($"ffmpeg exited with code {code}: /no/such/input.mp4: No such file or directory", ffmpeg.DescribeExit());
    }

    [Fact]
    public async Task Its_output_pipe_is_enlarged_to_one_mebibyte()
    {
        await using FfmpegProcess ffmpeg = FfmpegProcess.Start(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", "-f", "null", "-"]);
        Assert.True(PipeCapacity.TryEnlarge(ffmpeg.Output), "F_SETPIPE_SZ failed");
        await ffmpeg.WaitForExitAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Disposing_kills_a_running_ffmpeg()
    {
        FfmpegProcess ffmpeg = FfmpegProcess.Start(["-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5", "-f", "null", "-"]);
        int pid = ffmpeg.Id;
        Assert.False(ffmpeg.HasExited);
        await ffmpeg.DisposeAsync();
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid));
    }
}
