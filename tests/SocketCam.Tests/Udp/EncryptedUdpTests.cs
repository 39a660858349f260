using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using SocketCam.Client;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using SocketCam.Transport;
using SocketCam.Udp;
using SocketCam.Web.Tls;

namespace SocketCam.Tests.Udp;

/// <summary>
/// Encrypted UDP (issue 16 part 3, docs/PROTOCOL.md §2.0 "Encrypted sessions") against a real hub with TLS and UDP on
/// 127.0.0.1: keys over TLS, every datagram sealed both ways, forged, replayed and unsealed datagrams from the session's
/// own address dropped and counted while it streams on, and plain UDP beside it.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class EncryptedUdpTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udptls-").FullName;
    private readonly ServerCertificate _certificate;

    public EncryptedUdpTests() => _certificate = ServerCertificate.LoadOrCreate(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private TlsClientOptions Pinned => new() { Fingerprint = TlsClientOptions.ParseFingerprint(_certificate.Fingerprint) };

    private TestHub StartHub(SessionOptions? sessions = null) => TestHub.Start(
        new HubOptions
        {
            Tcp = new TcpOptions { Certificate = _certificate.Certificate },
            Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) },
            Sessions = sessions ?? new SessionOptions(),
        },
        width: 640,
        height: 480);

    private static StreamEndpoint Sealed(TestHub hub) => new(UdpKeyExchange.Scheme, "127.0.0.1", hub.EndPoint.Port);

    [Fact]
    public async Task An_encrypted_viewer_gets_the_frames_byte_for_byte_beside_a_plain_UDP_viewer()
    {
        await using TestHub hub = StartHub();
        var overTls = new ConcurrentDictionary<long, byte[]>();
        var overSealedUdp = new ConcurrentDictionary<long, byte[]>();
        var overPlainUdp = new ConcurrentDictionary<long, byte[]>();
        await using TestViewer reference = TestViewer.Start(new StreamEndpoint(StreamEndpoint.TlsScheme, "127.0.0.1", hub.EndPoint.Port), tls: Pinned, onReceived: (h, d) => overTls[h.Sequence] = d.ToArray());
        await using TestViewer encrypted = TestViewer.Start(Sealed(hub), tls: Pinned, onReceived: (h, d) => overSealedUdp[h.Sequence] = d.ToArray());
        await using TestViewer plain = TestViewer.Start(hub.UdpEndpoint, onReceived: (h, d) => overPlainUdp[h.Sequence] = d.ToArray());
        await encrypted.WaitForFramesAsync(30);
        await plain.WaitForFramesAsync(30);
        await reference.WaitForFramesAsync(30);
        Assert.Equal(0, encrypted.Stats.Corrupt);
        Assert.Equal((640, 480), (encrypted.Stats.Width, encrypted.Stats.Height));

        long[] common = [.. overSealedUdp.Keys.Intersect(overTls.Keys)];
        Assert.True(common.Length >= 10, $"only {common.Length} frames seen by both");
        Assert.All(common, s => Assert.Equal(overTls[s], overSealedUdp[s]));
        Assert.All(overPlainUdp.Keys.Intersect(overTls.Keys), s => Assert.Equal(overTls[s], overPlainUdp[s]));

        IUdpSession[] sessions = [.. hub.Server.Udp!.Sessions];
        Assert.Equal(2, sessions.Length);
        Assert.Single(sessions, s => s.Seal is not null);
        Assert.Single(sessions, s => s.Seal is null);
        Assert.Equal(0, hub.Server.Udp.Drops.Unsealed);
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("udp key for a viewer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Forged_replayed_and_unsealed_datagrams_from_the_sessions_own_address_are_dropped_and_counted_and_it_streams_on()
    {
        await using TestHub hub = StartHub();
        UdpHubListener listener = hub.Server.Udp!;
        var options = new ClientOptions { Room = "main", Agent = "raw sealed test", Tls = Pinned };
        UdpSessionKeys keys = await UdpKeyExchange.RequestAsync(Sealed(hub), PeerRole.Viewer, options, CancellationToken.None).WaitAsync(TestHub.Timeout);
        Assert.Equal(listener.EndPoint.Port, keys.UdpPort);
        using DatagramSeal seal = DatagramSeal.ForClient(keys);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Connect(new IPEndPoint(IPAddress.Loopback, keys.UdpPort));
        byte[] opened = new byte[UdpWire.MaxDatagram];

        // A sealed HELLO naming an id the hub never gave: not answered, counted.
        using (DatagramSeal stranger = DatagramSeal.ForClient(UdpSessionKeys.Create(1)))
        {
            socket.Send(SealedHello(stranger, 1));
        }

        await Eventually.UntilAsync(() => listener.Drops.Unsealed == 1, "the HELLO with an unknown id is counted");

        // The sealed HELLO, and the sealed WELCOME back with the same id.
        socket.Send(SealedHello(seal, 42));
        byte[] welcome = await ReceiveAsync(socket);
        Assert.True(seal.TryOpen(welcome, opened, out int length));
        Assert.True(UdpWire.TryReadWelcome(opened.AsSpan(0, length), out UdpWelcome w));
        Assert.Equal(42ul, w.Nonce);
        Assert.True(UdpWire.TryReadPrefix(welcome, out _, out ulong id));
        Assert.Equal(keys.SessionId, id);
        Assert.False(UdpWire.TryReadWelcome(welcome, out _)); // nothing readable without the key

        byte[] ping = SealedPing(seal, 1);
        socket.Send(ping);
        await ReceiveFragmentsAsync(socket, seal, 20);
        Assert.Equal(1, listener.Drops.Unsealed);

        // From the session's own address: the same PING again (replayed), a flipped bit, garbage marked sealed, a plain PING.
        socket.Send(ping);
        byte[] flipped = SealedPing(seal, 2);
        flipped[^20] ^= 0x10;
        socket.Send(flipped);
        byte[] garbage = new byte[200];
        Random.Shared.NextBytes(garbage);
        SealedPing(seal, 3).AsSpan(0, UdpWire.PrefixSize).CopyTo(garbage);
        socket.Send(garbage);
        byte[] plainPing = new byte[UdpWire.PingSize];
        UdpWire.WritePing(plainPing, keys.SessionId, new PingMessage(4, Clock.NowMicros()));
        socket.Send(plainPing);
        await Eventually.UntilAsync(() => listener.Drops.Unsealed == 5, "the four bad datagrams are counted");

        // The session goes on: sealed fragments keep coming, and a captured one replayed to us is refused by our window.
        byte[] fragment = await ReceiveFragmentsAsync(socket, seal, 20);
        Assert.False(seal.TryOpen(fragment, opened, out _));
        Assert.Equal(1, seal.Replayed);
        IUdpSession session = Assert.Single(listener.Sessions);
        Assert.NotNull(session.Seal);
        Assert.Equal(1, session.Seal!.Replayed);
        Assert.Equal(3, session.Seal.Forged);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_over_TLS_before_any_key_and_the_right_one_gets_an_encrypted_session()
    {
        await using TestHub hub = StartHub(new SessionOptions { Token = "s3cret" });
        var wrong = new ClientOptions { Room = "main", Token = "wrong", Tls = Pinned };
        RemoteErrorException refused = await Assert.ThrowsAsync<RemoteErrorException>(() =>
            UdpKeyExchange.RequestAsync(Sealed(hub), PeerRole.Viewer, wrong, CancellationToken.None).WaitAsync(TestHub.Timeout));
        Assert.Equal(ErrorCode.Unauthorized, refused.Code);

        await using TestViewer viewer = TestViewer.Start(Sealed(hub), token: "s3cret", tls: Pinned);
        await viewer.WaitForFramesAsync(10);
        Assert.NotNull(Assert.Single(hub.Server.Udp!.Sessions).Seal);
    }

    private static byte[] SealedHello(DatagramSeal seal, ulong nonce)
    {
        byte[] hello = new byte[UdpWire.MaxDatagram];
        int length = UdpWire.WriteHello(hello, 0, new UdpHello(nonce, 0, PeerRole.Viewer, "main", null, "raw sealed test"));
        BinaryPrimitives.WriteUInt64BigEndian(hello.AsSpan(8), seal.SessionId);
        byte[] sealedHello = new byte[length + DatagramSeal.Overhead];
        seal.Seal(hello.AsSpan(0, length), sealedHello);
        return sealedHello;
    }

    private static byte[] SealedPing(DatagramSeal seal, uint id)
    {
        byte[] ping = new byte[UdpWire.PingSize];
        UdpWire.WritePing(ping, seal.SessionId, new PingMessage(id, Clock.NowMicros()));
        byte[] sealedPing = new byte[ping.Length + DatagramSeal.Overhead];
        seal.Seal(ping, sealedPing);
        return sealedPing;
    }

    /// <summary>Receives until <paramref name="count"/> sealed FRAGMENTs opened; returns the last one as it arrived.</summary>
    private static async Task<byte[]> ReceiveFragmentsAsync(Socket socket, DatagramSeal seal, int count)
    {
        byte[] opened = new byte[UdpWire.MaxDatagram];
        byte[] last = [];
        for (int fragments = 0; fragments < count;)
        {
            byte[] d = await ReceiveAsync(socket);
            Assert.True(d.Length <= UdpWire.MaxDatagram);
            Assert.True(seal.TryOpen(d, opened, out int length), "every datagram of the session opens");
            if (UdpWire.TryReadPrefix(opened.AsSpan(0, length), out DatagramType type, out _) && type == DatagramType.Fragment)
            {
                Assert.True(UdpWire.TryReadFragment(opened.AsSpan(0, length), 16 << 20, out _, out _));
                fragments++;
                last = d;
            }
        }

        return last;
    }

    private static async Task<byte[]> ReceiveAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TestHub.Timeout);
        byte[] buffer = new byte[2048];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return buffer[..n];
    }
}
