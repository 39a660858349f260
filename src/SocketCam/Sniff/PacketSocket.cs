using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SocketCam.Sniff;

/// <summary>
/// A Linux packet socket (AF_PACKET, SOCK_RAW, ETH_P_ALL): every frame of one interface, or of all, as the link carries
/// it, in and out. Opening one needs root or CAP_NET_RAW; without it the constructor throws
/// <see cref="UnauthorizedAccessException"/> with the one line a user needs.
/// </summary>
internal sealed partial class PacketSocket : IDisposable
{
    private const int AfPacket = 17;
    private const int SockRaw = 3;
    private const ushort EthPAll = 0x0003;
    private const int SolSocket = 1;
    private const int SoRcvbuf = 8;
    private const int SoRcvbufForce = 33;
    private const int SoRcvtimeo = 20;
    private const int SolPacket = 263;
    private const int PacketStatistics = 6;
    private const int Eperm = 1;
    private const int Eagain = 11;
    private const int Eintr = 4;
    private const int Eacces = 13;
    private const int Enodev = 19;

    /// <summary>sll_pkttype of a frame this host sent.</summary>
    public const byte PacketOutgoing = 4;

    /// <summary>ARPHRD_LOOPBACK: lo, whose frames carry an all-zero Ethernet header.</summary>
    public const ushort HardwareLoopback = 772;

    /// <summary>ARPHRD_ETHER.</summary>
    public const ushort HardwareEthernet = 1;

    private readonly int _fd;
    private bool _disposed;

