using SocketCam.Tests.Support;

namespace SocketCam.Tests.Seed;

/// <summary>
/// Real numpy pickles made once per test class by Debian's python3 + numpy: Seed/Programs/make_numpy_pickles.py for
/// <see cref="Shapes"/> (random uint8 arrays, every protocol, numpy 1 and numpy 2 module names) and
/// evil_seed_server.py --dump for every hostile payload. Deleted afterwards.
/// </summary>
public sealed class SeedPickleFiles : IAsyncLifetime
{
    /// <summary>
    /// HxWxC (a BGR frame) or HxW (grayscale). Chosen around the sizes where pickle changes how it writes the bytes:
    /// SHORT_BINBYTES below 256 bytes, BINBYTES in the 64 KiB FRAME below 65536 (85x257x3 = 65535), BINBYTES outside any
    /// FRAME from 65536 (66x331x3 = 65538, 256x256); widths and heights stay within the reader's 8192.
    /// </summary>
    public static readonly string[] Shapes =
    [
        "1x1x3", "2x3x3", "3x5x3", "7x13x3", "1x85x3", "1x86x3", "17x255x3", "85x257x3", "66x331x3", "1x8192x3", "151x151x3",
        "256x256x3", "480x640x3", "720x1280x3",
        "1x1", "7x13", "16x16", "1x255", "1x256", "255x257", "256x256", "70x1000", "480x640",
    ];

    /// <summary>(H, W, 1) arrays: accepted as grayscale, though Write spells grayscale (H, W).</summary>
    public static readonly string[] OneChannelShapes = ["9x11x1", "1x1x1"];

    /// <summary>The payloads of evil_seed_server.py that are one pickle (the stream cases are only for the CLI tests).</summary>
    public static readonly string[] EvilPickles =
    [
        "os_system", "os_system_protocol2", "subprocess_popen", "subprocess_check_call", "builtins_eval", "builtins_exec",
        "os_system_in_state", "object_array", "reconstruct_popen", "ndarray_call", "dtype_call", "numpy_scalar",
        "uint8_scalar", "matrix", "object_dtype_raw", "dict_frame", "list_frame", "inst_protocol0", "inst_protocol2",
        "obj_opcode", "newobj", "persistent_id", "extension_code", "unknown_opcode", "protocol_1", "protocol_6",
        "out_of_band_buffer", "bad_memo", "memo_index_huge", "lying_shape_short", "lying_shape_long", "huge_shape",
        "negative_shape", "float64_frame", "int8_frame", "uint16_frame", "four_channels", "two_channels", "four_dims",
        "one_dim", "deep_tuple", "nested_list", "mark_bomb", "empty_pickle", "stop_only",
    ];

    /// <summary>The evil payloads that make Python's own pickle.loads run code (and so create the marker file).</summary>
    public static readonly string[] CodeRunning =
    [
        "os_system", "os_system_protocol2", "subprocess_popen", "subprocess_check_call", "builtins_eval", "builtins_exec",
        "os_system_in_state", "object_array", "inst_protocol0", "inst_protocol2", "obj_opcode",
    ];

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-pickles-").FullName;

    /// <summary>The file an evil payload would create if anything ran it (never created by the tests' subject).</summary>
    public string Marker => Path.Combine(_directory, "MARKER");

    public string EvilDirectory => Path.Combine(_directory, "evil");

    public byte[] Numpy(string shape, string kind) => File.ReadAllBytes(Path.Combine(_directory, $"{shape}.{kind}"));

    public byte[] Evil(string name) => File.ReadAllBytes(Path.Combine(EvilDirectory, name + ".pickle"));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(EvilDirectory);
        PythonProgram made = await PythonProgram.RunAsync("make_numpy_pickles.py", SeedPrograms.ProgramTimeout, [_directory, .. Shapes, .. OneChannelShapes]);
        Assert.Equal(Shapes.Length + OneChannelShapes.Length, made.Stdout.Count(l => l.EndsWith(" OK", StringComparison.Ordinal)));
        PythonProgram dumped = await PythonProgram.RunAsync("evil_seed_server.py", SeedPrograms.ProgramTimeout, "--dump", EvilDirectory, Marker);
        foreach (string name in EvilPickles)
        {
            Assert.Contains(name + " pickle", dumped.Stdout);
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }
}
