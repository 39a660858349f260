using SocketCam.Ffmpeg;

namespace SocketCam.Audio;

/// <summary>Whether a media file has sound (ffprobe): `--audio auto` with a file source sends the file's own audio.</summary>
internal static class AudioProbe
{
    public static async Task<bool> HasAudioAsync(string path, CancellationToken cancellationToken)
    {
        if (!FfmpegTool.IsAvailable(FfmpegTool.Ffprobe))
        {
            return false;
        }

        await using FfmpegProcess probe = FfmpegProcess.Start(
            ["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=codec_type", "-of", "csv=p=0", path], tool: FfmpegTool.Ffprobe);
        string output = await new StreamReader(probe.Output).ReadToEndAsync(cancellationToken);
        return await probe.WaitForExitAsync(cancellationToken) == 0 && output.Contains("audio", StringComparison.Ordinal);
    }
}
