using System.Net.Sockets;
using SocketCam.Client;
using SocketCam.Media;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using SocketCam.Transport;
using SocketCam.Web.Tls;

namespace SocketCam.Tests.Transport;

/// <summary>
/// Native TLS (issue 16, part 2) in process: `tls://` clients of a hub with a certificate, trusted by a pinned
/// fingerprint or a CA file; wrong certificates and the two mismatches (plaintext client on a TLS port, TLS client on a
/// plaintext port) each one line, with the hub serving the others meanwhile; a stalled handshake closed in time.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class TlsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-tls-").FullName;
    private readonly ServerCertificate _certificate;

    public TlsTests() => _certificate = ServerCertificate.LoadOrCreate(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private TestHub StartTlsHub(SessionOptions? sessions = null) =>
        TestHub.Start(new HubOptions { Tcp = new TcpOptions { Certificate = _certificate.Certificate }, Sessions = sessions ?? new SessionOptions() });

    private static StreamEndpoint Tls(TestHub hub) => new(StreamEndpoint.TlsScheme, "127.0.0.1", hub.EndPoint.Port);

    private TlsClientOptions Pinned => new() { Fingerprint = TlsClientOptions.ParseFingerprint(_certificate.FingerprintWithColons.ToLowerInvariant()) };

    [Fact]
    public async Task A_v1_viewer_pinned_by_fingerprint_and_a_v2_room_client_trusting_a_CA_file_get_the_room_over_tls()
    {
        await using TestHub hub = StartTlsHub();
        Assert.True(hub.Server.TcpIsTls);
        await using TestViewer viewer = TestViewer.Start(Tls(hub), tls: Pinned);
        await viewer.WaitForFramesAsync(10);
        Assert.Equal(0, viewer.Stats.Corrupt);
        Assert.Equal(320, viewer.Stats.Width);

        var options = new ClientOptions { Room = "main", Agent = "tls test", Tls = new TlsClientOptions { CaFile = _certificate.Path } };
        await using RoomClient client = await RoomClient.ConnectAsync(Tls(hub), options, "Ada", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout);
        using var stop = new CancellationTokenSource();
        Task receiving = client.ReceiveAsync(1 << 20, stop.Token);
        await client.SnapshotReceived.WaitAsync(TestHub.Timeout);
        Assert.Contains(client.Room.Participants, p => p.Name == "Ada");
        // A request and its RESULT through TLS both ways.
        ResultMessage published = await client.PublishAsync(new TrackDescription(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "cam", 64, 48, 30000), CancellationToken.None).WaitAsync(TestHub.Timeout);
        Assert.Equal(ErrorCode.Normal, published.Code);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiving.WaitAsync(TestHub.Timeout));

        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("Listening on tls://", StringComparison.Ordinal) && e.Message.Contains(_certificate.Fingerprint, StringComparison.Ordinal));
        Assert.Empty(hub.Warnings);
    }

    [Fact]
    public async Task A_wrong_fingerprint_or_an_untrusted_certificate_is_refused_with_one_line_naming_what_the_hub_presented()
    {
        await using TestHub hub = StartTlsHub();
        string other = new('0', 64);

        UserFacingException wrong = await Assert.ThrowsAsync<UserFacingException>(() =>
            ClientSession.ConnectAsync(Tls(hub), PeerRole.Viewer, new ClientOptions { Tls = new TlsClientOptions { Fingerprint = other } }, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Contains(_certificate.FingerprintWithColons, wrong.Message, StringComparison.Ordinal);
        Assert.Contains("not the --fingerprint given", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', wrong.Message);

        // No --ca, no --fingerprint: the system store does not know a self-signed certificate.
        UserFacingException untrusted = await Assert.ThrowsAsync<UserFacingException>(() =>
            ClientSession.ConnectAsync(Tls(hub), PeerRole.Viewer, new ClientOptions(), CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Contains("--ca FILE", untrusted.Message, StringComparison.Ordinal);
        Assert.Contains("--fingerprint", untrusted.Message, StringComparison.Ordinal);
        Assert.Contains(_certificate.FingerprintWithColons, untrusted.Message, StringComparison.Ordinal);

        // A CA file that is not the hub's.
        string otherDirectory = Path.Combine(_directory, "other");
        ServerCertificate stranger = ServerCertificate.LoadOrCreate(otherDirectory);
        UserFacingException wrongCa = await Assert.ThrowsAsync<UserFacingException>(() =>
            ClientSession.ConnectAsync(Tls(hub), PeerRole.Viewer, new ClientOptions { Tls = new TlsClientOptions { CaFile = stranger.Path } }, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Contains("--ca", wrongCa.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AB:CD")]
    [InlineData("zz")]
    public void A_fingerprint_that_is_not_64_hex_digits_is_refused(string text) =>
        Assert.Throws<FormatException>(() => TlsClientOptions.ParseFingerprint(text));

    [Fact]
    public void A_fingerprint_is_accepted_with_or_without_colons_in_any_case()
    {
        Assert.Equal(_certificate.Fingerprint, TlsClientOptions.ParseFingerprint(_certificate.FingerprintWithColons.ToLowerInvariant()));
        Assert.Equal(_certificate.Fingerprint, TlsClientOptions.ParseFingerprint(_certificate.Fingerprint.ToLowerInvariant()));
        Assert.Equal("tls://h:9999", StreamEndpoint.Parse("tls://h").ToString());
    }

    [Fact]
    public async Task A_plaintext_client_on_the_tls_port_is_told_to_use_tls_in_v1_and_v2_and_the_hub_keeps_serving()
    {
        await using TestHub hub = StartTlsHub();
        await using TestViewer viewer = TestViewer.Start(Tls(hub), tls: Pinned);
        await viewer.WaitForFramesAsync(3);
        string expected = $"this hub's port speaks TLS: connect with tls://127.0.0.1:{hub.EndPoint.Port}";

        RemoteErrorException v1 = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            ClientSession.ConnectAsync(hub.Endpoint, PeerRole.Viewer, new ClientOptions(), CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Equal(expected, v1.Reason);
        RemoteErrorException v2 = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            RoomClient.ConnectAsync(hub.Endpoint, new ClientOptions(), "Plain", hidden: false, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Equal(expected, v2.Reason);

        await viewer.WaitForMoreFramesAsync(5);
    }

    [Fact]
    public async Task A_tls_client_on_a_plaintext_port_gets_one_line_and_the_hub_keeps_serving()
    {
        await using TestHub hub = TestHub.Start();
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint);
        await viewer.WaitForFramesAsync(3);

        var endpoint = new StreamEndpoint(StreamEndpoint.TlsScheme, "127.0.0.1", hub.EndPoint.Port);
        UserFacingException ex = await Assert.ThrowsAsync<UserFacingException>(() =>
            ClientSession.ConnectAsync(endpoint, PeerRole.Viewer, new ClientOptions { Tls = Pinned }, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Equal($"tls://127.0.0.1:{hub.EndPoint.Port}: the hub did not answer TLS; is it started with serve --tls? (use tcp:// for a plaintext hub)", ex.Message);

        await viewer.WaitForMoreFramesAsync(5);
        await Eventually.UntilAsync(() => hub.Logs.Entries.Any(e => e.Message.Contains("a TLS client on a plaintext port", StringComparison.Ordinal)), "the hub's log line");
    }

    [Fact]
    public async Task A_stalled_tls_handshake_silent_or_half_a_ClientHello_is_closed_within_the_handshake_timeout_while_others_stream()
    {
        await using TestHub hub = StartTlsHub(new SessionOptions { HandshakeTimeout = TimeSpan.FromSeconds(1) });
        await using TestViewer viewer = TestViewer.Start(Tls(hub), tls: Pinned);
        await viewer.WaitForFramesAsync(3);

        using var silent = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await silent.ConnectAsync(hub.EndPoint);
        using var half = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await half.ConnectAsync(hub.EndPoint);
        // A handshake record announcing 512 bytes of ClientHello, then only its first few.
        await half.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03 });

        var started = System.Diagnostics.Stopwatch.StartNew();
        await AssertClosedAsync(silent);
        await AssertClosedAsync(half);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(8), $"closed after {started.Elapsed}");

        await viewer.WaitForMoreFramesAsync(5);
        await Eventually.UntilAsync(() => hub.Logs.Entries.Count(e => e.Message.Contains("no TLS handshake within 1 s", StringComparison.Ordinal)) == 2, "two stalled handshakes logged");
        Assert.Single(hub.Server.Connections);
    }

    /// <summary>The hub closed the socket: a read ends (0 bytes, or a reset) well before the test's timeout.</summary>
    private static async Task AssertClosedAsync(Socket socket)
    {
        byte[] buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TestHub.Timeout);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // Reset: closed too.
        }
    }
}
