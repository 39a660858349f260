using System.Runtime.InteropServices;
using SocketCam.Diagnostics;

namespace SocketCam.Codecs.H264;

/// <summary>
/// FFmpeg 5.1's libavcodec 59 / libavutil 57 (Debian bookworm), just the decoding calls. Options are set by name
/// (<c>av_opt_set</c>), so only the head of <c>AVFrame</c> and <c>AVPacket</c> is read by offset (from the 5.1 headers,
/// checked with offsetof).
/// </summary>
internal static unsafe partial class AvCodecNative
{
    public const string CodecLibrary = "libavcodec.so.59";
    public const string UtilLibrary = "libavutil.so.57";

    public const int CodecIdH264 = 27;
    public const int ErrorAgain = -11;
    public const int ErrorEof = -0x20464F45; // FFERRTAG('E','O','F',' ')
    public const int LogError = 16;
    public const int PixelFormatYuv420P = 0;
    public const int PixelFormatYuvj420P = 12;
    public const int ColorRangeJpeg = 2;
    public const int InputPadding = 64;

    public const int FrameData = 0;
    public const int FrameLinesize = 64;
    public const int FrameWidth = 104;
    public const int FrameHeight = 108;
    public const int FrameFormat = 116;
    public const int FrameColorRange = 320;
    public const int FrameDecodeErrorFlags = 376;

    public const int PacketData = 24;
    public const int PacketSize = 32;

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_find_decoder")]
    public static partial nint FindDecoder(int codecId);

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_alloc_context3")]
    public static partial nint AllocContext(nint codec);

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_open2")]
    public static partial int Open(nint context, nint codec, nint options);

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_free_context")]
    public static partial void FreeContext(nint* context);

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_send_packet")]
    public static partial int SendPacket(nint context, nint packet);

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_receive_frame")]
    public static partial int ReceiveFrame(nint context, nint frame);

    [LibraryImport(CodecLibrary, EntryPoint = "avcodec_flush_buffers")]
    public static partial void FlushBuffers(nint context);

    [LibraryImport(CodecLibrary, EntryPoint = "av_packet_alloc")]
    public static partial nint PacketAlloc();

    [LibraryImport(CodecLibrary, EntryPoint = "av_packet_free")]
    public static partial void PacketFree(nint* packet);

    [LibraryImport(UtilLibrary, EntryPoint = "av_frame_alloc")]
    public static partial nint FrameAlloc();

    [LibraryImport(UtilLibrary, EntryPoint = "av_frame_free")]
    public static partial void FrameFree(nint* frame);

    [LibraryImport(UtilLibrary, EntryPoint = "av_frame_unref")]
    public static partial void FrameUnref(nint frame);

    [LibraryImport(UtilLibrary, EntryPoint = "av_opt_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OptSet(nint target, string name, string value, int searchFlags);

    [LibraryImport(UtilLibrary, EntryPoint = "av_log_set_callback")]
    public static partial void LogSetCallback(delegate* unmanaged[Cdecl]<nint, int, nint, nint, void> callback);

    [LibraryImport("libc", EntryPoint = "vsnprintf")]
    public static partial int VsnPrintf(byte* buffer, nuint size, nint format, nint args);
}

/// <summary>Checks once that libavcodec can be loaded, so a missing package is one line.</summary>
internal static class AvCodecLibrary
{
    public const string MissingMessage =
        "libavcodec is missing: install it with `sudo apt-get install libavcodec59` (it comes with ffmpeg).";

    private static readonly Lazy<bool> Available = new(Probe);

    public static void EnsureAvailable()
    {
        if (!Available.Value)
        {
            throw new NativeDependencyException(MissingMessage);
        }
    }

    private static bool Probe() =>
        NativeLibrary.TryLoad(AvCodecNative.CodecLibrary, typeof(AvCodecNative).Assembly, null, out nint codec)
        && NativeLibrary.TryGetExport(codec, "avcodec_send_packet", out _)
        && NativeLibrary.TryLoad(AvCodecNative.UtilLibrary, typeof(AvCodecNative).Assembly, null, out nint util)
        && NativeLibrary.TryGetExport(util, "av_opt_set", out _);
}
