using System.Buffers.Binary;

namespace SocketCam.Transfer;

/// <summary>
/// CRC-32 (IEEE 802.3: the one of zlib, gzip, PNG and Python's <c>zlib.crc32</c>), reflected polynomial 0xEDB88320,
/// slice-by-8. <c>"123456789"</c> gives 0xCBF43926.
/// </summary>
internal static class Crc32
{
    private const uint Polynomial = 0xEDB88320;

    /// <summary>Eight tables of 256 entries, one after the other.</summary>
    private static readonly uint[] Tables = CreateTables();

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues <paramref name="crc"/> (a finished CRC of the bytes so far, 0 for none) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<uint> t = Tables;
        uint c = ~crc;
        while (data.Length >= 8)
        {
            uint one = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ c;
            uint two = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            c = t[(7 * 256) + (int)(one & 0xFF)]
                ^ t[(6 * 256) + (int)((one >> 8) & 0xFF)]
                ^ t[(5 * 256) + (int)((one >> 16) & 0xFF)]
                ^ t[(4 * 256) + (int)(one >> 24)]
                ^ t[(3 * 256) + (int)(two & 0xFF)]
                ^ t[(2 * 256) + (int)((two >> 8) & 0xFF)]
                ^ t[256 + (int)((two >> 16) & 0xFF)]
                ^ t[(int)(two >> 24)];
            data = data[8..];
        }

        foreach (byte b in data)
        {
            c = t[(int)((c ^ b) & 0xFF)] ^ (c >> 8);
        }

        return ~c;
    }

    /// <summary>How a checksum is shown to users: 8 lower-case hex digits, like <c>crc32</c> tools print it.</summary>
    public static string Format(uint crc) => crc.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    private static uint[] CreateTables()
    {
        var tables = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? Polynomial ^ (c >> 1) : c >> 1;
            }

            tables[i] = c;
        }

        for (int k = 1; k < 8; k++)
        {
            for (int i = 0; i < 256; i++)
            {
                uint previous = tables[((k - 1) * 256) + i];
                tables[(k * 256) + i] = (previous >> 8) ^ tables[previous & 0xFF];
            }
        }

        return tables;
    }
}
