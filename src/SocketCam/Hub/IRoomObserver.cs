using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>
/// Learns when the hub creates and removes rooms (see <see cref="HubServer.AddRoomObserver"/>). Both calls run under
/// the hub's rooms lock, in order: a room is always reported created before it is reported removed.
/// </summary>
internal interface IRoomObserver
{
    void OnRoomCreated(Room room);

    void OnRoomRemoved(Room room);
}
