using SocketCam.Audio;
using SocketCam.Protocol;

namespace SocketCam.Tests.Audio;

/// <summary>`--audio` as users write it, and the ALSA capture nodes named the way ffmpeg wants them.</summary>
public sealed class AudioSourceSpecTests
{
    [Theory]
    [InlineData("none", nameof(AudioSourceKind.None), "")]
    [InlineData("mic:hw:1,0", nameof(AudioSourceKind.Microphone), "hw:1,0")]
    [InlineData("pulse:alsa_input.usb", nameof(AudioSourceKind.Microphone), "alsa_input.usb")]
    [InlineData("lavfi:sine=frequency=440", nameof(AudioSourceKind.Lavfi), "sine=frequency=440")]
    [InlineData("sync", nameof(AudioSourceKind.Sync), "")]
    [InlineData("LAVFI:anoisesrc", nameof(AudioSourceKind.Lavfi), "anoisesrc")]
    public void Each_kind_parses(string text, string kind, string argument)
    {
        AudioSourceSpec spec = AudioSourceSpec.Parse(text, _ => false);
        Assert.Equal(kind, spec.Kind.ToString());
        Assert.Equal(argument, spec.Argument);
    }

    [Fact]
    public void Files_with_or_without_the_prefix_and_what_each_track_says_it_is()
    {
        AudioSourceSpec bare = AudioSourceSpec.Parse("talk.ogg", p => p == "talk.ogg");
        Assert.Equal(new AudioSourceSpec(AudioSourceKind.File, "talk.ogg"), bare);
        Assert.Equal(bare, AudioSourceSpec.Parse("file:talk.ogg", p => p == "talk.ogg"));
        Assert.Contains("no such file", Assert.Throws<ArgumentException>(() => AudioSourceSpec.Parse("file:gone.ogg", _ => false)).Message, StringComparison.Ordinal);
        Assert.Equal(TrackSource.File, bare.TrackSource);
        Assert.Equal(TrackSource.Synthetic, AudioSourceSpec.Parse("lavfi:sine", _ => false).TrackSource);
        Assert.Equal(TrackSource.Microphone, AudioSourceSpec.Parse("mic:hw:0", _ => false).TrackSource);
        Assert.Contains("is not an audio source", Assert.Throws<ArgumentException>(() => AudioSourceSpec.Parse("trumpet", _ => false)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alsa_capture_nodes_become_ffmpeg_device_names_and_playback_nodes_are_left_out()
    {
        // A sound card cannot be plugged in here: its /dev/snd nodes are stood in for by empty files of the same names.
        string dev = Directory.CreateTempSubdirectory("socketcam-snd-").FullName;
        try
        {
            foreach (string node in (string[])["pcmC0D0p", "pcmC1D0c", "pcmC0D0c", "controlC0", "pcmC1D2c"])
            {
                File.WriteAllBytes(Path.Combine(dev, node), []);
            }

            Assert.Equal(["hw:0,0", "hw:1,0", "hw:1,2"], Microphones.AlsaCaptureDevices(dev));
            Assert.Empty(Microphones.AlsaCaptureDevices(Path.Combine(dev, "missing")));
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }
}
