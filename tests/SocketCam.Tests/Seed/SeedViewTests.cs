using System.Text.Json;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Seed;

/// <summary>
/// `socketcam view seed+tcp://` and `publish --source seed+tcp://` against the seed tutorials' own server programs
/// (seed_server_002.py, and 003's, which sends the length and the pickle in two sendall calls), reading a video file
/// made by ffmpeg instead of a camera.
/// </summary>
[Collection(SeedCollection.Name)]
public sealed class SeedViewTests : IAsyncLifetime
{
    private const int Width = 352;
    private const int Height = 288;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-seedview-").FullName;
    private string _video = "";

    public async Task InitializeAsync()
    {
        _video = Path.Combine(_directory, "clip.avi");
        await SeedPrograms.MakeVideoAsync(_video, Width, Height, 150);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("seed_server_002.py")]
    [InlineData("seed_server_003.py")]
    public async Task View_gets_100_frames_and_a_snapshot_identical_to_the_frame_the_seed_server_sent(string script)
    {
        (PythonProgram server, int port) = await SeedPrograms.StartServerAsync(script, _video);
        await using (server)
        {
            string snapshot = Path.Combine(_directory, "last.png");
            (int code, CliProcess view) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout,
                "view", $"seed+tcp://127.0.0.1:{port}", "--frames", "100", "--snapshot", snapshot, "--json", "--quiet", "--no-reconnect");
            await using (view)
            {
                Assert.True(code == 0, $"view exit code {code}{Environment.NewLine}{view.Transcript()}{Environment.NewLine}{server.Transcript()}");
                JsonElement json = view.LastJsonLine();
                long frames = json.GetProperty("frames").GetInt64();
                Assert.True(frames >= 100, view.Transcript());
                Assert.Equal(Width, json.GetProperty("width").GetInt32());
                Assert.Equal(Height, json.GetProperty("height").GetInt32());
                SeedCli.AssertNoStackTrace(view);

                // The seed server prints "sent K SHA256" right after its sendall returns: wait for line K.
                int last = (int)frames - 1;
                await Eventually.UntilAsync(() => SeedPrograms.SentHashes(server).ContainsKey(last), $"the seed server printed the hash of frame {last}");
                Dictionary<int, string> sent = SeedPrograms.SentHashes(server);
                Assert.Equal(sent.Count, sent.Values.Distinct().Count()); // every frame of the clip differs

                byte[] pixels = await SeedPrograms.BgrPixelsAsync(snapshot);
                Assert.Equal(Width * Height * 3, pixels.Length);
                string actual = SeedPrograms.Sha256(pixels);
                int[] matches = [.. sent.Where(p => p.Value == actual).Select(p => p.Key)];
                Assert.True(sent[last] == actual, $"the snapshot after {frames} frames is not frame {last} as sent (it matches frame(s) [{string.Join(", ", matches)}])");
            }
        }
    }

    [Fact]
    public async Task Publish_relays_the_seed_server_into_a_room_that_a_native_viewer_watches()
    {
        (PythonProgram server, int port) = await SeedPrograms.StartServerAsync("seed_server_002.py", _video, "--loop");
        await using (server)
        {
            (CliProcess serve, int hubPort, _) = await SeedCli.StartServeAsync(_directory, "--source", "none");
            await using (serve)
            {
                await using TestViewer viewer = TestViewer.Start(new StreamEndpoint("tcp", "127.0.0.1", hubPort), room: "seedcam", reconnect: true, hashPictures: true);
                await using CliProcess publish = CliProcess.Start(_directory,
                    "publish", $"tcp://127.0.0.1:{hubPort}", "--room", "seedcam", "--source", $"seed+tcp://127.0.0.1:{port}", "--codec", "raw", "--quiet");

                await viewer.WaitForFramesAsync(30, SeedCli.ProcessTimeout);

                Assert.Equal(Width, viewer.Stats.Width);
                Assert.Equal(Height, viewer.Stats.Height);
                // Relayed raw, every picture the viewer decoded is one the seed server sent, pixel for pixel.
                IReadOnlyDictionary<long, string> seen = viewer.Hashes;
                Assert.True(seen.Count >= 30);
                await Eventually.UntilAsync(
                    () => seen.Values.All(h => SeedPrograms.SentHashes(server).ContainsValue(h.ToLowerInvariant())),
                    $"every picture the viewer decoded was sent by the seed server ({seen.Values.Count(h => !SeedPrograms.SentHashes(server).ContainsValue(h.ToLowerInvariant()))} of {seen.Count} were not)");
                Assert.True(seen.Values.Distinct().Count() > 1, "the viewer saw one picture only");
                SeedCli.AssertNoStackTrace(publish);
            }
        }
    }

    [Fact]
    public async Task View_counts_every_frame_of_a_finite_seed_stream()
    {
        // 003's server serves one client, sends the clip once (150 frames) as fast as it can and exits: a viewer that
        // dropped or lost any would never reach 150 and fail when the server closes.
        (PythonProgram server, int port) = await SeedPrograms.StartServerAsync("seed_server_003.py", _video, "--hash", "0");
        await using (server)
        {
            (int code, CliProcess view) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout,
                "view", $"seed+tcp://127.0.0.1:{port}", "--frames", "150", "--json", "--quiet", "--no-reconnect");
            await using (view)
            {
                Assert.True(code == 0, $"view exit code {code}{Environment.NewLine}{view.Transcript()}");
                JsonElement json = view.LastJsonLine();
                Assert.Equal(150, json.GetProperty("frames").GetInt64());
                Assert.Equal(Width, json.GetProperty("width").GetInt32());
                Assert.Equal(Height, json.GetProperty("height").GetInt32());
            }

            Assert.Equal(0, await server.WaitForExitAsync(SeedPrograms.ProgramTimeout));
            Assert.Contains(server.Stdout, l => l.StartsWith("done 150 frames", StringComparison.Ordinal) || l.StartsWith("client went away after 150", StringComparison.Ordinal));
        }
    }
}
