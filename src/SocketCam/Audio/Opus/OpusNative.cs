using System.Runtime.InteropServices;
using SocketCam.Diagnostics;

namespace SocketCam.Audio.Opus;

/// <summary>
/// libopus 1.3 (libopus.so.0, the reference implementation). The <c>*_ctl</c> functions are variadic in C; on x64 Linux a
/// variadic callee reads integer arguments from the same registers as a fixed one, so they are declared with one fixed
/// <c>int</c> (or pointer) argument, as every .NET Opus binding does.
/// </summary>
internal static unsafe partial class OpusNative
{
    public const string LibraryName = "libopus.so.0";

    public const int Ok = 0;
    public const int ApplicationVoip = 2048;
    public const int ApplicationAudio = 2049;
    public const int SetBitrateRequest = 4002;
    public const int SetComplexityRequest = 4010;
    public const int SetInbandFecRequest = 4012;
    public const int SetPacketLossPercRequest = 4014;
    public const int SetDtxRequest = 4016;
    public const int GetLookaheadRequest = 4027;

    [LibraryImport(LibraryName, EntryPoint = "opus_encoder_create")]
    public static partial nint EncoderCreate(int sampleRate, int channels, int application, out int error);

    [LibraryImport(LibraryName, EntryPoint = "opus_encoder_destroy")]
    public static partial void EncoderDestroy(nint encoder);

    [LibraryImport(LibraryName, EntryPoint = "opus_encode")]
    public static partial int Encode(OpusEncoderHandle encoder, short* pcm, int frameSize, byte* data, int maxDataBytes);

    [LibraryImport(LibraryName, EntryPoint = "opus_encoder_ctl")]
    public static partial int EncoderCtl(OpusEncoderHandle encoder, int request, int value);

    [LibraryImport(LibraryName, EntryPoint = "opus_encoder_ctl")]
    public static partial int EncoderCtlGet(OpusEncoderHandle encoder, int request, out int value);

    [LibraryImport(LibraryName, EntryPoint = "opus_decoder_create")]
    public static partial nint DecoderCreate(int sampleRate, int channels, out int error);

    [LibraryImport(LibraryName, EntryPoint = "opus_decoder_destroy")]
    public static partial void DecoderDestroy(nint decoder);

    /// <summary>Decodes one packet; <paramref name="data"/> null (length 0) conceals a lost one (PLC); <paramref name="decodeFec"/> 1 recovers the previous packet from this one's FEC.</summary>
    [LibraryImport(LibraryName, EntryPoint = "opus_decode")]
    public static partial int Decode(OpusDecoderHandle decoder, byte* data, int length, short* pcm, int frameSize, int decodeFec);

    [LibraryImport(LibraryName, EntryPoint = "opus_packet_get_nb_samples")]
    public static partial int PacketSamples(byte* packet, int length, int sampleRate);

    [LibraryImport(LibraryName, EntryPoint = "opus_strerror")]
    public static partial nint StrError(int error);

    [LibraryImport(LibraryName, EntryPoint = "opus_get_version_string")]
    public static partial nint VersionString();

    public static string ErrorText(int error) => Marshal.PtrToStringUTF8(StrError(error)) ?? $"error {error}";
}

/// <summary>Checks once that libopus can be loaded, so a missing package is one line naming it.</summary>
internal static class OpusLibrary
{
    public const string MissingMessage = "libopus is missing: install it with `sudo apt-get install libopus0` (or use --audio none).";

    private static readonly Lazy<string?> Failure = new(Probe);

    /// <summary>libopus's version ("libopus 1.3.1").</summary>
    public static string Version
    {
        get
        {
            EnsureAvailable();
            return Marshal.PtrToStringUTF8(OpusNative.VersionString()) ?? "libopus";
        }
    }

    public static void EnsureAvailable()
    {
        if (Failure.Value is { } message)
        {
            throw new NativeDependencyException(message);
        }
    }

    private static string? Probe()
    {
        if (!NativeLibrary.TryLoad(OpusNative.LibraryName, typeof(OpusLibrary).Assembly, null, out nint handle))
        {
            return MissingMessage;
        }

        foreach (string export in (string[])["opus_encoder_create", "opus_encode", "opus_encoder_ctl", "opus_decoder_create", "opus_decode", "opus_packet_get_nb_samples"])
        {
            if (!NativeLibrary.TryGetExport(handle, export, out _))
            {
                return $"{OpusNative.LibraryName} lacks {export}: install libopus 1.3 or newer (`sudo apt-get install libopus0`).";
            }
        }

        return null;
    }
}

internal sealed class OpusEncoderHandle : SafeHandle
{
    public OpusEncoderHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    public static OpusEncoderHandle Create(int sampleRate, int channels, int application)
    {
        OpusLibrary.EnsureAvailable();
        nint raw = OpusNative.EncoderCreate(sampleRate, channels, application, out int error);
        if (raw == 0 || error != OpusNative.Ok)
        {
            throw new ArgumentException($"Opus cannot encode {sampleRate} Hz with {channels} channel(s): {OpusNative.ErrorText(error)}.");
        }

        var h = new OpusEncoderHandle();
        h.SetHandle(raw);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        OpusNative.EncoderDestroy(handle);
        return true;
    }
}

internal sealed class OpusDecoderHandle : SafeHandle
{
    public OpusDecoderHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    public static OpusDecoderHandle Create(int sampleRate, int channels)
    {
        OpusLibrary.EnsureAvailable();
        nint raw = OpusNative.DecoderCreate(sampleRate, channels, out int error);
        if (raw == 0 || error != OpusNative.Ok)
        {
            throw new ArgumentException($"Opus cannot decode {sampleRate} Hz with {channels} channel(s): {OpusNative.ErrorText(error)}.");
        }

        var h = new OpusDecoderHandle();
        h.SetHandle(raw);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        OpusNative.DecoderDestroy(handle);
        return true;
    }
}
