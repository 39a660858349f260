using System.Net.Sockets;
using SocketCam.Media;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Sources;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Transport;

/// <summary>
/// The hub on a Unix domain socket, in process: the same protocol as TCP, and the socket file's life: a stale one is
/// replaced, a live one or a non-socket never is, and nothing is left after shutdown.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class UnixSocketTests : IDisposable
{
    // Short on purpose: a socket path must fit in 107 bytes.
    private readonly string _directory = Directory.CreateTempSubdirectory("scu-").FullName;

    private string SocketPath => Path.Combine(_directory, "hub.sock");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_viewer_over_a_Unix_socket_gets_the_rooms_frames()
    {
        await using TestHub hub = TestHub.Start(unixSocketPath: SocketPath);
        Assert.Equal(SocketPath, hub.Server.UnixSocketPath);
        await using TestViewer viewer = TestViewer.Start(hub.UnixEndpoint);

        await viewer.WaitForFramesAsync(10);

        Assert.Equal(0, viewer.Stats.Corrupt);
        Assert.Equal(320, viewer.Stats.Width);
        Assert.Equal(240, viewer.Stats.Height);
        // The hub names a Unix client by its socket file and process (it has no address).
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains($"unix:{SocketPath} (pid {Environment.ProcessId}) joined room 'main' as viewer", StringComparison.Ordinal));
        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task A_publisher_over_a_Unix_socket_reaches_a_TCP_viewer_of_its_room()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null, unixSocketPath: SocketPath);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "pub");
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new PublisherClient(hub.UnixEndpoint, new ClientOptions { Room = "pub", Reconnect = false, Agent = "unix publisher" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            await viewer.WaitForFramesAsync(10);

            Assert.Equal(160, viewer.Stats.Width);
            Assert.Equal(120, viewer.Stats.Height);
            Assert.Equal(0, viewer.Stats.Corrupt);
            Assert.False(publishing.IsCompleted, "the publisher's session ended");
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.WaitAsync(TestHub.Timeout);
        }

        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task The_hub_can_listen_on_the_Unix_socket_alone()
    {
        var logs = new CapturingLoggerProvider();
        using var factory = logs.CreateFactory();
        await using var hub = new HubServer(new HubOptions { Tcp = null, Unix = new() { Path = SocketPath } }, factory);
        hub.Start();
        Assert.False(hub.HasTcpListener);
        Assert.Throws<InvalidOperationException>(() => hub.TcpEndPoint);
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        using var stop = new CancellationTokenSource();
        Task capture = new CapturePipeline(source, encoder, hub.GetOrCreateRoom("main"), factory.CreateLogger("capture")).RunAsync(stop.Token);
        await using (TestViewer viewer = TestViewer.Start(StreamEndpoint.Unix(SocketPath)))
        {
            await viewer.WaitForFramesAsync(5);
        }

        await stop.CancelAsync();
        await capture.WaitAsync(TestHub.Timeout);
    }

    [Fact]
    public async Task A_stale_socket_file_from_a_crash_is_replaced()
    {
        // A real stale socket: bound (the kernel creates the file), then closed without unlinking, as after a crash.
        // (Bound so that .NET does not delete the file on dispose, which it otherwise does.)
        using (var crashed = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            UnixSocketListener.Bind(crashed, SocketPath);
            crashed.Listen(1);
        }

        Assert.True(File.Exists(SocketPath), "the stale socket file should still be there");

        await using TestHub hub = TestHub.Start(unixSocketPath: SocketPath);
        await using TestViewer viewer = TestViewer.Start(hub.UnixEndpoint);
        await viewer.WaitForFramesAsync(5);

        Assert.Contains(hub.Logs.Entries, e => e.Message.StartsWith($"Replaced the stale socket file {SocketPath}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fresh_path_is_bound_without_any_replacing()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null, unixSocketPath: SocketPath);
        Assert.DoesNotContain(hub.Logs.Entries, e => e.Message.Contains("stale", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_live_socket_of_another_listener_is_not_replaced()
    {
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(SocketPath));
        other.Listen(4);
        long inode = Inode(SocketPath);

        var hub = new HubServer(new HubOptions { Tcp = null, Unix = new() { Path = SocketPath } });
        await using (hub)
        {
            var error = Assert.Throws<UserFacingException>(hub.Start);
            Assert.Contains($"another process is listening on {SocketPath}", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }

        // Still the other listener's file, and it still takes connections.
        Assert.Equal(inode, Inode(SocketPath));
        await AssertAcceptsAsync(other);
    }

    [Fact]
    public async Task A_regular_file_at_the_path_is_neither_deleted_nor_changed()
    {
        await File.WriteAllTextAsync(SocketPath, "not a socket");

        var hub = new HubServer(new HubOptions { Unix = new() { Path = SocketPath }, Tcp = new() { EndPoint = new(System.Net.IPAddress.Loopback, 0) } });
        await using (hub)
        {
            var error = Assert.Throws<UserFacingException>(hub.Start);
            Assert.Contains("is not a socket", error.Message, StringComparison.Ordinal);
            Assert.False(hub.HasTcpListener, "a failed start leaves no TCP listener behind");
        }

        Assert.Equal("not a socket", await File.ReadAllTextAsync(SocketPath));
    }

    [Fact]
    public async Task A_symlink_at_the_path_is_not_followed_or_deleted()
    {
        string target = Path.Combine(_directory, "target.sock");
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            UnixSocketListener.Bind(stale, target);
        }

        File.CreateSymbolicLink(SocketPath, target);
        var hub = new HubServer(new HubOptions { Tcp = null, Unix = new() { Path = SocketPath } });
        await using (hub)
        {
            Assert.Contains("is not a socket", Assert.Throws<UserFacingException>(hub.Start).Message, StringComparison.Ordinal);
        }

        Assert.NotNull(new FileInfo(SocketPath).LinkTarget);
        Assert.True(File.Exists(target));
    }

    [Fact]
    public async Task No_socket_file_is_left_after_the_hub_is_disposed()
    {
        await using (TestHub hub = TestHub.Start(unixSocketPath: SocketPath))
        {
            await using TestViewer viewer = TestViewer.Start(hub.UnixEndpoint);
            await viewer.WaitForFramesAsync(3);
            Assert.True(File.Exists(SocketPath));
        }

        Assert.False(File.Exists(SocketPath), "the socket file outlived the hub");
        Assert.Empty(Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public async Task On_shutdown_a_socket_file_that_is_no_longer_the_hubs_is_left_alone()
    {
        TestHub hub = TestHub.Start(captureRoom: null, unixSocketPath: SocketPath);
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Another program removed the hub's file and listens at the same path now.
            File.Delete(SocketPath);
            other.Bind(new UnixDomainSocketEndPoint(SocketPath));
            other.Listen(4);
        }
        finally
        {
            await hub.DisposeAsync();
        }

        Assert.True(File.Exists(SocketPath), "the hub deleted a socket file that was not its own");
        await AssertAcceptsAsync(other);
    }

    [Fact]
    public async Task A_viewer_of_a_missing_socket_file_gets_an_error_that_names_it()
    {
        var viewer = new ViewerClient(StreamEndpoint.Unix(SocketPath), new ViewerOptions { Reconnect = false });
        using (viewer)
        {
            var error = await Assert.ThrowsAsync<IOException>(() => viewer.RunAsync(CancellationToken.None));
            Assert.Equal($"unix://{SocketPath}: no such socket file: is `socketcam serve --unix {SocketPath}` running?", error.Message);
        }
    }

    [Theory]
    [InlineData("unix:///run/socketcam.sock", "/run/socketcam.sock")]
    [InlineData("UNIX:///run/socketcam.sock", "/run/socketcam.sock")]
    [InlineData("unix:/run/socketcam.sock", "/run/socketcam.sock")]
    public void Unix_addresses_parse_to_an_absolute_path(string text, string path)
    {
        StreamEndpoint endpoint = StreamEndpoint.Parse(text);
        Assert.True(endpoint.IsUnix);
        Assert.Equal(path, endpoint.Host);
        Assert.Equal("unix://" + path, endpoint.ToString());
    }

    [Fact]
    public void A_relative_unix_address_is_made_absolute()
    {
        StreamEndpoint endpoint = StreamEndpoint.Parse("unix:hub.sock");
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "hub.sock"), endpoint.Host);
    }

    [Theory]
    [InlineData("unix://run/x.sock", "three slashes")]
    [InlineData("unix://", "no socket file name")]
    [InlineData("unix:///tmp/", "no socket file name")]
    public void Bad_unix_addresses_are_refused_with_one_line(string text, string reason)
    {
        var error = Assert.Throws<FormatException>(() => StreamEndpoint.Parse(text));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_unix_path_longer_than_sockaddr_un_allows_is_refused_before_any_socket()
    {
        string path = "/tmp/" + new string('a', 103);
        var error = Assert.Throws<FormatException>(() => StreamEndpoint.Parse("unix://" + path));
        Assert.Contains("108 bytes long; the limit is 107", error.Message, StringComparison.Ordinal);
        Assert.Equal(path[..^1], StreamEndpoint.Parse("unix://" + path[..^1]).Host);
    }

    [Fact]
    public void Transports_that_do_not_take_unix_addresses_refuse_them()
    {
        var error = Assert.Throws<FormatException>(() => StreamEndpoint.Parse("unix:///tmp/x.sock", 1, null, null, ["tcp", "udp"]));
        Assert.Contains("Unsupported address", error.Message, StringComparison.Ordinal);
    }

    private static async Task AssertAcceptsAsync(Socket listener)
    {
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using Socket accepted = await listener.AcceptAsync().WaitAsync(TestHub.Timeout);
        Assert.True(accepted.Connected);
    }

    /// <summary>The inode number, from `stat -c %i` (tells a replaced file from the original).</summary>
    private static long Inode(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        string output = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
