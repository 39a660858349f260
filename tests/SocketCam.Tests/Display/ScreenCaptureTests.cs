using System.Text.Json;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>`serve --source screen:DISPLAY` (ffmpeg's x11grab) against a real X server.</summary>
[Collection(NetworkCollection.Name)]
public sealed class ScreenCaptureTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-screen-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_captures_an_xvfb_screen_and_a_viewer_gets_frames_of_the_screens_size()
    {
        await using XvfbDisplay x = await XvfbDisplay.StartAsync(640, 480);
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "screen:" + x.Name, "--fps", "10", "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();

        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", url, "--frames", "5", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript() + Environment.NewLine + serve.Transcript());
            JsonElement summary = view.LastJsonLine();
            Assert.True(summary.GetProperty("frames").GetInt64() >= 5);
            Assert.Equal(640, summary.GetProperty("width").GetInt32());
            Assert.Equal(480, summary.GetProperty("height").GetInt32());
        }
    }
}
