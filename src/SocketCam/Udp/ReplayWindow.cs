namespace SocketCam.Udp;

/// <summary>
/// The receiver's sliding replay window of an encrypted UDP session (docs/PROTOCOL.md §2.0 "Encrypted sessions"), as
/// IPsec and DTLS keep it: the highest counter accepted and a bitmap of the <see cref="Size"/> counters below it. A
/// counter is looked at (<see cref="IsFresh"/>) before its datagram is decrypted and marked (<see cref="Accept"/>) only
/// after it authenticated, so a forged datagram cannot move the window. Not thread-safe: the caller serializes.
/// </summary>
internal sealed class ReplayWindow
{
    public const int Size = 1024;

    // A ring of Size bits: counter c lives at bit c % Size; the bits of counters that leave the window are cleared as
    // the highest moves, so a set bit always means "this very counter was seen".
    private readonly ulong[] _bits = new ulong[Size / 64];
    private ulong _highest;

    /// <summary>The highest counter accepted so far (0 before any: counters start at 1).</summary>
    public ulong Highest => _highest;

    /// <summary>Not seen yet and not too old: 0, a counter already accepted, or one <see cref="Size"/> or more below the highest is not.</summary>
    public bool IsFresh(ulong counter)
    {
        if (counter == 0)
        {
            return false;
        }

        if (counter > _highest)
        {
            return true;
        }

        return _highest - counter < Size && (_bits[Word(counter)] & Bit(counter)) == 0;
    }

    /// <summary>Marks an authenticated counter (which <see cref="IsFresh"/> allowed), sliding the window when it is the new highest.</summary>
    public void Accept(ulong counter)
    {
        if (counter > _highest)
        {
            ulong step = counter - _highest;
            if (step >= Size)
            {
                Array.Clear(_bits);
            }
            else
            {
                for (ulong c = _highest + 1; c < counter; c++)
                {
                    _bits[Word(c)] &= ~Bit(c);
                }
            }

            _highest = counter;
            _bits[Word(counter)] &= ~Bit(counter);
        }

        _bits[Word(counter)] |= Bit(counter);
    }

    private static int Word(ulong counter) => (int)(counter % Size / 64);

    private static ulong Bit(ulong counter) => 1UL << (int)(counter % 64);
}
