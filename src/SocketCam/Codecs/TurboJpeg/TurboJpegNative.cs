using System.Runtime.InteropServices;
using SocketCam.Diagnostics;

namespace SocketCam.Codecs.TurboJpeg;

/// <summary>
/// The TurboJPEG 2.x C API (libturbojpeg.so.0). C <c>unsigned long</c> is 64-bit on Linux x64, hence <see cref="nuint"/>.
/// Handles are not thread-safe: one per thread.
/// </summary>
internal static unsafe partial class TurboJpegNative
{
    public const string LibraryName = "libturbojpeg.so.0";

    public const int PixelFormatBgr = 1;
    public const int Subsampling420 = 2;
    public const int SubsamplingGray = 3;
    public const int FlagFastUpsample = 256;
    public const int FlagNoRealloc = 1024;
    public const int FlagFastDct = 2048;
    public const int FlagAccurateDct = 4096;

    [LibraryImport(LibraryName, EntryPoint = "tjInitCompress")]
    public static partial TurboJpegHandle InitCompress();

    [LibraryImport(LibraryName, EntryPoint = "tjInitDecompress")]
    public static partial TurboJpegHandle InitDecompress();

    [LibraryImport(LibraryName, EntryPoint = "tjDestroy")]
    public static partial int Destroy(nint handle);

    [LibraryImport(LibraryName, EntryPoint = "tjCompress2")]
    public static partial int Compress2(
        TurboJpegHandle handle,
        byte* srcBuf,
        int width,
        int pitch,
        int height,
        int pixelFormat,
        byte** jpegBuf,
        nuint* jpegSize,
        int jpegSubsamp,
        int jpegQual,
        int flags);

    /// <summary>Compresses planar YUV (planes packed, rows padded to <paramref name="pad"/> bytes): no colour conversion.</summary>
    [LibraryImport(LibraryName, EntryPoint = "tjCompressFromYUV")]
    public static partial int CompressFromYuv(
        TurboJpegHandle handle,
        byte* srcBuf,
        int width,
        int pad,
        int height,
        int subsamp,
        byte** jpegBuf,
        nuint* jpegSize,
        int jpegQual,
        int flags);

    /// <summary>Converts packed pixels to planar YUV (full-range BT.601, as JPEG uses), planes packed, rows padded to <paramref name="pad"/>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "tjEncodeYUV3")]
    public static partial int EncodeYuv3(
        TurboJpegHandle handle,
        byte* srcBuf,
        int width,
        int pitch,
        int height,
        int pixelFormat,
        byte* dstBuf,
        int pad,
        int subsamp,
        int flags);

    /// <summary>Converts planar YUV to packed pixels (libjpeg-turbo's SIMD colour conversion and upsampling).</summary>
    [LibraryImport(LibraryName, EntryPoint = "tjDecodeYUV")]
    public static partial int DecodeYuv(
        TurboJpegHandle handle,
        byte* srcBuf,
        int pad,
        int subsamp,
        byte* dstBuf,
        int width,
        int pitch,
        int height,
        int pixelFormat,
        int flags);

    [LibraryImport(LibraryName, EntryPoint = "tjDecompressHeader3")]
    public static partial int DecompressHeader3(
        TurboJpegHandle handle,
        byte* jpegBuf,
        nuint jpegSize,
        int* width,
        int* height,
        int* jpegSubsamp,
        int* jpegColorspace);

    [LibraryImport(LibraryName, EntryPoint = "tjDecompress2")]
    public static partial int Decompress2(
        TurboJpegHandle handle,
        byte* jpegBuf,
        nuint jpegSize,
        byte* dstBuf,
        int width,
        int pitch,
        int height,
        int pixelFormat,
        int flags);

    [LibraryImport(LibraryName, EntryPoint = "tjBufSize")]
    public static partial nuint BufSize(int width, int height, int jpegSubsamp);

    [LibraryImport(LibraryName, EntryPoint = "tjGetErrorStr2")]
    private static partial nint GetErrorStr2(TurboJpegHandle handle);

    /// <summary>The last error on <paramref name="handle"/> (allocates; only called on failure).</summary>
    public static string GetError(TurboJpegHandle handle)
    {
        nint text = GetErrorStr2(handle);
        return text == 0 ? "unknown TurboJPEG error" : Marshal.PtrToStringUTF8(text) ?? "unknown TurboJPEG error";
    }
}

/// <summary>Owns a tjhandle so that a leaked encoder or decoder still frees its native state.</summary>
internal sealed class TurboJpegHandle : SafeHandle
{
    public TurboJpegHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>A compressor handle (after checking the library is there); throws if TurboJPEG cannot make one.</summary>
    public static TurboJpegHandle ForCompression() => Checked(TurboJpegNative.InitCompress, "tjInitCompress");

    /// <summary>A decompressor handle (after checking the library is there); throws if TurboJPEG cannot make one.</summary>
    public static TurboJpegHandle ForDecompression() => Checked(TurboJpegNative.InitDecompress, "tjInitDecompress");

    private static TurboJpegHandle Checked(Func<TurboJpegHandle> init, string name)
    {
        TurboJpegLibrary.EnsureAvailable();
        TurboJpegHandle handle = init();
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new InvalidOperationException($"{name} failed (out of memory?).");
        }

        return handle;
    }

    protected override bool ReleaseHandle() => TurboJpegNative.Destroy(handle) == 0;
}

/// <summary>Checks once that libjpeg-turbo can be loaded, so a missing package gives one clear message.</summary>
internal static class TurboJpegLibrary
{
    public const string MissingMessage =
        "libjpeg-turbo is missing: install it with `sudo apt-get install libturbojpeg0` (or use --codec raw).";

    private static readonly string[] RequiredExports =
    [
        "tjInitCompress", "tjInitDecompress", "tjDestroy", "tjCompress2", "tjDecompressHeader3", "tjDecompress2", "tjBufSize", "tjGetErrorStr2",
        "tjCompressFromYUV", "tjDecodeYUV", "tjEncodeYUV3",
    ];

    private static readonly Lazy<bool> Available = new(Probe);

    /// <summary>Throws <see cref="NativeDependencyException"/> when libturbojpeg.so.0 cannot be loaded.</summary>
    public static void EnsureAvailable()
    {
        if (!Available.Value)
        {
            throw new NativeDependencyException(MissingMessage);
        }
    }

    private static bool Probe()
    {
        // Same resolution path the P/Invoke stubs use; every export the code calls must be there, so an old or
        // unrelated library of that name fails here with one clear message, not later with EntryPointNotFoundException.
        return NativeLibrary.TryLoad(TurboJpegNative.LibraryName, typeof(TurboJpegNative).Assembly, null, out nint library)
            && Array.TrueForAll(RequiredExports, name => NativeLibrary.TryGetExport(library, name, out _));
    }
}
