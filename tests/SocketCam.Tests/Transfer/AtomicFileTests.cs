using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-atomic-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Writes_and_replaces_a_file_leaving_no_temporary_file()
    {
        string path = Path.Combine(_directory, "out.bin");
        await File.WriteAllTextAsync(path, "old contents that are longer than the new ones");
        byte[] data = TransferTesting.Bytes(10_000);

        await AtomicFile.WriteAsync(path, data, CancellationToken.None);

        Assert.Equal(data, await File.ReadAllBytesAsync(path));
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Fact]
    public async Task A_failed_write_leaves_the_old_file_and_no_temporary_file()
    {
        string path = Path.Combine(_directory, "out.bin");
        await File.WriteAllTextAsync(path, "old");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AtomicFile.WriteAsync(path, TransferTesting.Bytes(1000), cancelled.Token));

        Assert.Equal("old", await File.ReadAllTextAsync(path));
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Fact]
    public void Unwritable_destinations_are_reported_before_any_transfer()
    {
        Assert.Contains("does not exist", Assert.Throws<IOException>(() => AtomicFile.CheckWritable(Path.Combine(_directory, "no", "such", "dir", "x.png"))).Message, StringComparison.Ordinal);
        Assert.Contains("is a directory", Assert.Throws<IOException>(() => AtomicFile.CheckWritable(_directory)).Message, StringComparison.Ordinal);
        AtomicFile.CheckWritable(Path.Combine(_directory, "fine.png"));
    }
}
