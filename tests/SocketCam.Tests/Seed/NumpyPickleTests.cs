using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using SocketCam.Seed;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Seed;

/// <summary>
/// <see cref="NumpyPickle"/> against the real thing: pickles written by Debian's python3 + numpy 1.24 (the seed programs'
/// `pickle.dumps(frame)`), every protocol from 2 to 5, numpy 2's module names, and hostile payloads made by real pickling.
/// </summary>
public sealed class NumpyPickleTests : IClassFixture<SeedPickleFiles>
{
    /// <summary>Generous: only a hang (a parser that loops or recurses without end) comes near it.</summary>
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(120);

    private static readonly string[] Protocols = ["p2", "p3", "p4", "p5", "np2.p2", "np2.p3", "np2.p4", "np2.p5", "default"];

    private readonly SeedPickleFiles _files;

    public NumpyPickleTests(SeedPickleFiles files)
    {
        _files = files;
    }

    public static TheoryData<string> Shapes() => [.. SeedPickleFiles.Shapes];

    public static TheoryData<string> EvilPickles() => [.. SeedPickleFiles.EvilPickles];

    public static TheoryData<string> CodeRunning() => [.. SeedPickleFiles.CodeRunning];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Write_produces_exactly_the_bytes_of_pythons_pickle_dumps(string shape)
    {
        (int height, int width, int channels) = Parse(shape);
        byte[] raw = _files.Numpy(shape, "raw");
        byte[] expected = _files.Numpy(shape, "default");
        Assert.Equal(expected, _files.Numpy(shape, "p4")); // Python 3.11's default protocol is 4

        Assert.Equal(expected.Length, NumpyPickle.PickledLength(height, width, channels));
        // A larger buffer filled with a sentinel: Write must not touch anything past what it reports.
        byte[] destination = new byte[expected.Length + 64];
        destination.AsSpan().Fill(0xA5);
        int written = NumpyPickle.Write(destination, raw, height, width, channels);

        Assert.Equal(expected.Length, written);
        AssertSameBytes(expected, destination.AsSpan(0, written));
        Assert.True(destination.AsSpan(written).IndexOfAnyExcept((byte)0xA5) < 0, "Write wrote past the length it returned");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Read_round_trips_what_Write_produces(string shape)
    {
        (int height, int width, int channels) = Parse(shape);
        byte[] raw = _files.Numpy(shape, "raw");
        byte[] pickle = new byte[NumpyPickle.PickledLength(height, width, channels)];
        Assert.Equal(pickle.Length, NumpyPickle.Write(pickle, raw, height, width, channels));

        AssertReads(pickle, height, width, channels, raw);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Read_accepts_pythons_pickles_of_protocols_2_to_5_with_numpy_1_and_numpy_2_names(string shape)
    {
        (int height, int width, int channels) = Parse(shape);
        byte[] raw = _files.Numpy(shape, "raw");
        foreach (string protocol in Protocols)
        {
            byte[] pickle = _files.Numpy(shape, protocol);
            if (protocol.StartsWith("np2", StringComparison.Ordinal))
            {
                Assert.Contains("numpy._core", System.Text.Encoding.Latin1.GetString(pickle), StringComparison.Ordinal);
            }

            try
            {
                AssertReads(pickle, height, width, channels, raw);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"{shape} pickled with {protocol}: {ex.GetType().Name}: {ex.Message}", ex);
            }
        }
    }

    [Theory]
    [InlineData("9x11x1", 9, 11)]
    [InlineData("1x1x1", 1, 1)]
    public void Read_accepts_a_one_channel_array_of_shape_h_w_1_as_grayscale(string shape, int height, int width)
    {
        byte[] raw = _files.Numpy(shape, "raw");
        foreach (string protocol in Protocols)
        {
            AssertReads(_files.Numpy(shape, protocol), height, width, 1, raw);
        }
    }

    [Theory]
    [MemberData(nameof(EvilPickles))]
    public async Task Read_rejects_every_hostile_payload_with_a_SeedFormatException(string name)
    {
        byte[] payload = _files.Evil(name);
        SeedFormatException rejected = await Task.Run(() => Rejects(payload, name)).WaitAsync(HangLimit);

        Assert.False(string.IsNullOrWhiteSpace(rejected.Message));
        // Where the first thing wrong is a forbidden global, the message names it (loosely: the name appears in it).
        string? forbidden = name switch
        {
            "os_system" or "os_system_protocol2" or "os_system_in_state" => "system",
            "subprocess_popen" or "reconstruct_popen" => "Popen",
            "subprocess_check_call" => "check_call",
            "builtins_eval" => "eval",
            "builtins_exec" => "exec",
            _ => null,
        };
        if (forbidden is not null)
        {
            Assert.Contains(forbidden, rejected.Message, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(_files.Marker), "a payload ran: the marker file exists");
    }

    [Fact]
    public void The_rejection_messages_say_what_was_wrong()
    {
        // Loosely, so the wording can change: a lying size, a wrong dtype and an unknown opcode are told apart.
        Assert.Matches("(?i)length|size|shape|bytes", Rejects(_files.Evil("lying_shape_short"), "lying_shape_short").Message);
        Assert.Matches("(?i)dtype|u1|uint8|float|f8", Rejects(_files.Evil("float64_frame"), "float64_frame").Message);
        Assert.Matches("(?i)channel|shape|4", Rejects(_files.Evil("four_channels"), "four_channels").Message);
        Assert.Matches("(?i)opcode|0xd0|d0", Rejects(_files.Evil("unknown_opcode"), "unknown_opcode").Message);
        Assert.Matches("(?i)proto", Rejects(_files.Evil("protocol_1"), "protocol_1").Message);
    }

    [Theory]
    [MemberData(nameof(CodeRunning))]
    public async Task The_hostile_payloads_are_real_pythons_own_pickle_loads_runs_them(string name)
    {
        // What makes "the marker file never exists" meaningful: the seed client's pickle.loads does create it.
        string pickle = Path.Combine(_files.EvilDirectory, name + ".pickle");
        File.Delete(_files.Marker);
        try
        {
            var info = new ProcessStartInfo(PythonProgram.Interpreter) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("import pickle, sys\ntry:\n    pickle.loads(open(sys.argv[1], 'rb').read())\nexcept Exception as e:\n    print(type(e).__name__, e)");
            info.ArgumentList.Add(pickle);
            using Process python = Process.Start(info)!;
            Task<string> stdout = python.StandardOutput.ReadToEndAsync();
            Task<string> stderr = python.StandardError.ReadToEndAsync();
            await python.WaitForExitAsync().WaitAsync(SeedPrograms.ProgramTimeout);
            string output = await stdout + await stderr;
            await Eventually.UntilAsync(() => File.Exists(_files.Marker), $"python's pickle.loads of {name} creates the marker ({output.Trim()})");
        }
        finally
        {
            File.Delete(_files.Marker);
        }
    }

    [Theory]
    [InlineData("2x3x3", "p2")]
    [InlineData("2x3x3", "p3")]
    [InlineData("2x3x3", "p4")]
    [InlineData("2x3x3", "p5")]
    [InlineData("2x3x3", "np2.p4")]
    [InlineData("16x16", "p4")]
    [InlineData("7x13", "p5")]
    [InlineData("17x255x3", "p4")]
    public async Task Read_rejects_every_truncation_of_a_real_pickle(string shape, string protocol)
    {
        byte[] pickle = _files.Numpy(shape, protocol);
        await Task.Run(() =>
        {
            for (int length = 0; length < pickle.Length; length++)
            {
                Rejects(pickle[..length], $"{shape}.{protocol} cut to {length} of {pickle.Length} bytes");
            }
        }).WaitAsync(HangLimit);
    }

    [Theory]
    [InlineData("2x3x3", "p2", 1)]
    [InlineData("2x3x3", "p4", 2)]
    [InlineData("2x3x3", "p5", 3)]
    [InlineData("2x3x3", "np2.p4", 4)]
    [InlineData("7x13", "p4", 5)]
    [InlineData("17x255x3", "p4", 6)]
    public async Task Read_of_random_byte_flips_either_returns_a_consistent_image_or_throws_SeedFormatException(string shape, string protocol, int seed)
    {
        byte[] original = _files.Numpy(shape, protocol);
        // Flips in the opcode part matter most: for the big pickle, most positions are pixel bytes, so aim there too.
        int structure = Math.Min(original.Length, 200);
        await Task.Run(() =>
        {
            var random = new Random(seed);
            byte[] mutated = new byte[original.Length];
            for (int round = 0; round < 4000; round++)
            {
                original.CopyTo(mutated, 0);
                int flips = 1 + random.Next(4);
                for (int f = 0; f < flips; f++)
                {
                    int at = random.Next(2) == 0 ? random.Next(structure) : original.Length - 1 - random.Next(structure);
                    mutated[at] = random.Next(3) == 0 ? (byte)random.Next(256) : (byte)(mutated[at] ^ (1 << random.Next(8)));
                }

                ReadsOrRejects(mutated, $"{shape}.{protocol} round {round}");
            }
        }).WaitAsync(HangLimit);
    }

    [Fact]
    public async Task Read_of_random_garbage_throws_SeedFormatException()
    {
        await Task.Run(() =>
        {
            var random = new Random(7);
            for (int round = 0; round < 3000; round++)
            {
                byte[] garbage = new byte[random.Next(0, 600)];
                random.NextBytes(garbage);
                if (garbage.Length >= 2 && random.Next(2) == 0)
                {
                    garbage[0] = 0x80; // PROTO, so the parser gets past the first byte
                    garbage[1] = (byte)random.Next(2, 6);
                }

                ReadsOrRejects(garbage, $"garbage round {round}");
            }
        }).WaitAsync(HangLimit);
    }

    private static (int Height, int Width, int Channels) Parse(string shape)
    {
        int[] dims = [.. shape.Split('x').Select(d => int.Parse(d, CultureInfo.InvariantCulture))];
        return dims.Length == 2 ? (dims[0], dims[1], 1) : (dims[0], dims[1], dims[2]);
    }

    private static void AssertReads(byte[] pickle, int height, int width, int channels, byte[] raw)
    {
        byte[]? scratch = null;
        try
        {
            NumpyImage image = NumpyPickle.Read(pickle, ref scratch);
            Assert.Equal((height, width, channels), (image.Height, image.Width, image.Channels));
            Assert.Equal(raw.Length, image.Pixels.Length);
            AssertSameBytes(raw, image.Pixels);
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    private static SeedFormatException Rejects(byte[] payload, string what)
    {
        byte[]? scratch = null;
        try
        {
            NumpyImage image = NumpyPickle.Read(payload, ref scratch);
            Assert.Fail($"{what}: accepted as a {image.Height}x{image.Width}x{image.Channels} image");
            throw new UnreachableException();
        }
        catch (SeedFormatException ex)
        {
            return ex;
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{what}: threw {ex.GetType().Name} instead of SeedFormatException: {ex.Message}", ex);
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    private static void ReadsOrRejects(byte[] payload, string what)
    {
        byte[]? scratch = null;
        try
        {
            NumpyImage image = NumpyPickle.Read(payload, ref scratch);
            Assert.True(image.Height > 0 && image.Width > 0 && (image.Channels == 1 || image.Channels == 3), $"{what}: accepted a {image.Height}x{image.Width}x{image.Channels} image");
            Assert.True((long)image.Height * image.Width * image.Channels == image.Pixels.Length, $"{what}: {image.Height}x{image.Width}x{image.Channels} with {image.Pixels.Length} pixel bytes");
        }
        catch (SeedFormatException)
        {
            // Rejected: fine.
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{what}: threw {ex.GetType().Name} instead of SeedFormatException: {ex.Message}", ex);
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    private static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        if (expected.SequenceEqual(actual))
        {
            return;
        }

        int at = expected.CommonPrefixLength(actual);
        Assert.Fail($"bytes differ at offset {at} (expected {expected.Length} bytes, got {actual.Length}): expected ...{Convert.ToHexString(expected.Slice(at, Math.Min(16, expected.Length - at)))}, got ...{Convert.ToHexString(actual.Slice(at, Math.Min(16, actual.Length - at)))}");
    }
}
