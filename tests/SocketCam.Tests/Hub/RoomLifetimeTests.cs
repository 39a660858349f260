using SocketCam.Media;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Hub;

/// <summary>Rooms exist while someone uses them; a viewer's slot holds no frame once the viewer is gone.</summary>
[Collection(NetworkCollection.Name)]
public sealed class RoomLifetimeTests
{
    private const int LeftEventId = 3;

    [Theory]
    [InlineData(PeerRole.Viewer)]
    [InlineData(PeerRole.Publisher)]
    public async Task A_room_is_removed_when_its_last_connection_leaves(PeerRole role)
    {
        await using TestHub hub = TestHub.Start();
        string remote;
        await using (RawPeer peer = await RawPeer.ConnectAsync(hub.EndPoint))
        {
            remote = peer.LocalEndPoint.ToString();
            await peer.HandshakeAsync(role, "temp");
            Assert.Contains(hub.Server.Rooms, r => r.Name == "temp");
        }

        await hub.Logs.WaitForAsync(e => e.EventId.Id == LeftEventId && e.Message.Contains(remote, StringComparison.Ordinal), TestHub.Timeout, "'left' (event 3)");
        Assert.DoesNotContain(hub.Server.Rooms, r => r.Name == "temp");
        Assert.Contains(hub.Server.Rooms, r => r.Name == "main"); // the capture's room stays
    }

    [Fact]
    public async Task A_room_stays_while_another_connection_is_in_it()
    {
        await using TestHub hub = TestHub.Start();
        await using RawPeer stays = await RawPeer.ConnectAsync(hub.EndPoint);
        await stays.HandshakeAsync(PeerRole.Viewer, "temp");
        string remote;
        await using (RawPeer leaves = await RawPeer.ConnectAsync(hub.EndPoint))
        {
            remote = leaves.LocalEndPoint.ToString();
            await leaves.HandshakeAsync(PeerRole.Publisher, "temp");
        }

        await hub.Logs.WaitForAsync(e => e.EventId.Id == LeftEventId && e.Message.Contains(remote, StringComparison.Ordinal), TestHub.Timeout, "'left' (event 3)");
        Assert.Contains(hub.Server.Rooms, r => r.Name == "temp");

        // The seat is free again, in the same room.
        await using RawPeer next = await RawPeer.ConnectAsync(hub.EndPoint);
        await next.HandshakeAsync(PeerRole.Publisher, "temp");
    }

    [Fact]
    public void A_frame_offered_to_a_closed_slot_is_released_at_once()
    {
        var slot = new VideoSlot(new AsyncSignal());
        MediaFrame waiting = MediaFrame.Rent(16);
        slot.Offer(waiting);
        slot.Close();
        Assert.False(slot.IsFull);

        MediaFrame late = MediaFrame.Rent(16);
        slot.Offer(late);
        Assert.False(slot.IsFull);
        Assert.Null(slot.Take());

        // Only the caller's own references are left: releasing them must not fail as "released more often than referenced".
        waiting.Release();
        late.Release();
    }
}
