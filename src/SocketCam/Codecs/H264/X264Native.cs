using System.Runtime.InteropServices;
using SocketCam.Diagnostics;

namespace SocketCam.Codecs.H264;

/// <summary>
/// libx264 build 164 (Debian bookworm's libx264-164). <c>x264_param_t</c> is 1024 bytes and is set only through
/// <c>x264_param_default_preset</c> and <c>x264_param_parse</c> (names, not offsets), except the picture size and colour
/// space at the start of the struct, whose offsets have been stable for many builds. <c>x264_picture_t</c> and
/// <c>x264_nal_t</c> offsets are from the build-164 header (checked with offsetof).
/// </summary>
internal static unsafe partial class X264Native
{
    public const string LibraryName = "libx264.so.164";

    public const int ParamBytes = 1024;
    public const int ParamWidth = 28;
    public const int ParamHeight = 32;
    public const int ParamCsp = 36;

    public const int PictureBytes = 240;
    public const int PictureType = 0;
    public const int PicturePts = 16;
    public const int PictureImage = 40;
    public const int ImageCsp = 0;
    public const int ImagePlanes = 4;
    public const int ImageStride = 8;
    public const int ImagePlane = 24;

    public const int NalBytes = 40;
    public const int NalPayloadSize = 20;
    public const int NalPayload = 24;

    public const int CspI420 = 2;
    public const int TypeAuto = 0;
    public const int TypeIdr = 1;

    [LibraryImport(LibraryName, EntryPoint = "x264_param_default_preset", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ParamDefaultPreset(byte* param, string preset, string? tune);

    [LibraryImport(LibraryName, EntryPoint = "x264_param_parse", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ParamParse(byte* param, string name, string value);

    [LibraryImport(LibraryName, EntryPoint = "x264_param_apply_profile", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ParamApplyProfile(byte* param, string profile);

    [LibraryImport(LibraryName, EntryPoint = "x264_encoder_open_164")]
    public static partial nint EncoderOpen(byte* param);

    [LibraryImport(LibraryName, EntryPoint = "x264_encoder_close")]
    public static partial void EncoderClose(nint encoder);

    /// <summary>Returns the frame's size in bytes (its NALs lie back to back from the first one's payload), 0 when buffered, negative on error.</summary>
    [LibraryImport(LibraryName, EntryPoint = "x264_encoder_encode")]
    public static partial int EncoderEncode(nint encoder, byte** nals, int* nalCount, byte* pictureIn, byte* pictureOut);

    [LibraryImport(LibraryName, EntryPoint = "x264_picture_init")]
    public static partial void PictureInit(byte* picture);
}

/// <summary>Checks once that libx264 can be loaded, so a missing package is one line.</summary>
internal static class X264Library
{
    public const string MissingMessage =
        "libx264 is missing: install it with `sudo apt-get install libx264-164` (or use --codec jpeg).";

    private static readonly Lazy<bool> Available = new(Probe);

    public static void EnsureAvailable()
    {
        if (!Available.Value)
        {
            throw new NativeDependencyException(MissingMessage);
        }
    }

    private static bool Probe()
    {
        if (!NativeLibrary.TryLoad(X264Native.LibraryName, typeof(X264Native).Assembly, null, out nint library))
        {
            return false;
        }

        return NativeLibrary.TryGetExport(library, "x264_encoder_open_164", out _)
            && NativeLibrary.TryGetExport(library, "x264_param_parse", out _);
    }
}
