using System.Text.Json;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Seed;

/// <summary>
/// A hub with a good publisher in room "good", shared by the publish cases of <see cref="SeedSecurityTests"/>: every
/// hostile seed server they point a publisher at must leave it (and that room) running.
/// </summary>
public sealed class SeedSecurityHub : IAsyncLifetime
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("socketcam-seedsec-").FullName;

    internal CliProcess Serve { get; private set; } = null!;

    internal CliProcess GoodPublisher { get; private set; } = null!;

    public int HubPort { get; private set; }

    public string HubUrl => $"tcp://127.0.0.1:{HubPort}";

    public StreamEndpoint Endpoint => new("tcp", "127.0.0.1", HubPort);

    public async Task InitializeAsync()
    {
        (Serve, HubPort, _) = await SeedCli.StartServeAsync(Directory, "--source", "none");
        GoodPublisher = CliProcess.Start(Directory, "publish", HubUrl, "--room", "good", "--source", "pattern", "--size", "160x120", "--fps", "30", "--quiet");
    }

    public async Task DisposeAsync()
    {
        await GoodPublisher.DisposeAsync();
        await Serve.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>
/// Hostile seed servers (Seed/Programs/evil_seed_server.py: code-running globals, forbidden opcodes, lying shapes and
/// lengths, truncations, bombs) against `view seed+tcp://` and `publish --source seed+tcp://`. Nothing they send may
/// run (the marker file each payload would create never exists), allocate what a length claims, or take down more
/// than the one connection.
/// </summary>
[Collection(SeedCollection.Name)]
public sealed class SeedSecurityTests : IClassFixture<SeedSecurityHub>
{
    /// <summary>Far below the 1 TiB (2^40) and 8 EiB (2^63) that the huge-length cases claim.</summary>
    private const long MaxPeakResidentBytes = 1L << 30;

    /// <summary>Cases that are about the framing rather than the pickle: their error need not say "pickle".</summary>
    private static readonly string[] StreamCases = ["truncated_stream", "huge_length_63", "huge_length_40", "huge_length_max", "short_prefix", "empty_pickle"];

    private readonly SeedSecurityHub _hub;

    public SeedSecurityTests(SeedSecurityHub hub)
    {
        _hub = hub;
    }

    public static TheoryData<string> AllCases() =>
        [.. SeedPickleFiles.EvilPickles, "truncated_stream", "truncated_pickle", "huge_length_63", "huge_length_40", "huge_length_max", "short_prefix", "valid_then_evil"];

    /// <summary>Sent after one valid frame (evil_seed_server.py's "valid_then:NAME"): publish has started streaming.</summary>
    public static TheoryData<string> PublishCases() =>
    [
        "os_system", "subprocess_popen", "builtins_eval", "os_system_in_state", "inst_protocol2", "dict_frame", "unknown_opcode",
        "lying_shape_short", "huge_shape", "float64_frame", "four_channels", "deep_tuple", "mark_bomb", "memo_index_huge",
        "truncated_stream", "truncated_pickle", "huge_length_63", "huge_length_40",
    ];

    [Theory]
    [MemberData(nameof(AllCases))]
    public async Task View_without_reconnect_rejects_the_stream_with_one_line_and_runs_nothing(string scenario)
    {
        string marker = Marker(scenario);
        (PythonProgram evil, int port) = await SeedPrograms.StartEvilServerAsync(scenario, marker);
        await using (evil)
        {
            (int code, CliProcess view) = await CliProcess.RunAsync(_hub.Directory, SeedCli.ProcessTimeout,
                "view", $"seed+tcp://127.0.0.1:{port}", "--no-reconnect", "--quiet");
            await using (view)
            {
                Assert.True(code != 0, $"view accepted {scenario}{Environment.NewLine}{view.Transcript()}");
                // view also logs "Connected to seed server ..." and its summary line on stderr; the error is one line.
                string[] errors = [.. view.Stderr.Where(l => l.StartsWith("socketcam: ", StringComparison.Ordinal))];
                Assert.True(errors.Length == 1, $"expected one 'socketcam: ' line on stderr{Environment.NewLine}{view.Transcript()}");
                if (!StreamCases.Contains(scenario))
                {
                    Assert.Contains("pickle", errors[0], StringComparison.OrdinalIgnoreCase);
                }

                SeedCli.AssertNoStackTrace(view);
            }

            // (The server's "connection 1" line may still be on its way through the pipe when view has already given up.)
            await Eventually.UntilAsync(() => SeedPrograms.Connections(evil) >= 1, $"view connected{Environment.NewLine}{evil.Transcript()}");
        }

        Assert.False(File.Exists(marker), $"{scenario} ran code: {marker} exists");
    }

    [Fact]
    public async Task View_shows_the_valid_frame_that_comes_before_an_evil_one()
    {
        string marker = Marker("valid_then_evil_first");
        (PythonProgram evil, int port) = await SeedPrograms.StartEvilServerAsync("valid_then_evil", marker);
        await using (evil)
        {
            (int code, CliProcess view) = await CliProcess.RunAsync(_hub.Directory, SeedCli.ProcessTimeout,
                "view", $"seed+tcp://127.0.0.1:{port}", "--frames", "1", "--json", "--no-reconnect", "--quiet");
            await using (view)
            {
                Assert.True(code == 0, $"view exit code {code}{Environment.NewLine}{view.Transcript()}");
                JsonElement json = view.LastJsonLine();
                Assert.Equal(1, json.GetProperty("frames").GetInt64());
                Assert.Equal(64, json.GetProperty("width").GetInt32());
                Assert.Equal(48, json.GetProperty("height").GetInt32());
            }
        }

        Assert.False(File.Exists(marker));
    }

    [Theory]
    [InlineData("os_system")]
    [InlineData("subprocess_popen")]
    [InlineData("huge_length_63")]
    [InlineData("huge_length_40")]
    [InlineData("mark_bomb")]
    [InlineData("memo_index_huge")]
    public async Task View_with_reconnect_keeps_running_retries_and_never_allocates_what_a_length_claims(string scenario)
    {
        string marker = Marker("reconnect-" + scenario);
        (PythonProgram evil, int port) = await SeedPrograms.StartEvilServerAsync(scenario, marker);
        await using (evil)
        {
            await using CliProcess view = CliProcess.Start(_hub.Directory, "view", $"seed+tcp://127.0.0.1:{port}", "--quiet");

            await SeedCli.UntilAsync(() => SeedPrograms.Connections(evil) >= 3, $"view reconnected twice to the {scenario} server", view);

            Assert.True(SeedCli.IsRunning(view.Id), $"view exited{Environment.NewLine}{view.Transcript()}");
            long peak = SeedPrograms.PeakResidentBytes(view.Id);
            Assert.True(peak < MaxPeakResidentBytes, $"view's peak resident memory is {peak >> 20} MiB");
            if (!StreamCases.Contains(scenario))
            {
                Assert.Contains(view.Stderr.Concat(view.Stdout), l => l.Contains("pickle", StringComparison.OrdinalIgnoreCase));
            }

            SeedCli.AssertNoStackTrace(view);
        }

        Assert.False(File.Exists(marker), $"{scenario} ran code: {marker} exists");
    }

    [Theory]
    [MemberData(nameof(PublishCases))]
    public async Task Publish_from_a_seed_server_that_turns_evil_shows_no_signal_retries_and_leaves_the_hub_and_other_rooms_running(string scenario)
    {
        string marker = Marker("publish-" + scenario);
        string room = "evil-" + scenario.Replace('_', '-');
        await using TestViewer good = TestViewer.Start(_hub.Endpoint, room: "good", reconnect: true);
        await good.WaitForMoreFramesAsync(5, SeedCli.ProcessTimeout);

        (PythonProgram evil, int port) = await SeedPrograms.StartEvilServerAsync("valid_then:" + scenario, marker);
        await using (evil)
        {
            await using TestViewer watcher = TestViewer.Start(_hub.Endpoint, room: room, reconnect: true);
            await using CliProcess publish = CliProcess.Start(_hub.Directory,
                "publish", _hub.HubUrl, "--room", room, "--source", $"seed+tcp://127.0.0.1:{port}", "--quiet");

            // The valid frame is shown, then the room goes NO SIGNAL, and publish connects to the seed server again.
            await SeedCli.UntilAsync(() => watcher.Decoded >= 1, $"the viewer of room {room} decoded the valid first frame", publish);
            Assert.Equal(64, watcher.Stats.Width);
            Assert.Equal(48, watcher.Stats.Height);
            await SeedCli.UntilAsync(() => watcher.Signals.Any(s => !s.Live), $"the viewer of room {room} was told NO SIGNAL", publish);
            await SeedCli.UntilAsync(() => SeedPrograms.Connections(evil) >= 2, $"publish connected to the {scenario} server again", publish);

            Assert.True(SeedCli.IsRunning(publish.Id), $"publish exited{Environment.NewLine}{publish.Transcript()}");
            long peak = SeedPrograms.PeakResidentBytes(publish.Id);
            Assert.True(peak < MaxPeakResidentBytes, $"publish's peak resident memory is {peak >> 20} MiB");
            if (!StreamCases.Contains(scenario))
            {
                Assert.Contains(watcher.Signals, s => !s.Live && s.Reason?.Contains("pickle", StringComparison.OrdinalIgnoreCase) == true);
            }

            SeedCli.AssertNoStackTrace(publish);
        }

        await AssertHubUnharmedAsync(good);
        Assert.False(File.Exists(marker), $"{scenario} ran code: {marker} exists");
    }

    [Theory]
    [InlineData("os_system")]
    [InlineData("huge_length_63")]
    [InlineData("truncated_stream")]
    public async Task Publish_keeps_running_and_retries_when_the_seed_servers_first_frame_is_rejected(string scenario)
    {
        // The issue: "a rejected frame makes the source fail: the room goes NO SIGNAL and the source is retried with
        // backoff; the publish process keeps running" - the first frame too.
        string marker = Marker("publish-first-" + scenario);
        string room = "first-" + scenario.Replace('_', '-');
        await using TestViewer good = TestViewer.Start(_hub.Endpoint, room: "good", reconnect: true);
        (PythonProgram evil, int port) = await SeedPrograms.StartEvilServerAsync(scenario, marker);
        await using (evil)
        {
            await using TestViewer watcher = TestViewer.Start(_hub.Endpoint, room: room, reconnect: true);
            await using CliProcess publish = CliProcess.Start(_hub.Directory,
                "publish", _hub.HubUrl, "--room", room, "--source", $"seed+tcp://127.0.0.1:{port}", "--quiet");

            await SeedCli.UntilAsync(() => SeedPrograms.Connections(evil) >= 2 || !SeedCli.IsRunning(publish.Id), $"publish connected to the {scenario} server again", publish);
            Assert.True(SeedCli.IsRunning(publish.Id), $"publish exited instead of retrying{Environment.NewLine}{publish.Transcript()}");
            await SeedCli.UntilAsync(() => watcher.Signals.Any(s => !s.Live), $"the viewer of room {room} was told NO SIGNAL", publish);
            Assert.Equal(0, watcher.Decoded);
            long peak = SeedPrograms.PeakResidentBytes(publish.Id);
            Assert.True(peak < MaxPeakResidentBytes, $"publish's peak resident memory is {peak >> 20} MiB");
            SeedCli.AssertNoStackTrace(publish);
        }

        await AssertHubUnharmedAsync(good);
        Assert.False(File.Exists(marker), $"{scenario} ran code: {marker} exists");
    }

    /// <summary>The hub, its good publisher and the good room are unaffected.</summary>
    private async Task AssertHubUnharmedAsync(TestViewer good)
    {
        await good.WaitForMoreFramesAsync(10, SeedCli.ProcessTimeout);
        Assert.True(SeedCli.IsRunning(_hub.Serve.Id), $"the hub exited{Environment.NewLine}{_hub.Serve.Transcript()}");
        Assert.True(SeedCli.IsRunning(_hub.GoodPublisher.Id), $"the good publisher exited{Environment.NewLine}{_hub.GoodPublisher.Transcript()}");
        Assert.DoesNotContain(good.Signals, s => !s.Live);
        SeedCli.AssertNoStackTrace(_hub.Serve);
    }

    private string Marker(string scenario) => Path.Combine(_hub.Directory, "MARKER-" + scenario);
}
