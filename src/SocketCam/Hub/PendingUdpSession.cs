using System.Net;
using SocketCam.Udp;

namespace SocketCam.Hub;

/// <summary>
/// A HELLO the hub answered with WELCOME but whose sender has not yet proved it receives at its address (by sending a
/// datagram with the new session id). Until then the hub sends it nothing but that WELCOME again, once per HELLO.
/// An encrypted one has its <see cref="Seal"/> (its WELCOME is sealed already); null for plain UDP.
/// </summary>
internal sealed record PendingUdpSession(ulong Id, SocketAddress Address, UdpHello Hello, long CreatedMicros, byte[] Welcome, DatagramSeal? Seal = null);
