using System.Net;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Diagnostics;

/// <summary>
/// Repeated log lines are rate-limited (issue 13, finding 7: a connection flood wrote 39 000 warning lines): per category
/// and event id a few lines pass in each window, the rest become one line with their count; and the hub's refusals
/// really go through it.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class ThrottledLoggerFactoryTests
{
    private static readonly EventId Refused = new(4, "Rejected");
    private static readonly EventId Other = new(7, "Other");

    [Fact]
    public void Lines_beyond_the_limit_are_held_back_and_reported_as_one_line_with_their_count()
    {
        var capture = new CapturingLoggerProvider();
        var factory = new ThrottledLoggerFactory(capture.CreateFactory(), linesPerWindow: 5, window: TimeSpan.FromHours(1));
        ILogger logger = factory.CreateLogger("SocketCam.Hub");
        for (int i = 0; i < 100; i++)
        {
            logger.Log(LogLevel.Warning, Refused, "refused {N}", i);
        }

        // Another event id has its own allowance.
        logger.Log(LogLevel.Warning, Other, "another kind of line");

        Assert.Equal(5, capture.Entries.Count(e => e.EventId.Id == Refused.Id));
        Assert.Equal(["refused 0", "refused 1", "refused 2", "refused 3", "refused 4"], capture.Entries.Where(e => e.EventId.Id == Refused.Id).Select(e => e.Message));
        Assert.Single(capture.Entries, e => e.EventId.Id == Other.Id);
        Assert.Equal(95, factory.Suppressed);

        factory.Dispose(); // reports what is held back
        LogEntry summary = Assert.Single(capture.Entries, e => e.Message.Contains("more lines like the last one", StringComparison.Ordinal));
        Assert.StartsWith("... 95 more lines like the last one (Rejected)", summary.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Warning, summary.Level);
        Assert.Equal(Refused.Id, summary.EventId.Id);
        Assert.Equal("SocketCam.Hub", summary.Category);
    }

    [Fact]
    public async Task A_window_that_ends_reports_its_count_and_the_next_window_lets_lines_pass_again()
    {
        var capture = new CapturingLoggerProvider();
        using var factory = new ThrottledLoggerFactory(capture.CreateFactory(), linesPerWindow: 2, window: TimeSpan.FromMilliseconds(200));
        ILogger logger = factory.CreateLogger("test");
        for (int i = 0; i < 10; i++)
        {
            logger.Log(LogLevel.Warning, Refused, "first burst {N}", i);
        }

        LogEntry summary = await capture.WaitForAsync(e => e.Message.StartsWith("... 8 more lines", StringComparison.Ordinal), TestHub.Timeout, "the window's summary");
        Assert.Equal(LogLevel.Warning, summary.Level);

        logger.Log(LogLevel.Warning, Refused, "second burst");
        Assert.Contains(capture.Entries, e => e.Message == "second burst");
        Assert.Equal(2, capture.Entries.Count(e => e.Message.StartsWith("first burst", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_hubs_refusals_of_a_connection_flood_go_through_the_rate_limit()
    {
        var capture = new CapturingLoggerProvider();
        var factory = new ThrottledLoggerFactory(capture.CreateFactory(), linesPerWindow: 5, window: TimeSpan.FromHours(1));
        var options = new HubOptions
        {
            Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) },
            Limits = new LimitOptions { MaxConnectionsPerAddress = 2 },
        };
        var from = IPAddress.Parse("127.0.0.2");
        const int Flood = 40;
        await using (var hub = new HubServer(options, factory))
        {
            hub.Start();
            await using RawPeer held1 = await RawPeer.ConnectAsync(hub.TcpEndPoint, from: from);
            await held1.HandshakeAsync(PeerRole.Viewer, "quiet");
            await using RawPeer held2 = await RawPeer.ConnectAsync(hub.TcpEndPoint, from: from);
            await held2.HandshakeAsync(PeerRole.Viewer, "quiet");
            for (int i = 0; i < Flood; i++)
            {
                await using RawPeer refused = await RawPeer.ConnectAsync(hub.TcpEndPoint, from: from);
                CloseMessage error = await refused.ReadErrorAsync();
                Assert.Equal(ErrorCode.TooManyClients, error.Code);
            }

            Assert.Equal(Flood, hub.Guards.Refusals[Refusal.AddressLimit]);
        }

        Assert.Equal(5, capture.Entries.Count(e => e.EventId.Id == 14 && e.Message.StartsWith("Refused ", StringComparison.Ordinal)));
        factory.Dispose();
        Assert.Contains(capture.Entries, e => e.EventId.Id == 14 && e.Message.StartsWith($"... {Flood - 5} more lines like the last one", StringComparison.Ordinal));
    }
}
