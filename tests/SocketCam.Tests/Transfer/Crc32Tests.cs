using System.Text;
using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

public sealed class Crc32Tests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xE8B7BE43u)]
    [InlineData("123456789", 0xCBF43926u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x414FA339u)]
    public void Known_vectors(string text, uint expected)
    {
        Assert.Equal(expected, Crc32.Compute(Encoding.ASCII.GetBytes(text)));
    }

    /// <summary>Values printed by Python's zlib.crc32 for the same bytes.</summary>
    [Fact]
    public void Matches_python_zlib()
    {
        byte[] pattern = new byte[1_000_003];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)((i * 31) + 7);
        }

        byte[] all = new byte[256];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = (byte)i;
        }

        Assert.Equal(0xAAE54D7Bu, Crc32.Compute(pattern));
        Assert.Equal(0x29058C73u, Crc32.Compute(all));
        Assert.Equal(0xC6DE556Eu, Crc32.Compute(new byte[1160]));
    }

    [Fact]
    public void Matches_the_bitwise_definition_at_every_length_and_alignment()
    {
        byte[] data = TransferTesting.Bytes(300, seed: 7);
        for (int start = 0; start < 9; start++)
        {
            for (int length = 0; length <= data.Length - start; length += 13)
            {
                ReadOnlySpan<byte> slice = data.AsSpan(start, length);
                Assert.Equal(Bitwise(slice), Crc32.Compute(slice));
            }
        }
    }

    [Fact]
    public void Format_is_eight_lower_case_hex_digits()
    {
        Assert.Equal("cbf43926", Crc32.Format(0xCBF43926));
        Assert.Equal("0000000a", Crc32.Format(10));
    }

    private static uint Bitwise(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
        }

        return ~c;
    }
}
