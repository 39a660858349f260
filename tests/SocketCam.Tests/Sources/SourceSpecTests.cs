using SocketCam.Sources;

namespace SocketCam.Tests.Sources;

/// <summary>`--source` values as a newcomer types them (issue 17): a bare path needs no file:/image: prefix.</summary>
public sealed class SourceSpecTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-spec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void An_existing_path_is_a_file_or_an_image_source_by_its_extension()
    {
        string clip = Touch("clip.mp4");
        string photo = Touch("Photo.PNG");
        string noExtension = Touch("recording");

        Assert.Equal(new SourceSpec(SourceKind.File, clip), SourceSpec.Parse(clip));
        Assert.Equal(new SourceSpec(SourceKind.Image, photo), SourceSpec.Parse(photo));
        Assert.Equal(new SourceSpec(SourceKind.File, noExtension), SourceSpec.Parse(noExtension));
        Assert.Equal(new SourceSpec(SourceKind.Camera, "/dev/video2"), SourceSpec.Parse("/dev/video2"));
    }

    [Fact]
    public void The_named_kinds_keep_their_meaning_and_a_missing_path_says_no_such_file()
    {
        Assert.Equal(SourceKind.Pattern, SourceSpec.Parse("pattern").Kind);
        Assert.Equal(new SourceSpec(SourceKind.Sync, ""), SourceSpec.Parse("sync"));
        Assert.Equal("sync", SourceSpec.Parse("sync").ToString());
        Assert.Equal(new SourceSpec(SourceKind.Camera, "/dev/video1"), SourceSpec.Parse("camera:1"));
        Assert.Equal(SourceKind.Lavfi, SourceSpec.Parse("lavfi:testsrc2=size=640x360:rate=30").Kind);
        Assert.Equal(SourceKind.Screen, SourceSpec.Parse("screen::99.0").Kind);
        Assert.Equal(SourceKind.Seed, SourceSpec.Parse("seed+tcp://127.0.0.1:9998").Kind);

        ArgumentException missing = Assert.Throws<ArgumentException>(() => SourceSpec.Parse("holiday.mp4"));
        Assert.StartsWith("--source holiday.mp4: no such file", missing.Message, StringComparison.Ordinal);
        Assert.StartsWith("Unknown source 'bogus'", Assert.Throws<ArgumentException>(() => SourceSpec.Parse("bogus")).Message, StringComparison.Ordinal);
    }

    private string Touch(string name)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, [0]);
        return path;
    }
}