    /// <param name="interfaceName">null: every interface.</param>
    /// <param name="receiveBufferBytes">the kernel's queue for this socket: a burst larger than it is dropped (and counted).</param>
    /// <param name="filter">a classic BPF program (<see cref="PacketFilter"/>) the kernel runs on each frame before queueing it</param>
    /// <param name="timestamps">each frame's arrival time with it (<see cref="PacketOrigin.ArrivalMicros"/>; for a capture file)</param>
    public PacketSocket(string? interfaceName, int receiveBufferBytes, byte[]? filter = null, bool timestamps = false)
    {
        int ifindex = 0;
        if (interfaceName is not null)
        {
            ifindex = (int)IfNameToIndex(interfaceName);
            if (ifindex == 0)
            {
                throw new ArgumentException($"no network interface '{interfaceName}' (see `ip link`).");
            }
        }

        // Bound to one interface: opened for no protocol first, so nothing from another interface slips in before bind.
        _fd = Socket(AfPacket, SockRaw, ifindex == 0 ? BinaryPrimitives.ReverseEndianness(EthPAll) : 0);
        if (_fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Eperm or Eacces)
            {
                throw new UnauthorizedAccessException(
                    "sniff needs root or CAP_NET_RAW to open a raw packet socket: run it with sudo, or grant it once with `sudo setcap cap_net_raw+ep $(readlink -f $(which dotnet))`.");
            }

            throw new IOException($"cannot open a packet socket: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        try
        {
            // Root may go past net.core.rmem_max (SO_RCVBUFFORCE); CAP_NET_RAW alone gets what SO_RCVBUF allows.
            if (SetInt(SoRcvbufForce, receiveBufferBytes) != 0)
            {
                SetInt(SoRcvbuf, receiveBufferBytes);
            }

            // A receive that wakes at least 5 times a second, so a stop request is seen without a second thread.
            // (struct timeval: two longs, the size of a pointer on Linux.)
            Span<nint> timeout = [0, 200_000];
            unsafe
            {
                fixed (nint* p = timeout)
                {
                    if (SetSockOpt(_fd, SolSocket, SoRcvtimeo, p, 2 * sizeof(nint)) != 0)
                    {
                        throw new IOException($"cannot set the packet socket's receive timeout: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                    }
                }
            }

            // Each frame's arrival time comes with it, rather than by one more system call a frame (SIOCGSTAMP).
            if (timestamps && SetInt(SoTimestamp, 1) != 0)
            {
                throw new IOException($"cannot ask the packet socket for timestamps: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
            if (filter is not null)
            {
                Attach(filter);
            }

            if (ifindex != 0)
            {
                Span<byte> sll = stackalloc byte[20]; // sockaddr_ll
                BinaryPrimitives.WriteUInt16LittleEndian(sll, AfPacket);
                BinaryPrimitives.WriteUInt16BigEndian(sll[2..], EthPAll);
                BinaryPrimitives.WriteInt32LittleEndian(sll[4..], ifindex);
                unsafe
                {
                    fixed (byte* p = sll)
                    {
                        if (Bind(_fd, p, sll.Length) != 0)
                        {
                            int errno = Marshal.GetLastPInvokeError();
                            throw errno == Enodev
                                ? new ArgumentException($"network interface '{interfaceName}' is down or gone.")
                                : new IOException($"cannot bind the packet socket to {interfaceName}: {Marshal.GetPInvokeErrorMessage(errno)}");
                        }
                    }
                }
            }
        }
        catch
        {
            Close(_fd);
            throw;
        }
    }

    /// <summary>
    /// Waits (up to 200 ms) for the next frame. Returns its captured length (0: nothing yet), with the frame's
    /// original length (longer when the buffer was too small), link type, direction, interface and arrival time.
    /// </summary>
    public int Receive(Span<byte> buffer, out int originalLength, out PacketOrigin origin) => Receive(buffer, MsgTrunc, out originalLength, out origin);

    /// <summary>Like <see cref="Receive(Span{byte}, out int, out PacketOrigin)"/> without waiting: what the kernel still holds (0: nothing).</summary>
    public int ReceiveQueued(Span<byte> buffer, out int originalLength, out PacketOrigin origin) => Receive(buffer, MsgTrunc | MsgDontWait, out originalLength, out origin);

    /// <summary>One recvmsg a frame: the frame, its sockaddr_ll and (SO_TIMESTAMP) the kernel's arrival time together.</summary>
    private int Receive(Span<byte> buffer, int flags, out int originalLength, out PacketOrigin origin)
    {
        Span<byte> sll = stackalloc byte[20];
        Span<long> control = stackalloc long[8]; // a cmsghdr (16 bytes) and a struct timeval (16), 8-aligned
        nint n;
        unsafe
        {
            fixed (byte* b = buffer)
            fixed (byte* a = sll)
            fixed (long* c = control)
            {
                var vector = new IoVector { Base = b, Length = buffer.Length };
                var message = new MessageHeader
                {
                    Name = a,
                    NameLength = sll.Length,
                    Vectors = &vector,
                    VectorCount = 1,
                    Control = c,
                    ControlLength = control.Length * sizeof(long),
                };
                n = RecvMsg(_fd, &message, flags);
                if (n >= 0 && message.ControlLength < 32)
                {
                    control.Clear(); // no timestamp came (not asked for): ArrivalMicros is then 0, "unknown"
                }
            }
        }

        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Eagain or Eintr)
            {
                originalLength = 0;
                origin = default;
                return 0;
            }

            throw new IOException($"packet socket: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        originalLength = (int)n; // MSG_TRUNC: the frame's real length even when it did not fit
        long arrival = control[1] == ((long)ScmTimestamp << 32 | SolSocket) ? (control[2] * 1_000_000) + control[3] : 0;
        origin = new PacketOrigin(
            BinaryPrimitives.ReadInt32LittleEndian(sll[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(sll[8..]),
            sll[10],
            arrival);
        return Math.Min((int)n, buffer.Length);
    }

    private const int MsgTrunc = 0x20;
    private const int MsgDontWait = 0x40;
    private const int SoTimestamp = 29;
    private const int ScmTimestamp = SoTimestamp;

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public byte* Base;
        public nint Length;
    }

    /// <summary>struct msghdr (64-bit Linux).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public byte* Name;
        public int NameLength;
        public IoVector* Vectors;
        public nint VectorCount;
        public long* Control;
        public nint ControlLength;
        public int Flags;
    }

    /// <summary>The kernel's counts since the last call (PACKET_STATISTICS resets them): frames queued, and dropped for want of room.</summary>
    public (long Packets, long Drops) ReadAndResetStatistics()
    {
        Span<uint> stats = stackalloc uint[2];
        int length = 8;
        unsafe
        {
            fixed (uint* p = stats)
            {
                if (GetSockOpt(_fd, SolPacket, PacketStatistics, p, &length) != 0)
                {
                    return (0, 0);
                }
            }
        }

        // tp_packets counts every frame handed to the socket, the dropped ones included.
        return (stats[0], stats[1]);
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Close(_fd);
        }
    }

    private const int SoAttachFilter = 26;

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public nint Filter;
    }

    private void Attach(byte[] filter)
    {
        unsafe
        {
            fixed (byte* code = filter)
            {
                var program = new SockFprog { Length = (ushort)(filter.Length / 8), Filter = (nint)code };
                if (SetSockOpt(_fd, SolSocket, SoAttachFilter, &program, sizeof(SockFprog)) != 0)
                {
                    throw new IOException($"cannot attach the port filter to the packet socket: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                }
            }
        }
    }

    private int SetInt(int option, int value)
    {
        unsafe
        {
            return SetSockOpt(_fd, SolSocket, option, &value, sizeof(int));
        }
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static unsafe partial int Bind(int fd, byte* address, int length);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static unsafe partial nint RecvMsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint IfNameToIndex(string name);
}

/// <summary>
/// Where and when a captured frame came from: interface index, link type (ARPHRD_*), direction (PACKET_*), and when
/// the kernel received it (µs since the Unix epoch; 0 = unknown).
/// </summary>
internal readonly record struct PacketOrigin(int InterfaceIndex, ushort HardwareType, byte PacketType, long ArrivalMicros = 0);
