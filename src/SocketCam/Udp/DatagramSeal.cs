using System.Buffers.Binary;
using System.Security.Cryptography;

namespace SocketCam.Udp;

/// <summary>
/// Seals and opens the datagrams of one encrypted UDP session (docs/PROTOCOL.md §2.0 "Encrypted sessions"): AES-256-GCM
/// with one key, salt and counter per direction; the 16-byte prefix (with the sealed bit) is the associated data, then
/// the 8-byte counter, the encrypted rest and the 16-byte tag. Opening checks the counter against a
/// <see cref="ReplayWindow"/> before decrypting and marks it only once the tag is good. Nothing is allocated per
/// datagram; sealing and opening each take their own lock (a session sends from several threads, AesGcm is not
/// thread-safe).
/// </summary>
internal sealed class DatagramSeal : IDisposable
{
    public const int CounterSize = 8;
    public const int TagSize = 16;

    /// <summary>What sealing adds to a datagram.</summary>
    public const int Overhead = CounterSize + TagSize;

    /// <summary>Bit 0 of prefix byte 6 (reserved in plain datagrams): this datagram is sealed.</summary>
    public const byte SealedBit = 1;

    private const int FlagsAt = 6;
    private const int NonceSize = 12;

    private readonly AesGcm _sealer;
    private readonly AesGcm _opener;
    private readonly uint _sendSalt;
    private readonly uint _receiveSalt;
    private readonly Lock _sendLock = new();
    private readonly Lock _receiveLock = new();
    private readonly ReplayWindow _window = new();
    private ulong _sendCounter;
    private long _replayed;
    private long _forged;

    private DatagramSeal(byte[] sendKey, uint sendSalt, byte[] receiveKey, uint receiveSalt)
    {
        _sealer = new AesGcm(sendKey, TagSize);
        _opener = new AesGcm(receiveKey, TagSize);
        _sendSalt = sendSalt;
        _receiveSalt = receiveSalt;
    }

    public ulong SessionId { get; private init; }

    /// <summary>Datagrams refused because their counter was seen already or fell behind the window.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>Datagrams refused because they were not sealed, too short, or failed authentication.</summary>
    public long Forged => Interlocked.Read(ref _forged);

    public static DatagramSeal ForHub(UdpSessionKeys keys) =>
        new(keys.HubKey, keys.HubSalt, keys.ClientKey, keys.ClientSalt) { SessionId = keys.SessionId };

    public static DatagramSeal ForClient(UdpSessionKeys keys) =>
        new(keys.ClientKey, keys.ClientSalt, keys.HubKey, keys.HubSalt) { SessionId = keys.SessionId };

    /// <summary>Is this datagram marked sealed (prefix byte 6, bit 0)? Only a hint: <see cref="TryOpen"/> decides.</summary>
    public static bool IsMarkedSealed(ReadOnlySpan<byte> datagram) => datagram.Length > FlagsAt && (datagram[FlagsAt] & SealedBit) != 0;

    /// <summary>
    /// Writes <paramref name="plain"/> (a whole plain datagram, prefix first) sealed into <paramref name="destination"/>
    /// (<see cref="Overhead"/> bytes longer); returns its length.
    /// </summary>
    public int Seal(ReadOnlySpan<byte> plain, Span<byte> destination)
    {
        int length = plain.Length + Overhead;
        if (plain.Length < UdpWire.PrefixSize || destination.Length < length)
        {
            throw new ArgumentException($"A {plain.Length}-byte datagram does not seal into {destination.Length} bytes.", nameof(destination));
        }

        plain[..UdpWire.PrefixSize].CopyTo(destination);
        destination[FlagsAt] |= SealedBit;
        Span<byte> nonce = stackalloc byte[NonceSize];
        BinaryPrimitives.WriteUInt32BigEndian(nonce, _sendSalt);
        int body = plain.Length - UdpWire.PrefixSize;
        lock (_sendLock)
        {
            ulong counter = ++_sendCounter;
            BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], counter);
            BinaryPrimitives.WriteUInt64BigEndian(destination[UdpWire.PrefixSize..], counter);
            _sealer.Encrypt(
                nonce,
                plain[UdpWire.PrefixSize..],
                destination.Slice(UdpWire.PrefixSize + CounterSize, body),
                destination.Slice(UdpWire.PrefixSize + CounterSize + body, TagSize),
                destination[..UdpWire.PrefixSize]);
        }

        return length;
    }

    /// <summary>
    /// Opens a sealed datagram into <paramref name="plain"/> (the plain datagram, sealed bit cleared; <see cref="Overhead"/>
    /// bytes shorter). False, counted, for anything not sealed with the peer's key, replayed or too old; never throws for
    /// what arrives, allocates nothing.
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> sealedDatagram, Span<byte> plain, out int length)
    {
        length = sealedDatagram.Length - Overhead;
        if (length < UdpWire.PrefixSize || plain.Length < length || !IsMarkedSealed(sealedDatagram))
        {
            Interlocked.Increment(ref _forged);
            length = 0;
            return false;
        }

        ulong counter = BinaryPrimitives.ReadUInt64BigEndian(sealedDatagram[UdpWire.PrefixSize..]);
        Span<byte> nonce = stackalloc byte[NonceSize];
        BinaryPrimitives.WriteUInt32BigEndian(nonce, _receiveSalt);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], counter);
        int body = length - UdpWire.PrefixSize;
        lock (_receiveLock)
        {
            if (!_window.IsFresh(counter))
            {
                Interlocked.Increment(ref _replayed);
                length = 0;
                return false;
            }

            try
            {
                _opener.Decrypt(
                    nonce,
                    sealedDatagram.Slice(UdpWire.PrefixSize + CounterSize, body),
                    sealedDatagram.Slice(UdpWire.PrefixSize + CounterSize + body, TagSize),
                    plain.Slice(UdpWire.PrefixSize, body),
                    sealedDatagram[..UdpWire.PrefixSize]);
            }
            catch (AuthenticationTagMismatchException)
            {
                // Decrypt already zeroed what it wrote: nothing unauthenticated is left in the caller's buffer.
                Interlocked.Increment(ref _forged);
                length = 0;
                return false;
            }

            _window.Accept(counter);
        }

        sealedDatagram[..UdpWire.PrefixSize].CopyTo(plain);
        plain[FlagsAt] &= unchecked((byte)~SealedBit);
        return true;
    }

    public void Dispose()
    {
        lock (_sendLock)
        {
            _sealer.Dispose();
        }

        lock (_receiveLock)
        {
            _opener.Dispose();
        }
    }
}
