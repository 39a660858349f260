namespace SocketCam.Transfer;

/// <summary>
/// CRC-32 (IEEE 802.3: the one of zlib, gzip, PNG and Python's <c>zlib.crc32</c>), computed by System.IO.Hashing
/// (vectorized); <c>"123456789"</c> gives 0xCBF43926. Streams use <see cref="System.IO.Hashing.Crc32"/> itself.
/// </summary>
internal static class Crc32
{
    public static uint Compute(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);

    /// <summary>How a checksum is shown to users: 8 lower-case hex digits, like <c>crc32</c> tools print it.</summary>
    public static string Format(uint crc) => crc.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
}
