using System.Net;
using System.Net.Sockets;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Seed;

/// <summary>
/// `socketcam serve --seed-tcp`, watched by the seed tutorial's own client program (seed_client_002.py: its 4 KB
/// recv loop, struct.unpack("Q") and pickle.loads) run by Debian's python3 + OpenCV.
/// </summary>
[Collection(SeedCollection.Name)]
public sealed class SeedServeTests : IAsyncLifetime
{
    private const int Width = 330;
    private const int Height = 246;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-seedserve-").FullName;
    private string _image = "";
    private byte[] _bgr = [];

    public async Task InitializeAsync()
    {
        // A still picture with colour, edges and text; odd-ish size (not a multiple of 16).
        _image = Path.Combine(_directory, "still.png");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", $"testsrc2=size={Width}x{Height}:rate=1", "-frames:v", "1", _image);
        _bgr = await SeedPrograms.BgrPixelsAsync(_image);
        Assert.Equal(Width * Height * 3, _bgr.Length);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_seed_client_receives_the_exact_BGR_pixels_of_an_image_with_codec_raw()
    {
        (CliProcess serve, _, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "image:" + _image, "--codec", "raw", "--fps", "60", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            Assert.Contains(serve.Stdout, l => l.StartsWith("SocketCam seed-format listener on tcp://", StringComparison.Ordinal) && l.Contains("(room 'main')", StringComparison.Ordinal));

            SeedClientResult client = await SeedPrograms.RunClientAsync(seedPort, 120, "--hash", "3");

            AssertExactFrames(client, 120);
            SeedCli.AssertNoStackTrace(serve);
        }
    }

    [Fact]
    public async Task With_the_default_jpeg_codec_the_seed_client_gets_pixels_close_to_the_image()
    {
        (CliProcess serve, _, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "image:" + _image, "--fps", "60", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            string last = Path.Combine(_directory, "last.bgr");
            SeedClientResult client = await SeedPrograms.RunClientAsync(seedPort, 100, "--save-last", last);

            Assert.Equal(100, client.Frames);
            Assert.Equal([Height, Width, 3], client.Shape);
            Assert.Equal("uint8", client.Dtype);
            byte[] received = await File.ReadAllBytesAsync(last);
            Assert.Equal(_bgr.Length, received.Length);
            double difference = MeanAbsoluteDifference(_bgr, received, swapRedBlue: false);
            double swapped = MeanAbsoluteDifference(_bgr, received, swapRedBlue: true);
            // JPEG quality 80, 4:2:0 on testsrc2's sharp coloured edges: a few levels on average. A frame with red and
            // blue exchanged (RGB sent as BGR) is far off, so channel order is checked too.
            Assert.True(difference < 8, $"mean absolute difference {difference:0.00} from the source picture (red/blue swapped: {swapped:0.00})");
            Assert.True(swapped > 3 * difference, $"red/blue swapped is as close as the frame itself: {swapped:0.00} vs {difference:0.00}");
        }
    }

    [Fact]
    public async Task The_seed_client_receives_a_video_file_source()
    {
        string video = Path.Combine(_directory, "clip.avi");
        await SeedPrograms.MakeVideoAsync(video, 320, 240, 60);
        (CliProcess serve, _, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "file:" + video, "--loop", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            SeedClientResult client = await SeedPrograms.RunClientAsync(seedPort, 100, "--hash", "0");

            Assert.Equal(100, client.Frames);
            Assert.Equal([240, 320, 3], client.Shape);
            Assert.Equal("uint8", client.Dtype);
            Assert.NotEqual(client.FirstSha256, client.LastSha256); // a moving picture, not one frame repeated
        }
    }

    [Fact]
    public async Task Two_seed_clients_at_once_both_receive_the_stream()
    {
        (CliProcess serve, _, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "image:" + _image, "--codec", "raw", "--fps", "60", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            Task<SeedClientResult> first = SeedPrograms.RunClientAsync(seedPort, 100);
            Task<SeedClientResult> second = SeedPrograms.RunClientAsync(seedPort, 100);
            SeedClientResult[] both = await Task.WhenAll(first, second);

            AssertExactFrames(both[0], 100);
            AssertExactFrames(both[1], 100);
        }
    }

    [Fact]
    public async Task A_seed_client_that_never_reads_does_not_hold_up_another()
    {
        (CliProcess serve, _, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "image:" + _image, "--codec", "raw", "--fps", "60", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            // Connects with a tiny receive buffer and never reads: the first frame alone (243 KB) fills every buffer.
            using Socket stalled = await ConnectAsync(seedPort, receiveBufferSize: 4096);

            SeedClientResult client = await SeedPrograms.RunClientAsync(seedPort, 100);

            AssertExactFrames(client, 100);
        }
    }

    [Fact]
    public async Task A_seed_client_that_sends_garbage_does_not_disturb_the_others()
    {
        (CliProcess serve, _, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "image:" + _image, "--codec", "raw", "--fps", "60", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            Task<SeedClientResult> client = SeedPrograms.RunClientAsync(seedPort, 150);
            using (Socket noisy = await ConnectAsync(seedPort))
            {
                // 1 MiB of junk (and a length prefix that claims 2^63 bytes): the seed format is one-way, so the server
                // ignores it or drops this client. Either way the send may fail once the server has closed.
                byte[] junk = new byte[64 * 1024];
                new Random(3).NextBytes(junk);
                BitConverter.TryWriteBytes(junk, 1UL << 63);
                try
                {
                    for (int i = 0; i < 16; i++)
                    {
                        await noisy.SendAsync(junk, SocketFlags.None).WaitAsync(TestHub.Timeout);
                    }
                }
                catch (SocketException)
                {
                    // Disconnected by the server: allowed.
                }
                catch (TimeoutException)
                {
                    // The server does not read what seed clients send: allowed too.
                }
            }

            AssertExactFrames(await client, 150);
            // And the listener still takes new clients.
            AssertExactFrames(await SeedPrograms.RunClientAsync(seedPort, 20), 20);
            SeedCli.AssertNoStackTrace(serve);
        }
    }

    [Fact]
    public async Task A_native_viewer_keeps_its_stream_while_seed_clients_come_and_go()
    {
        (CliProcess serve, int hubPort, int seedPort) = await SeedCli.StartServeAsync(_directory, "--source", "image:" + _image, "--codec", "raw", "--fps", "60", "--seed-tcp", "127.0.0.1:0");
        await using (serve)
        {
            await using TestViewer viewer = TestViewer.Start(new StreamEndpoint("tcp", "127.0.0.1", hubPort), hashPictures: true);
            await viewer.WaitForMoreFramesAsync(10, SeedCli.ProcessTimeout);

            for (int round = 0; round < 3; round++)
            {
                // One that watches a while and leaves politely...
                AssertExactFrames(await SeedPrograms.RunClientAsync(seedPort, 30), 30);

                // ...one killed in the middle of a frame...
                await using (PythonProgram killed = PythonProgram.Start("seed_client_002.py", "127.0.0.1", seedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--frames", "1000000"))
                {
                    await killed.WaitForStdoutLineAsync(l => l.StartsWith("frame 0 ", StringComparison.Ordinal), SeedPrograms.ProgramTimeout);
                }

                // ...and one that connects and closes at once.
                using (Socket brief = await ConnectAsync(seedPort))
                {
                    brief.Close();
                }

                await viewer.WaitForMoreFramesAsync(10, SeedCli.ProcessTimeout);
            }

            Assert.False(viewer.Run.IsCompleted, "the native viewer stopped");
            Assert.DoesNotContain(viewer.Signals, s => !s.Live);
            Assert.Equal(0, viewer.Stats.Reconnects);
            string expected = SeedPrograms.Sha256(_bgr);
            Assert.All(viewer.Hashes.Values, h => Assert.Equal(expected, h, ignoreCase: true));
            SeedCli.AssertNoStackTrace(serve);
        }
    }

    private void AssertExactFrames(SeedClientResult client, int frames)
    {
        string expected = SeedPrograms.Sha256(_bgr);
        Assert.True(client.Frames == frames, $"{client.Frames} frames{Environment.NewLine}{client.Program.Transcript()}");
        Assert.Equal([Height, Width, 3], client.Shape);
        Assert.Equal("uint8", client.Dtype);
        Assert.Equal(expected, client.FirstSha256);
        Assert.Equal(expected, client.LastSha256);
    }

    private static async Task<Socket> ConnectAsync(int port, int? receiveBufferSize = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(TestHub.Timeout);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static double MeanAbsoluteDifference(byte[] expected, byte[] actual, bool swapRedBlue)
    {
        long sum = 0;
        for (int i = 0; i < expected.Length; i += 3)
        {
            sum += Math.Abs(expected[i] - actual[swapRedBlue ? i + 2 : i]);
            sum += Math.Abs(expected[i + 1] - actual[i + 1]);
            sum += Math.Abs(expected[i + 2] - actual[swapRedBlue ? i : i + 2]);
        }

        return (double)sum / expected.Length;
    }
}
