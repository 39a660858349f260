using System.Globalization;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Audio;

/// <summary>
/// Opus end to end as a user runs it: `publish --audio` into a real `serve`, `view --audio-out` writing what it plays (there
/// is no sound card here), and SDL's real audio output through its disk driver. The signal is ffmpeg's own 440 Hz sine.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class AudioCliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-audio-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_440_hz_tone_published_with_video_plays_into_a_wav_at_440_hz_and_the_sources_level_without_gaps()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--source", "none", "--data", Path.Combine(_directory, "data"), "--quiet");
        string url = await HubUrlAsync(serve);
        await using CliProcess publish = CliProcess.Start(_directory, "publish", url, "--source", "pattern", "--size", "320x240", "--audio", "lavfi:sine=frequency=440", "--quiet");
        string described = await TrackLineAsync(publish);
        Assert.Contains("sine=frequency=440, Opus 32 kbit/s, 20 ms packets", described, StringComparison.Ordinal);

        string wav = Path.Combine(_directory, "heard.wav");
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, Wait, "view", url, "--audio-out", wav, "--seconds", "6", "--no-window", "--quiet");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            string summary = Assert.Single(view.Stderr, l => l.StartsWith("audio: ", StringComparison.Ordinal));
            Assert.Contains("from 1 track(s)", summary, StringComparison.Ordinal);
            Assert.Contains("concealed 0 (0%)", summary, StringComparison.Ordinal);
            // Lip sync: each is played against its capture time, so the sound's delay (its jitter buffer) minus the
            // picture's stays inside ITU-R BT.1359's window (audio at most 45 ms early, 125 ms late).
            int at = summary.IndexOf("a/v skew ", StringComparison.Ordinal);
            Assert.True(at > 0, summary);
            double skew = double.Parse(summary[(at + 9)..].Split(' ')[0], CultureInfo.InvariantCulture);
            Assert.InRange(skew, -45, 125);
        }

        (short[] heard, int rate) = WavAnalysis.Read(wav);
        Assert.Equal(48_000, rate);
        // From the first sound on: the hub needs a moment to route the track to the new viewer.
        int start = Array.FindIndex(heard, x => Math.Abs((int)x) > 500);
        Assert.True(start >= 0 && heard.Length - start > rate * 3, $"{heard.Length - start} samples of sound in {heard.Length}");
        short[] sound = heard[start..^(rate / 5)];
        Assert.Equal(440, WavAnalysis.DominantFrequency(sound, rate), 0);
        // Without gaps: on TCP nothing is lost, so every 10 ms of the played tone sounds (a stall of this shared machine
        // could still stretch one by PLC, hence a share, not none).
        double quietShare = sound.Chunk(rate / 100).Count(b => WavAnalysis.LevelDbfs(b) < -50) / (double)(sound.Length / (rate / 100));
        Assert.True(quietShare <= 0.02, string.Create(CultureInfo.InvariantCulture, $"{quietShare:P1} of the tone's 10 ms blocks are silent; longest gap {WavAnalysis.LongestQuietMs(sound, rate):0} ms"));

        // The source's level, measured the same way on ffmpeg's own rendering of the same graph.
        string reference = Path.Combine(_directory, "source.wav");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", reference);
        (short[] source, _) = WavAnalysis.Read(reference);
        double difference = WavAnalysis.LevelDbfs(sound) - WavAnalysis.LevelDbfs(source);
        Assert.True(Math.Abs(difference) <= 1.0, string.Create(CultureInfo.InvariantCulture, $"level differs by {difference:0.00} dB"));
    }

    [Fact]
    public async Task Flashes_and_beeps_made_together_are_shown_and_played_within_the_lip_sync_window_over_tcp_in_a_window_and_udp()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--source", "none", "--data", Path.Combine(_directory, "data"), "--quiet");
        string url = await HubUrlAsync(serve);
        string udpLine = await serve.WaitForStdoutLineAsync(l => l.Contains("listening on udp://", StringComparison.Ordinal), Wait);
        string udpUrl = udpLine[udpLine.IndexOf("udp://", StringComparison.Ordinal)..].Trim();
        await using CliProcess publish = CliProcess.Start(_directory, "publish", url, "--source", "sync", "--size", "320x180", "--audio", "sync", "--quiet");
        Assert.Contains("sync test (a beep each second)", await TrackLineAsync(publish), StringComparison.Ordinal);

        // Two viewers at once, one per transport; each times the flashes it shows and the beeps it plays on its own clock.
        // The TCP one shows its pictures in a real window (Xvfb), held back there to meet their sound.
        await using XvfbDisplay x = await XvfbDisplay.StartAsync();
        Task<(int, CliProcess)> overUdp = CliProcess.RunAsync(_directory, Wait, "view", udpUrl, "--audio-out", Path.Combine(_directory, "udp.wav"), "--seconds", "7", "--no-window", "--quiet");
        await using CliProcess view = CliProcess.StartWithEnvironment(_directory, x.Environment, "view", url, "--audio-out", Path.Combine(_directory, "tcp.wav"), "--seconds", "7", "--window", "--quiet");
        int code = await view.WaitForExitAsync(Wait);
        (int udpCode, CliProcess udpView) = await overUdp;
        Assert.Contains(view.Stderr, l => l.StartsWith("window (", StringComparison.Ordinal) && !l.Contains(" 0 frames shown", StringComparison.Ordinal));
        await using (udpView)
        {
            foreach ((int exit, CliProcess viewer) in new[] { (code, view), (udpCode, udpView) })
            {
                Assert.True(exit == 0, viewer.Transcript());
                string summary = Assert.Single(viewer.Stderr, l => l.StartsWith("audio: ", StringComparison.Ordinal));
                Match m = Regex.Match(summary, @"lip sync ([+-]?\d+) ms \(beep after flash, (\d+) pairs\)");
                Assert.True(m.Success, summary);
                double offset = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                Assert.True(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) >= 3, summary);
                // ITU-R BT.1359: the sound at most 45 ms before the picture, at most 125 ms after it.
                Assert.InRange(offset, -45, 125);
            }
        }

        // The played sound itself: 1 kHz beeps a second apart.
        (short[] heard, int rate) = WavAnalysis.Read(Path.Combine(_directory, "tcp.wav"));
        var onsets = new List<int>();
        for (int i = 0; i < heard.Length; i++)
        {
            if (Math.Abs((int)heard[i]) > 8000 && (onsets.Count == 0 || i - onsets[^1] > rate / 2))
            {
                onsets.Add(i);
            }
        }

        Assert.True(onsets.Count >= 4, $"{onsets.Count} beeps");
        Assert.All(onsets.Zip(onsets.Skip(1), (a, b) => b - a), gap => Assert.InRange(gap, rate - (rate / 10), rate + (rate / 10))); // each talk spurt starts after the jitter buffer's delay, which adapts
        Assert.InRange(WavAnalysis.DominantFrequency(heard.AsSpan(onsets[1], rate / 20), rate, 500, 2000), 980, 1020);
    }

    [Fact]
    public async Task The_speaker_is_sdls_real_audio_output_which_its_disk_driver_writes_out()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--source", "none", "--data", Path.Combine(_directory, "data"), "--quiet");
        string url = await HubUrlAsync(serve);
        await using CliProcess publish = CliProcess.Start(_directory, "publish", url, "--source", "pattern", "--size", "160x120", "--audio", "lavfi:sine=frequency=660", "--quiet");
        await TrackLineAsync(publish);

        string played = Path.Combine(_directory, "sdl-disk.raw");
        var environment = new Dictionary<string, string> { ["SDL_AUDIODRIVER"] = "disk", ["SDL_DISKAUDIOFILE"] = played };
        await using CliProcess view = CliProcess.StartWithEnvironment(_directory, environment, "view", url, "--audio-out", "speaker", "--seconds", "5", "--no-window", "--quiet");
        Assert.True(await view.WaitForExitAsync(Wait) == 0, view.Transcript());
        Assert.Contains(view.Stderr, l => l.StartsWith("audio: ", StringComparison.Ordinal) && l.Contains("into speaker", StringComparison.Ordinal));

        short[] left = WavAnalysis.Channel(await File.ReadAllBytesAsync(played), 2);
        int start = Array.FindIndex(left, x => Math.Abs((int)x) > 500);
        Assert.True(start >= 0 && left.Length - start > 48_000 * 2, $"SDL played {left.Length} samples, sound from {start}");
        Assert.Equal(660, WavAnalysis.DominantFrequency(left[start..], 48_000), 0);
    }

    [Fact]
    public async Task In_a_call_each_hears_the_other_and_a_muted_microphone_goes_silent()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--source", "none", "--data", Path.Combine(_directory, "data"), "--quiet");
        string url = await HubUrlAsync(serve) + "/talk";
        await using CliProcess alice = CliProcess.Start(_directory, "call", url, "--name", "alice", "--no-window", "--source", "pattern", "--size", "160x120", "--audio", "lavfi:sine=frequency=500", "--quiet");
        string wav = Path.Combine(_directory, "bob.wav");
        await using CliProcess bob = CliProcess.Start(_directory, "call", url, "--name", "bob", "--no-window", "--source", "none", "--audio", "none", "--audio-out", wav, "--quiet");
        await bob.WaitForStdoutLineAsync(l => l.Contains("alice", StringComparison.Ordinal) && l.Contains("joined", StringComparison.Ordinal), Wait);

        // Bob hears alice's tone: wait until a second of it is in his file (its header is brought up to date every second).
        await Eventually.UntilAsync(() => Sounding(wav) > 48_000, "bob hearing alice", Wait);
        await alice.WriteLineAsync("/mute");
        await alice.WaitForStdoutLineAsync(l => l.Contains("your microphone is muted", StringComparison.Ordinal), Wait);
        int soundingWhenMuted = Sounding(wav);
        // Two seconds' worth of bob's output after the mute: the file grows, the sound does not.
        long muted = WavAnalysis.Read(wav).Samples.Length;
        await Eventually.UntilAsync(() => WavAnalysis.Read(wav).Samples.Length > muted + (2 * 48_000), "bob's output going on", Wait);
        await bob.WriteLineAsync("/quit");
        Assert.True(await bob.WaitForExitAsync(Wait) == 0, bob.Transcript());

        (short[] heard, int rate) = WavAnalysis.Read(wav);
        int start = Array.FindIndex(heard, x => Math.Abs((int)x) > 500);
        Assert.Equal(500, WavAnalysis.DominantFrequency(heard.AsSpan(start, rate), rate), 0);
        // After the mute (and the packets already under way), silence to the end.
        Assert.True(WavAnalysis.LongestQuietMs(heard.AsSpan(heard.Length - (rate * 3 / 2)), rate) >= 1500, "alice's muted microphone is still heard");
        // What was already under way when alice muted: the file's header lags up to a second, plus the jitter buffer.
        Assert.InRange(Sounding(wav) - soundingWhenMuted, 0, rate * 3 / 2);
        Assert.Contains(bob.Stderr, l => l.StartsWith("audio: ", StringComparison.Ordinal) && l.Contains("from 1 track(s)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Audio_mistakes_are_one_line_each()
    {
        (int code, CliProcess p) = await CliProcess.RunAsync(_directory, Wait, "publish", "tcp://127.0.0.1:9", "--audio", "trumpet", "--seconds", "1");
        await using (p)
        {
            Assert.NotEqual(0, code);
            Assert.Contains(p.Stderr, l => l.Contains("--audio 'trumpet' is not an audio source: use none, auto, mic", StringComparison.Ordinal));
            Assert.DoesNotContain(p.Stderr, l => l.Contains("   at ", StringComparison.Ordinal));
        }

        (code, p) = await CliProcess.RunAsync(_directory, Wait, "view", "tcp://127.0.0.1:9", "--audio-out", "x.mp3", "--seconds", "1", "--no-window");
        await using (p)
        {
            Assert.NotEqual(0, code);
            Assert.Contains(p.Stderr, l => l.Contains("--audio-out 'x.mp3': give a FILE.wav or speaker.", StringComparison.Ordinal));
        }

        (code, p) = await CliProcess.RunAsync(_directory, Wait, "view", "seed+tcp://127.0.0.1:9", "--audio-out", Path.Combine(_directory, "u.wav"), "--seconds", "1", "--no-window");
        await using (p)
        {
            Assert.NotEqual(0, code);
            Assert.Contains(p.Stderr, l => l.Contains("--audio-out needs a SocketCam hub (tcp://, tls://, unix:// or udp://): the seed format carries no sound.", StringComparison.Ordinal));
            Assert.DoesNotContain(p.Stderr, l => l.Contains("   at ", StringComparison.Ordinal));
        }
    }

    // Samples with sound in a WAV being written (0 before its header first says it has data).
    private static int Sounding(string wav)
    {
        try
        {
            return WavAnalysis.Read(wav).Samples.Count(x => Math.Abs((int)x) > 500);
        }
        catch (Exception ex) when (ex is IOException or Xunit.Sdk.XunitException)
        {
            return 0;
        }
    }

    private static async Task<string> TrackLineAsync(CliProcess publish)
    {
        await Eventually.UntilAsync(() => publish.Stderr.Any(l => l.Contains("track 2:", StringComparison.Ordinal)) || publish.HasExited, "publish describing its audio track", Wait);
        return Assert.Single(publish.Stderr, l => l.Contains("track 2:", StringComparison.Ordinal));
    }

    private static async Task<string> HubUrlAsync(CliProcess serve)
    {
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), Wait);
        return banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
    }
}
