namespace SocketCam.Udp;

/// <summary>Datagram types of live video over UDP (docs/PROTOCOL.md §2.0); the value is byte 5 of the prefix.</summary>
internal enum DatagramType : byte
{
    Hello = 0x01,
    Welcome = 0x02,
    Refuse = 0x03,
    Fragment = 0x10,
    Nack = 0x11,
    Report = 0x12,
    Done = 0x13,
    Audio = 0x15,
    AudioNack = 0x16,
    KeyframeRequest = 0x17,
    Ping = 0x20,
    Pong = 0x21,
    Signal = 0x30,
    Bye = 0x31,
}
