using SocketCam.Media;
using SocketCam.Codecs.TurboJpeg;

namespace SocketCam.Codecs;

/// <summary>Creates encoders and decoders by codec id.</summary>
internal static class CodecFactory
{
    /// <exception cref="Diagnostics.NativeDependencyException">JPEG was asked for and libjpeg-turbo is not installed.</exception>
    public static IFrameEncoder CreateEncoder(CodecId codec, JpegOptions? jpegOptions = null)
    {
        switch (codec)
        {
            case CodecId.Jpeg:
                TurboJpegLibrary.EnsureAvailable();
                return new JpegEncoder(jpegOptions);
            case CodecId.RawBgr24:
                return new RawEncoder();
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown codec.");
        }
    }

    /// <exception cref="Diagnostics.NativeDependencyException">JPEG was asked for and libjpeg-turbo is not installed.</exception>
    public static IFrameDecoder CreateDecoder(CodecId codec)
    {
        switch (codec)
        {
            case CodecId.Jpeg:
                TurboJpegLibrary.EnsureAvailable();
                return new JpegDecoder();
            case CodecId.RawBgr24:
                return new RawDecoder();
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown codec.");
        }
    }
}
