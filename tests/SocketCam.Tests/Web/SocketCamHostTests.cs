using System.Net;
using System.Net.Sockets;
using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Tests.Support;
using SocketCam.Transport;
using SocketCam.Web.Hosting;

namespace SocketCam.Tests.Web;

/// <summary>The whole server composed from one <see cref="HostOptions"/>, in process, as `serve` runs it.</summary>
[Collection(NetworkCollection.Name)]
public sealed class SocketCamHostTests
{
    [Fact]
    public async Task A_host_built_from_options_answers_on_TCP_UDP_and_HTTP_and_leaves_no_listener_once_disposed()
    {
        var logs = new CapturingLoggerProvider();
        using Microsoft.Extensions.Logging.ILoggerFactory loggers = logs.CreateFactory();
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        var options = new HostOptions
        {
            Tcp = new() { EndPoint = loopback },
            Udp = new() { EndPoint = loopback },
            Http = new() { EndPoint = loopback },
            Captures =
            [
                new HostCapture
                {
                    Source = new CaptureSource(new TestPatternSource(new TestPatternOptions { Width = 320, Height = 240, Fps = 30 }), CodecFactory.CreateEncoder(CodecId.Jpeg)),
                },
            ],
        };

        IPEndPoint tcp, udp, http;
        var host = new SocketCamHost(options, loggers);
        try
        {
            await host.StartAsync(CancellationToken.None);
            tcp = host.Hub.TcpEndPoint;
            udp = host.Hub.UdpEndPoint!;
            http = host.Http!.EndPoint;
            Assert.Null(host.Seed);
            Assert.Null(host.Recording);

            await using (TestViewer overTcp = TestViewer.Start(new StreamEndpoint("tcp", "127.0.0.1", tcp.Port)))
            {
                await overTcp.WaitForFramesAsync(5);
                Assert.Equal((320, 240), (overTcp.Stats.Width, overTcp.Stats.Height));
            }

            await using (TestViewer overUdp = TestViewer.Start(new StreamEndpoint("udp", "127.0.0.1", udp.Port)))
            {
                await overUdp.WaitForFramesAsync(5);
            }

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http.Port}"), Timeout = TestHub.Timeout };
            using HttpResponseMessage stats = await client.GetAsync(new Uri("/api/stats", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        }
        finally
        {
            await host.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
        }

        Assert.True(host.Captures.Single().FramesEncoded > 0);
        foreach (IPEndPoint closed in new[] { tcp, http })
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            SocketException refused = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(closed));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        // The UDP port is free again: nothing holds it.
        using var udpAgain = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udpAgain.Bind(udp);
    }
}
