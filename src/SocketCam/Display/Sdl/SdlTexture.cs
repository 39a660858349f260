using SocketCam.Media;

namespace SocketCam.Display.Sdl;

/// <summary>
/// One texture of a window's renderer: either a streaming BGR24 picture that follows the pictures' size
/// (<see cref="UploadPicture"/>), or a still RGBA image drawn blended over what is below (<see cref="SetImage"/>: text
/// labels). Render thread only, like everything SDL; freed by <see cref="Dispose"/> before its window is.
/// </summary>
internal sealed unsafe class SdlTexture : IDisposable
{
    private readonly nint _renderer;
    private nint _handle;
    private bool _streaming;

    internal SdlTexture(nint renderer)
    {
        _renderer = renderer;
    }

    /// <summary>False until something was uploaded (or after a failed upload).</summary>
    public bool HasContent => _handle != 0;

    public int Width { get; private set; }

    public int Height { get; private set; }

    internal nint Handle => _handle;

    /// <summary>Copies a BGR24 picture into the streaming texture (made anew when the size changes); false with SDL's error.</summary>
    public bool UploadPicture(VideoFrame picture, out bool created, out string? error)
    {
        created = false;
        error = null;
        if (_handle == 0 || !_streaming || Width != picture.Width || Height != picture.Height)
        {
            Destroy();
            // BGR24 is what the decoders produce: the picture goes in as it is, and SDL converts it, if its renderer needs
            // another layout, inside the same copy.
            if (!Create(SdlNative.PixelFormatBgr24, SdlNative.TextureAccessStreaming, picture.Width, picture.Height, out error))
            {
                return false;
            }

            _streaming = true;
            created = true;
        }

        fixed (byte* pixels = picture.Buffer)
        {
            if (SdlNative.UpdateTexture(_handle, null, pixels + picture.Offset, picture.Stride) != 0)
            {
                error = SdlNative.GetError();
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Replaces the texture with a still image: <paramref name="rgba"/> is R, G, B, A bytes (alpha not premultiplied),
    /// <paramref name="stride"/> bytes a row; drawn blended (translucent where alpha is below 255). False with SDL's error.
    /// </summary>
    public bool SetImage(ReadOnlySpan<byte> rgba, int width, int height, int stride, out string? error)
    {
        Destroy();
        if (!Create(SdlNative.PixelFormatRgba32, SdlNative.TextureAccessStatic, width, height, out error))
        {
            return false;
        }

        fixed (byte* pixels = rgba)
        {
            if (SdlNative.SetTextureBlendMode(_handle, SdlNative.BlendModeBlend) != 0 || SdlNative.UpdateTexture(_handle, null, pixels, stride) != 0)
            {
                error = SdlNative.GetError();
                Destroy();
                return false;
            }
        }

        return true;
    }

    public void Dispose() => Destroy();

    private bool Create(uint format, int access, int width, int height, out string? error)
    {
        error = null;
        _handle = SdlNative.CreateTexture(_renderer, format, access, width, height);
        if (_handle == 0)
        {
            error = SdlNative.GetError();
            return false;
        }

        _streaming = false;
        Width = width;
        Height = height;
        return true;
    }

    private void Destroy()
    {
        if (_handle != 0)
        {
            SdlNative.DestroyTexture(_handle);
            _handle = 0;
            Width = Height = 0;
        }
    }
}
