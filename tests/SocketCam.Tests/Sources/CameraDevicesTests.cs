using SocketCam.Sources;

namespace SocketCam.Tests.Sources;

public sealed class CameraDevicesTests
{
    [Fact]
    public void Parses_ffmpegs_v4l2_format_list()
    {
        // Lines as ffmpeg 5.1's v4l2 demuxer prints them for a typical UVC webcam.
        string[] lines =
        [
            "[video4linux2,v4l2 @ 0x5581f0c3c8c0] Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480 320x240",
            "[video4linux2,v4l2 @ 0x5581f0c3c8c0] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 320x240",
            "/dev/video0: Immediate exit requested",
        ];
        IReadOnlyList<CameraFormat> formats = CameraDevices.ParseFormats(lines);
        Assert.Equal(2, formats.Count);
        Assert.True(formats[0].Compressed);
        Assert.Equal("mjpeg", formats[0].Name);
        Assert.Equal("Motion-JPEG", formats[0].Description);
        Assert.Equal(["1280x720", "640x480", "320x240"], formats[0].Sizes);
        Assert.False(formats[1].Compressed);
        Assert.Equal("yuyv422", formats[1].Name);
        Assert.Equal("YUYV 4:2:2", formats[1].Description);
    }

    [Fact]
    public void Lists_video_devices_in_numeric_order()
    {
        string dir = Directory.CreateTempSubdirectory("socketcam-dev-").FullName;
        try
        {
            foreach (string name in new[] { "video10", "video2", "video0", "videoX", "audio0" })
            {
                File.WriteAllText(Path.Combine(dir, name), "");
            }

            Assert.Equal([Path.Combine(dir, "video0"), Path.Combine(dir, "video2"), Path.Combine(dir, "video10")], CameraDevices.List(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("camera", "Camera", "/dev/video0")]
    [InlineData("camera:2", "Camera", "/dev/video2")]
    [InlineData("camera:/dev/video5", "Camera", "/dev/video5")]
    [InlineData("screen", "Screen", "")]
    [InlineData("screen::1", "Screen", ":1")]
    [InlineData("lavfi:testsrc2=size=64x48:rate=5", "Lavfi", "testsrc2=size=64x48:rate=5")]
    [InlineData("pattern", "Pattern", "")]
    public void Parses_source_specs(string text, string kind, string argument)
    {
        SourceSpec spec = SourceSpec.Parse(text);
        Assert.Equal(kind, spec.Kind.ToString());
        Assert.Equal(argument, spec.Argument);
    }

    [Theory]
    [InlineData("camera:abc")]
    [InlineData("file:")]
    [InlineData("image:/no/such.png")]
    [InlineData("webcam2")]
    public void Rejects_bad_specs_with_a_message(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => SourceSpec.Parse(text));
        Assert.StartsWith(text.StartsWith("webcam2", StringComparison.Ordinal) ? "Unknown source" : "--source", error.Message, StringComparison.Ordinal);
    }
}
