using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Tests.Support;
using SocketCam.Transport;
using SocketCam.Udp;
using RawUdp = SocketCam.Tests.Udp.UdpHubTests.RawUdp;

namespace SocketCam.Tests.Udp;

/// <summary>
/// H.264 over UDP (docs/PROTOCOL.md §2.0 "H.264 over UDP"): real libx264 and libavcodec, real sockets on 127.0.0.1, a
/// relay that drops every fragment of one frame for real, raw datagrams for the hostile cases, and the CLI end to end.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class UdpH264Tests : IDisposable
{
    private static readonly HubOptions WithUdp = new() { Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } };
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udp-h264-").FullName;

    [Fact]
    public async Task A_viewer_with_the_H264_flag_gets_H264_decoded_without_errors_and_one_without_it_gets_JPEG()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, codec: CodecId.H264);
        await using TestViewer h264 = TestViewer.Start(hub.UdpEndpoint);
        await using TestViewer jpeg = TestViewer.Start(hub.UdpEndpoint, udpH264: false);
        await h264.WaitForFramesAsync(30);
        await jpeg.WaitForFramesAsync(30);

        Assert.Equal(CodecId.H264, h264.Stats.Codec);
        Assert.Equal(CodecId.Jpeg, jpeg.Stats.Codec);
        Assert.Equal(0, h264.Client.H264Decoder!.Errors);
        Assert.Equal(0, h264.Stats.Corrupt);
        Assert.Equal(0, jpeg.Stats.Corrupt);
        Assert.Equal([false, true], hub.Server.Udp!.Sessions.OfType<UdpViewerSession>().Select(s => s.AcceptsH264).Order());
    }

    [Fact]
    public async Task A_frame_lost_for_good_brings_a_keyframe_request_a_keyframe_and_pictures_again_without_a_decoder_error()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, captureRoom: null);
        // Keyframes every 100 s: within this test only a request makes one.
        hub.StartCapture("main", CodecId.H264, encoder: CodecFactory.CreateEncoder(CodecId.H264, h264Options: new H264Options { KeyframeInterval = 3000 }));
        Room room = hub.Server.GetOrCreateRoom("main");
        try
        {
            const uint Lost = 45;
            long lostAt = 0;
            await using UdpRelay relay = UdpRelay.Start(
                new IPEndPoint(IPAddress.Loopback, hub.Server.UdpEndPoint!.Port),
                toSender: new RelayFaults
                {
                    // Every fragment of one frame (NACKed resends too) toward the viewer: that frame is lost for good.
                    DropWhen = d =>
                    {
                        bool drop = d.Length >= UdpWire.FragmentHeaderSize && d[5] == (byte)DatagramType.Fragment && BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(16)) == Lost;
                        if (drop)
                        {
                            Interlocked.CompareExchange(ref lostAt, Environment.TickCount64, 0);
                        }

                        return drop;
                    },
                });
            await using TestViewer viewer = TestViewer.Start(new StreamEndpoint("udp", "127.0.0.1", relay.EndPoint.Port));
            await viewer.WaitForFramesAsync(20);
            long forwardedBefore = room.PrimaryTrack!.Keyframes.Forwarded;

            await Eventually.UntilAsync(() => viewer.Client.UdpKeyframeRequests >= 1, "the viewer asks for a keyframe after the lost frame", TimeSpan.FromSeconds(10));
            long decodedAtRequest = viewer.Decoded;
            await viewer.WaitForMoreFramesAsync(30);

            Assert.True(Interlocked.Read(ref lostAt) > 0 && relay.Dropped > 0, "the relay dropped the frame's fragments");
            Assert.True(room.PrimaryTrack.Keyframes.Forwarded > forwardedBefore, "the hub forwarded the request to the encoder");
            Assert.True(hub.Server.Udp!.Sessions.OfType<UdpViewerSession>().Single().KeyframeRequests >= 1);
            H264Decoder decoder = viewer.Client.H264Decoder!;
            Assert.Equal(0, decoder.Errors); // it never decoded a frame whose reference it lacked
            Assert.Equal(0, viewer.Stats.Corrupt);
            Assert.True(viewer.Stats.WaitingForKeyframe >= 1, "the frames after the lost one waited for the keyframe");
            // The picture froze from the lost frame until the keyframe: the coalescer's interval and a round trip, not the
            // 100 s keyframe interval.
            Assert.True(viewer.Stats.LongestFreeze < TimeSpan.FromMilliseconds(1500), $"longest freeze {viewer.Stats.LongestFreeze.TotalMilliseconds:0} ms");
            Assert.True(viewer.Decoded >= decodedAtRequest + 30);
        }
        finally
        {
            hub.Server.LeaveRoom(room);
        }
    }

    [Fact]
    public async Task A_publisher_frame_lost_on_the_way_in_is_held_back_until_the_keyframe_the_hub_asks_the_publisher_for()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, captureRoom: null);
        const uint Lost = 40;
        await using UdpRelay relay = UdpRelay.Start(
            new IPEndPoint(IPAddress.Loopback, hub.Server.UdpEndPoint!.Port),
            toReceiver: new RelayFaults { DropWhen = d => d.Length >= UdpWire.FragmentHeaderSize && d[5] == (byte)DatagramType.Fragment && BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(16)) == Lost });
        await using var source = new SocketCam.Sources.TestPatternSource(new SocketCam.Sources.TestPatternOptions { Width = 320, Height = 240, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.H264, h264Options: new H264Options { KeyframeInterval = 3000 });
        var publisher = new SocketCam.Client.PublisherClient(new StreamEndpoint("udp", "127.0.0.1", relay.EndPoint.Port), new SocketCam.Client.ClientOptions { Room = "cam" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            await using TestViewer viewer = TestViewer.Start(hub.UdpEndpoint, room: "cam");
            await Eventually.UntilAsync(() => publisher.FramesSent > Lost + 5, "the publisher got past the lost frame", TimeSpan.FromSeconds(10));
            await Eventually.UntilAsync(() => publisher.KeyframeRequests >= 1, "the hub asked the publisher for a keyframe", TimeSpan.FromSeconds(5));
            long decoded = viewer.Decoded;
            await viewer.WaitForFramesAsync(decoded + 20);

            UdpPublisherSession session = hub.Server.Udp!.Sessions.OfType<UdpPublisherSession>().Single();
            Assert.True(session.FramesAwaitingKeyframe >= 1, "frames after the lost one were held back");
            Assert.True(session.KeyframeRequestsSent >= 1);
            Assert.Equal(0, viewer.Client.H264Decoder!.Errors); // the room never carried a frame without its reference
            Assert.Equal(0, viewer.Stats.Corrupt);
        }
        finally
        {
            await stop.CancelAsync();
            await publishing.ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Keyframe_request_floods_are_absorbed_malformed_ones_counted_and_H264_garbage_from_a_publisher_ends_its_session()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, codec: CodecId.H264);
        Room room = hub.Server.GetOrCreateRoom("main");
        try
        {
            using var raw = new RawUdp(hub);
            raw.SendHello(21, PeerRole.Viewer, flags: UdpWire.HelloFlagH264);
            UdpWire.TryReadPrefix(await raw.ReceiveAsync(), out _, out ulong session);
            raw.SendPing(session);
            await Eventually.UntilAsync(
                () => hub.Server.Udp!.Sessions.OfType<UdpViewerSession>().Any() && room.PrimaryTrack is { } t && t.Keyframes.Forwarded >= 1,
                "the new H.264 viewer's session is active and a keyframe was asked for");
            UdpViewerSession viewer = hub.Server.Udp!.Sessions.OfType<UdpViewerSession>().Single();
            Assert.True(viewer.AcceptsH264);

            // 500 requests in about a second: the coalescer forwards one per 500 ms at most.
            byte[] request = new byte[UdpWire.KeyframeRequestSize];
            UdpWire.WriteKeyframeRequest(request, session, UdpWire.KeyframeReasonDecoderWaits);
            await Task.Delay(600); // past the join's request interval
            long forwardedBefore = room.PrimaryTrack!.Keyframes.Forwarded;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int burst = 0; burst < 10; burst++)
            {
                for (int i = 0; i < 50; i++)
                {
                    raw.Send(request);
                }

                await Task.Delay(100);
            }

            await Eventually.UntilAsync(() => viewer.KeyframeRequests == 500, $"every request reached the session ({viewer.KeyframeRequests})");
            long forwarded = room.PrimaryTrack.Keyframes.Forwarded - forwardedBefore;
            long allowed = 1 + (long)(clock.Elapsed.TotalMilliseconds / 500);
            Assert.InRange(forwarded, 1, allowed);
            Assert.True(room.PrimaryTrack.Keyframes.Absorbed >= 500 - allowed);

            // Malformed: a byte too many, an unknown reason. Dropped and counted, never answered; the session goes on.
            long malformed = hub.Server.Udp.Drops.Malformed;
            raw.Send([.. request, 0]);
            byte[] badReason = (byte[])request.Clone();
            badReason[16] = 9;
            raw.Send(badReason);
            await Eventually.UntilAsync(() => hub.Server.Udp.Drops.Malformed >= malformed + 2, "both malformed requests are counted");
            Assert.Equal(500, viewer.KeyframeRequests);

            // A publisher sending codec 3 that is no Annex B access unit: BYE bad-frame, as for a corrupt JPEG.
            using var publisher = new RawUdp(hub);
            publisher.SendHello(22, PeerRole.Publisher, room: "cam");
            UdpWire.TryReadPrefix(await publisher.ReceiveAsync(), out _, out ulong publisherSession);
            publisher.SendPing(publisherSession);
            await Eventually.UntilAsync(() => hub.Server.Udp.Sessions.OfType<UdpPublisherSession>().Any(), "the publisher's session is active");
            byte[] garbage = RandomNumberGenerator.GetBytes(3000);
            garbage[0] = 0xFF; // no start code
            publisher.SendFrame(publisherSession, 0, garbage, 160, 120, CodecId.H264);
            CloseMessage bye = await publisher.ReceiveByeAsync();
            Assert.Equal(ErrorCode.BadFrame, bye.Code);
            Assert.Contains("Corrupt H.264", bye.Text, StringComparison.Ordinal);
        }
        finally
        {
            hub.Server.LeaveRoom(room);
        }
    }

    [Fact]
    public async Task Publish_udp_codec_h264_reaches_a_tcp_viewer_as_JPEG_and_a_udp_viewer_as_H264()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--source", "pattern", "--size", "160x120", "--quiet");
        int port = await SeedCli.UdpPortAsync(serve);
        string tcpLine = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam hub listening on tcp://", StringComparison.Ordinal), SeedCli.ProcessTimeout);
        string tcpUrl = tcpLine["SocketCam hub listening on ".Length..].Trim();

        await using CliProcess publish = CliProcess.Start(_directory, "publish", $"udp://127.0.0.1:{port}", "--room", "cam", "--codec", "h264", "--source", "pattern", "--size", "320x240", "--quiet");
        (int code, CliProcess tcp) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout, "view", tcpUrl, "--room", "cam", "--frames", "20", "--json", "--quiet", "--no-reconnect");
        await using (tcp)
        {
            Assert.True(code == 0, tcp.Transcript());
            JsonElement json = tcp.LastJsonLine();
            Assert.Equal("jpeg", json.GetProperty("codec").GetString()); // the room's transcoding
            Assert.Equal(320, json.GetProperty("width").GetInt32());
            Assert.Equal(0, json.GetProperty("corrupt").GetInt64());
        }

        (code, CliProcess udp) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout, "view", $"udp://127.0.0.1:{port}", "--room", "cam", "--frames", "20", "--json", "--quiet", "--no-reconnect");
        await using (udp)
        {
            Assert.True(code == 0, udp.Transcript());
            JsonElement json = udp.LastJsonLine();
            Assert.Equal("h264", json.GetProperty("codec").GetString());
            Assert.Equal(0, json.GetProperty("corrupt").GetInt64());
        }

        await publish.InterruptAsync();
        Assert.Equal(0, await publish.WaitForExitAsync(SeedCli.ProcessTimeout));
        SeedCli.AssertNoStackTrace(serve);
        SeedCli.AssertNoStackTrace(publish);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
