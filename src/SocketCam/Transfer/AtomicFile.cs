using System.Security.Cryptography;

namespace SocketCam.Transfer;

/// <summary>
/// Writes a file all at once or not at all: a temporary file in the same directory, flushed to disk, then renamed over
/// the destination (atomic on one file system). A failure deletes the temporary file, so the destination is never
/// left damaged or partial.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Fails early, with a message for the user, when <paramref name="path"/> cannot be written to.</summary>
    public static void CheckWritable(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new IOException($"'{path}' is a directory: give a file name to write to.");
        }

        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
        {
            throw new IOException($"cannot write '{path}': the directory '{directory}' does not exist.");
        }
    }

    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new IOException($"cannot write '{path}': it has no directory.");
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
                PreallocationSize = data.Length,
            };
            await using (var stream = new FileStream(temporary, options))
            {
                await stream.WriteAsync(data, cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original error is the one to report.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
