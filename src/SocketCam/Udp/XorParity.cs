using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SocketCam.Udp;

/// <summary>XOR of byte spans: the parity of a fragment group is built and used with it on every frame, so it is vectorized.</summary>
internal static class XorParity
{
    /// <summary>
    /// <c>destination[i] ^= source[i]</c> for every <c>i</c> below <paramref name="source"/>'s length; a shorter
    /// source behaves as if zero-padded to the destination's length.
    /// </summary>
    public static void XorInto(Span<byte> destination, ReadOnlySpan<byte> source)
    {
        if (source.Length > destination.Length)
        {
            throw new ArgumentException("The source is longer than the destination.", nameof(source));
        }

        ref byte d = ref MemoryMarshal.GetReference(destination);
        ref byte s = ref MemoryMarshal.GetReference(source);
        nuint length = (nuint)source.Length;
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + (nuint)Vector256<byte>.Count <= length; i += (nuint)Vector256<byte>.Count)
            {
                (Vector256.LoadUnsafe(ref d, i) ^ Vector256.LoadUnsafe(ref s, i)).StoreUnsafe(ref d, i);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + (nuint)Vector128<byte>.Count <= length; i += (nuint)Vector128<byte>.Count)
            {
                (Vector128.LoadUnsafe(ref d, i) ^ Vector128.LoadUnsafe(ref s, i)).StoreUnsafe(ref d, i);
            }
        }

        for (; i + sizeof(ulong) <= length; i += sizeof(ulong))
        {
            ulong x = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref d, i)) ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref s, i));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref d, i), x);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref d, i) ^= Unsafe.Add(ref s, i);
        }
    }
}
