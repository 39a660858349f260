using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using SocketCam.Chat;
using SocketCam.Hub;
using SocketCam.Tests.Support;
using SocketCam.Web;
using Xunit.Abstractions;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// Opus audio on the call page (issue 18, the browser half) in real headless Chromium against a real hub and Kestrel:
/// Chromium's fake microphone (a short beep once a second) is encoded with WebCodecs, sent as v2 FRAMEs, decoded by the
/// other page and played through its AudioWorklet, whose played level (per 128-sample quantum) shows the beeps. Muting
/// yourself stops your packets, muting someone locally silences them here only, and a page without a microphone joins
/// and says so in words. Nothing here measures wall-clock time: "while" is counted in the other's video frames or
/// audio packets, and the beeps' period in played samples.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class CallAudioBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>, IDisposable
{
    private const string LightVideo = CallPage.LightVideo;

    /// <summary>A beep is there when a quantum's RMS passes this (the fake beep plays at about 0.45 RMS; silence is 0).</summary>
    private const double BeepLevel = 0.1;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-call-audio-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task CallAudio_the_other_page_plays_the_fake_microphones_beeps_and_mute_stops_them_there_and_here()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage alice = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();
        uint aliceId = await CallPage.JoinAsync(alice, server.Url, "Alice");
        uint bobId = await CallPage.JoinAsync(bob, server.Url, "Bob");
        string aliceAtBob = $"window.socketcamAudioStats().tracks.find(t => t.participantId === {aliceId})";
        string aliceTile = $".tile[data-participant=\"{aliceId}\"]";

        // Both publish a microphone track as the protocol describes it: kind 2, Opus, microphone, 48 kHz mono, 20 ms.
        await bob.UntilAsync($"{aliceAtBob}?.decoded > 150", "Bob decodes 3 s of Alice's audio");
        JsonElement track = (await StatsAsync(bob, aliceAtBob)).GetProperty("description");
        output.WriteLine($"Alice's track as the hub announced it: {track}");
        Assert.Equal(2, track.GetProperty("kind").GetInt32());
        Assert.Equal(64, track.GetProperty("codec").GetInt32());
        Assert.Equal(3, track.GetProperty("source").GetInt32());
        Assert.Equal(3, track.GetProperty("flags").GetInt32());
        Assert.Equal(1, track.GetProperty("channels").GetInt32());
        Assert.Equal(48000, track.GetProperty("rate").GetInt32());
        Assert.Equal(20000, track.GetProperty("packetUs").GetInt32());
        Assert.Equal(32000, track.GetProperty("bitrate").GetInt32());
        JsonElement aliceMic = await StatsAsync(alice, "window.socketcamAudioStats().mic");
        Assert.Equal("on", aliceMic.GetProperty("state").GetString());
        Assert.Equal("track-processor", aliceMic.GetProperty("capture").GetString());
        Assert.True(aliceMic.GetProperty("codec").GetProperty("useinbandfec").GetBoolean());

        // The played signal shows the beeps at a regular period (counted in played samples), not silence and not noise.
        // (Chromium's fake microphones share one beep clock: once a second with one capturing page, more often with two.)
        await bob.UntilAsync($"{aliceAtBob}.envelopeQuanta >= 3000", "Bob has played 8 s of Alice's audio");
        double[] envelope = await EnvelopeAsync(bob, aliceId);
        (int beeps, double periodSeconds, double regular, double loudShare, double peak) = Beeps(envelope);
        output.WriteLine($"onsets (quanta): {string.Join(",", Onsets(envelope))}");
        output.WriteLine($"played: {beeps} beeps, median period {periodSeconds:0.000} s, {regular:P0} of the spacings within 20 % of it, {loudShare:P1} of quanta loud, peak {peak:0.000}");
        Assert.True(beeps >= 3, $"{beeps} beeps in {Describe(envelope)}");
        Assert.InRange(periodSeconds, 0.3, 1.5);
        Assert.True(regular >= 0.5, $"irregular beeps: {regular:P0} of the spacings near the median; {Describe(envelope)}");
        Assert.InRange(loudShare, 0.005, 0.3);
        Assert.True(peak > 0.2, $"peak {peak}");

        JsonElement received = await StatsAsync(bob, aliceAtBob);
        output.WriteLine($"Bob's figures for Alice: {received}");
        double frames = received.GetProperty("frames").GetDouble();
        double concealed = received.GetProperty("concealed").GetDouble();
        Assert.True(concealed / (frames + concealed) <= 0.1, $"concealed {concealed} of {frames + concealed}: {received}");
        Assert.InRange(received.GetProperty("bufferMs").GetDouble(), 0, 160);

        // The speaking indicator lights up Alice's tile at Bob's, and Alice's own meter moves.
        await bob.UntilAsync($"document.querySelector('{aliceTile}').classList.contains('speaking')", "Alice's tile lights up at Bob's");
        await alice.UntilAsync("window.socketcamAudioStats().mic.level > 0.1", "Alice's meter shows her beeps");
        await alice.UntilAsync("parseFloat(document.getElementById('mic').style.getPropertyValue('--level')) > 30", "Alice's mic button shows her level");

        // Alice mutes herself: Bob sees her muted, and while 20 more of her video frames arrive, none of her audio does.
        await alice.Page.ClickAsync("#mic");
        Assert.Equal("false", await alice.Page.GetAttributeAsync("#mic", "aria-pressed"));
        await bob.UntilAsync($"document.querySelector('{aliceTile}').dataset.audio === 'muted'", "Bob sees Alice muted");
        await bob.UntilAsync($"document.querySelector('{aliceTile}').classList.contains('micmuted')", "Alice's tile shows the muted icon");
        double sentAtMute = (await StatsAsync(alice, "window.socketcamAudioStats().mic")).GetProperty("packetsSent").GetDouble();
        double receivedAtMute = (await StatsAsync(bob, aliceAtBob)).GetProperty("packetsReceived").GetDouble();
        int videoAtMute = await bob.EvalAsync<int>($"() => window.socketcam.tiles[{aliceId}]");
        await bob.UntilAsync($"window.socketcam.tiles[{aliceId}] >= {videoAtMute + 20}", "20 more of Alice's video frames reach Bob");
        Assert.Equal(sentAtMute, (await StatsAsync(alice, "window.socketcamAudioStats().mic")).GetProperty("packetsSent").GetDouble());
        Assert.Equal(receivedAtMute, (await StatsAsync(bob, aliceAtBob)).GetProperty("packetsReceived").GetDouble());

        // Unmuted: her packets flow again, and the beeps play again.
        await alice.Page.ClickAsync("#mic");
        await bob.UntilAsync($"document.querySelector('{aliceTile}').dataset.audio === 'on'", "Bob sees Alice unmuted");
        await bob.UntilAsync($"{aliceAtBob}.packetsReceived > {receivedAtMute + 100}", "Alice's packets reach Bob again");
        await UntilLoudAsync(bob, aliceId, "Alice's beeps play again");

        // Bob mutes Alice for himself: still received and decoded, but silent at Bob's, while Alice goes on sending.
        await bob.Page.ClickAsync($"{aliceTile} .tile-mute");
        Assert.Equal("true", await bob.Page.GetAttributeAsync($"{aliceTile} .tile-mute", "aria-pressed"));
        JsonElement atLocalMute = await StatsAsync(bob, aliceAtBob);
        Assert.True(atLocalMute.GetProperty("mutedHere").GetBoolean());
        double decodedAtLocalMute = atLocalMute.GetProperty("decoded").GetDouble();
        await bob.UntilAsync($"{aliceAtBob}.decoded > {decodedAtLocalMute + 150}", "Bob decodes 3 s more of Alice's audio");
        double[] muted = await EnvelopeAsync(bob, aliceId);
        Assert.True(muted.Length >= 375, $"envelope of {muted.Length}");
        Assert.True(muted[^375..].Max() == 0, $"Alice is not silent at Bob's: {Describe(muted[^375..])}");
        await alice.UntilAsync($"window.socketcam.tiles[{bobId}] > 3", "Alice still draws Bob");

        // And back.
        await bob.Page.ClickAsync($"{aliceTile} .tile-mute");
        await UntilLoudAsync(bob, aliceId, "Alice is heard at Bob's again");
        Assert.DoesNotContain("page error", bob.Transcript() + alice.Transcript(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallAudio_a_page_refused_the_microphone_joins_with_video_says_so_in_words_and_still_hears_the_others()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);

        // A browser that is not told to grant everything: its page may use the camera, and is refused the microphone.
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser strict = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = BrowserFixture.ChromiumPath,
            Headless = true,
            Args = BrowserFixture.ChromiumArgs.Where(a => a != "--use-fake-ui-for-media-stream").ToArray(),
            Timeout = (float)TestHub.Timeout.TotalMilliseconds,
        });
        IBrowserContext context = await strict.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            Permissions = ["camera"],
        });
        context.SetDefaultTimeout((float)TestHub.Timeout.TotalMilliseconds);
        await using var quiet = new BrowserPage(context, await context.NewPageAsync());
        await using BrowserPage talker = await browser.NewPageAsync();

        await quiet.GotoAsync($"{server.Url}/call/call?{LightVideo}");
        await quiet.UntilAsync("window.socketcamAudioStats().mic.state === 'none'", "the page knows it has no microphone");
        string words = await quiet.Page.InnerTextAsync("#mic-status");
        output.WriteLine($"join screen: {words}");
        Assert.Contains("Microphone access was refused", words, StringComparison.Ordinal);
        Assert.Contains("you can still join", words, StringComparison.Ordinal);

        uint quietId = await CallPage.JoinAsync(quiet, server.Url, "Quiet", navigate: false);
        uint talkerId = await CallPage.JoinAsync(talker, server.Url, "Talker");
        Assert.True(await quiet.Page.IsVisibleAsync("#audio-note"));
        Assert.Contains("Microphone access was refused", await quiet.Page.InnerTextAsync("#audio-note"), StringComparison.Ordinal);
        Assert.True(await quiet.Page.IsDisabledAsync("#mic"));
        Assert.Contains("no microphone", await quiet.Page.InnerTextAsync("#self .label"), StringComparison.Ordinal);

        // Its video goes out and the other's comes in; the other page shows it without a microphone.
        await talker.UntilAsync($"window.socketcam.tiles[{quietId}] > 3", "the other page draws its camera");
        await quiet.UntilAsync($"window.socketcam.tiles[{talkerId}] > 3", "it draws the other's camera");
        await talker.UntilAsync($"document.querySelector('.tile[data-participant=\"{quietId}\"]').dataset.audio === 'none'", "the other page shows it has no microphone");

        // It still hears the others.
        await quiet.UntilAsync($"window.socketcamAudioStats().tracks.find(t => t.participantId === {talkerId})?.decoded > 50", "it decodes the other's audio");
        Assert.DoesNotContain("page error", quiet.Transcript(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallAudio_the_worklet_capture_is_heard_and_after_a_reconnect_both_microphones_are_back_and_a_muted_one_stays_muted()
    {
        await using TestHub hub = TestHub.Start(options: new HubOptions { Chat = new ChatOptions { Directory = _directory } }, captureRoom: null);
        using ILoggerFactory loggers = hub.Logs.CreateFactory();
        HttpServer web = await WatchPageBrowserTests.StartWebAsync(hub, loggers, port: 0);
        int port = web.EndPoint.Port;
        string url = $"http://127.0.0.1:{port}";
        try
        {
            await using BrowserPage alice = await browser.NewPageAsync();
            await using BrowserPage bob = await browser.NewPageAsync();

            // Alice's page captures through the AudioWorklet (what browsers without MediaStreamTrackProcessor use).
            IResponse response = await alice.GotoAsync($"{url}/call/call?{LightVideo}&audiocapture=worklet");
            Assert.Equal(200, response.Status);
            uint aliceId = await CallPage.JoinAsync(alice, url, "Alice", navigate: false);
            uint bobId = await CallPage.JoinAsync(bob, url, "Bob");
            Assert.Equal("audio-worklet", (await StatsAsync(alice, "window.socketcamAudioStats().mic")).GetProperty("capture").GetString());
            await bob.UntilAsync($"window.socketcamAudioStats().tracks.find(t => t.participantId === {aliceId})?.decoded > 100", "Bob decodes Alice's worklet-captured audio");
            await UntilLoudAsync(bob, aliceId, "Alice's beeps play at Bob's");

            // Bob mutes himself, then the HTTP server goes away and comes back (the hub stays).
            await bob.Page.ClickAsync("#mic");
            await alice.UntilAsync($"document.querySelector('.tile[data-participant=\"{bobId}\"]').dataset.audio === 'muted'", "Alice sees Bob muted");
            await web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
            foreach (BrowserPage page in new[] { alice, bob })
            {
                await page.UntilAsync("window.socketcam.state === 'reconnecting'", "the page is reconnecting");
            }

            web = await WatchPageBrowserTests.StartWebAsync(hub, loggers, port);
            foreach (BrowserPage page in new[] { alice, bob })
            {
                await page.UntilAsync("window.socketcam.state === 'live' && window.socketcam.participants.length === 2", "the page is live again with both");
            }

            // New sessions, new ids: Alice's microphone is published again and heard; Bob's is back, still muted.
            aliceId = await alice.EvalAsync<uint>("() => window.socketcam.participantId");
            bobId = await bob.EvalAsync<uint>("() => window.socketcam.participantId");
            await bob.UntilAsync($"window.socketcamAudioStats().tracks.find(t => t.participantId === {aliceId})?.decoded > 100", "Bob decodes Alice's audio after the reconnect");
            await UntilLoudAsync(bob, aliceId, "Alice's beeps play at Bob's after the reconnect");
            await alice.UntilAsync($"document.querySelector('.tile[data-participant=\"{bobId}\"]')?.dataset.audio === 'muted'", "Alice sees Bob still muted");
            Assert.True((await StatsAsync(bob, "window.socketcamAudioStats().mic")).GetProperty("muted").GetBoolean());
            int video = await alice.EvalAsync<int>($"() => window.socketcam.tiles[{bobId}] ?? 0");
            await alice.UntilAsync($"window.socketcam.tiles[{bobId}] >= {video + 10}", "10 more of Bob's video frames reach Alice");
            Assert.Equal(0, (await StatsAsync(alice, $"window.socketcamAudioStats().tracks.find(t => t.participantId === {bobId})")).GetProperty("packetsReceived").GetInt32());

            // Bob unmutes: Alice hears him.
            await bob.Page.ClickAsync("#mic");
            await alice.UntilAsync($"window.socketcamAudioStats().tracks.find(t => t.participantId === {bobId})?.decoded > 50", "Alice decodes Bob's audio once he unmutes");
            Assert.DoesNotContain("page error", bob.Transcript() + alice.Transcript(), StringComparison.Ordinal);
        }
        finally
        {
            await web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
        }
    }

    /// <summary>
    /// Not a check: docs/images/call-audio.png, written to $SOCKETCAM_SCREENSHOTS when it is set: three people, one
    /// speaking (its border lit), one muted (the icon), and the mic button with its level meter.
    /// </summary>
    [Fact]
    public async Task CallAudio_screenshot()
    {
        if (Environment.GetEnvironmentVariable("SOCKETCAM_SCREENSHOTS") is not { Length: > 0 } target)
        {
            output.WriteLine("set SOCKETCAM_SCREENSHOTS=DIR to write the screenshot");
            return;
        }

        Directory.CreateDirectory(target);
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage ada = await browser.NewPageAsync();
        await using BrowserPage grace = await browser.NewPageAsync();
        await using BrowserPage linus = await browser.NewPageAsync();
        await linus.Page.SetViewportSizeAsync(1280, 720);
        uint adaId = await CallPage.JoinAsync(ada, server.Url, "Ada Lovelace", room: "standup");
        uint graceId = await CallPage.JoinAsync(grace, server.Url, "Grace Hopper", room: "standup");
        await CallPage.JoinAsync(linus, server.Url, "Linus", room: "standup");
        await grace.Page.ClickAsync("#mic");
        await linus.UntilAsync($"document.querySelector('.tile[data-participant=\"{graceId}\"]').dataset.audio === 'muted'", "Grace shows as muted");
        if (await linus.Page.IsVisibleAsync("#panel"))
        {
            await linus.Page.ClickAsync("#panel-close");
        }

        await linus.UntilAsync("document.querySelectorAll('.toast').length === 0", "the toasts faded");
        await linus.Page.HoverAsync($".tile[data-participant=\"{graceId}\"]"); // shows the button that mutes her for Linus
        await linus.UntilAsync(
            $"document.querySelector('.tile[data-participant=\"{adaId}\"]').classList.contains('speaking') && parseFloat(document.getElementById('mic').style.getPropertyValue('--level')) > 50",
            "Ada speaks and Linus's meter is up");
        await linus.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(target, "call-audio.png") });
        output.WriteLine(await linus.EvalAsync<string>("() => JSON.stringify([...document.querySelectorAll('.tile')].map(t => [t.dataset.participant, t.className]))"));
        output.WriteLine((await StatsAsync(linus, "window.socketcamAudioStats().tracks")).ToString());
    }

    [Fact]
    public async Task CallAudio_the_pages_microphone_reaches_a_native_viewers_wav_with_its_beeps_once_a_second()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage alice = await browser.NewPageAsync();
        await CallPage.JoinAsync(alice, server.Url, "Alice");

        // The native viewer hears the page's Opus track through libopus, its jitter buffer and player, into a WAV.
        string wav = Path.Combine(_directory, "alice.wav");
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, TestHub.Timeout * 3,
            "view", server.Hub.Url, "--room", "call", "--audio-out", wav, "--seconds", "10", "--no-window", "--quiet");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            output.WriteLine(view.Transcript());
        }

        (short[] heard, int rate) = WavAnalysis.Read(wav);
        // The same envelope the pages measure: RMS per 128-sample quantum, in full scale.
        double[] envelope = [.. heard.Chunk(128).Select(q => Math.Pow(10, WavAnalysis.LevelDbfs(q) / 20))];
        (int beeps, double periodSeconds, double regular, _, double peak) = Beeps(envelope);
        output.WriteLine($"native: {beeps} beeps, median period {periodSeconds:0.000} s, {regular:P0} regular, peak {peak:0.000}, {heard.Length / (double)rate:0.0} s");
        // Chromium's fake microphone beeps once a second per capture it serves (the preview and the call's own capture
        // share its clock, so here twice a second): every beep there, at that steady rate, each one whole.
        Assert.True(beeps >= 8, $"{beeps} beeps in {Describe(envelope.Chunk(375).Select(c => c.Max()))}");
        Assert.True(Math.Abs(periodSeconds - 0.5) <= 0.05 || Math.Abs(periodSeconds - 1.0) <= 0.1, $"beeps every {periodSeconds:0.000} s");
        Assert.True(regular >= 0.7, $"irregular beeps: {regular:P0}");
    }

    private static async Task<JsonElement> StatsAsync(BrowserPage page, string expression) =>
        JsonDocument.Parse(await page.EvalAsync<string>($"() => JSON.stringify({expression})")).RootElement.Clone();

    private static async Task<double[]> EnvelopeAsync(BrowserPage page, uint participantId) =>
        await page.EvalAsync<double[]>($"() => window.socketcamAudioEnvelope({participantId}).then(e => e.values)");

    /// <summary>Until the last 500 played quanta (1.3 s) of a participant's audio hold a beep.</summary>
    private static Task UntilLoudAsync(BrowserPage page, uint participantId, string what) =>
        Eventually.UntilAsync(async () => (await EnvelopeAsync(page, participantId)).TakeLast(500).DefaultIfEmpty(0).Max() > BeepLevel, what, TestHub.Timeout);

    /// <summary>
    /// Beep onsets in a played envelope (RMS per 128 samples at 48 kHz): a quantum at BeepLevel or above after at least
    /// 200 ms below it (a beep cut in two by an underrun is one beep). Returns how many, the median spacing in seconds of played audio, the share of spacings within
    /// 20 % of that median, the share of loud quanta, and the peak.
    /// </summary>
    private static (int Beeps, double PeriodSeconds, double Regular, double LoudShare, double Peak) Beeps(double[] envelope)
    {
        const double quantumSeconds = 128.0 / 48000;
        List<int> onsets = Onsets(envelope);
        double[] spacing = onsets.Zip(onsets.Skip(1), (a, b) => (b - a) * quantumSeconds).Order().ToArray();
        double median = spacing.Length == 0 ? 0 : spacing[spacing.Length / 2];
        double regular = spacing.Count(s => Math.Abs(s - median) <= 0.2 * median) / (double)Math.Max(1, spacing.Length);
        return (onsets.Count, median, regular, envelope.Count(v => v >= BeepLevel) / (double)Math.Max(1, envelope.Length), envelope.DefaultIfEmpty(0).Max());
    }

    private static List<int> Onsets(double[] envelope)
    {
        const double quantumSeconds = 128.0 / 48000;
        int quiet = (int)(0.2 / quantumSeconds);
        var onsets = new List<int>();
        int below = quiet;
        for (int i = 0; i < envelope.Length; i++)
        {
            if (envelope[i] >= BeepLevel)
            {
                if (below >= quiet)
                {
                    onsets.Add(i);
                }

                below = 0;
            }
            else
            {
                below++;
            }
        }

        return onsets;
    }

    private static string Describe(IEnumerable<double> values) =>
        string.Join(",", values.Select(v => Math.Round(v * 100).ToString(CultureInfo.InvariantCulture)));
}
