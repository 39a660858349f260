using System.Collections.Concurrent;

namespace SocketCam.Transport;

/// <summary>
/// The running connections of a server, each a tracked task: a connection is registered before it starts (so it cannot
/// finish and unregister first), runs on the thread pool (the accept loop never waits for its synchronous start), and
/// shutdown awaits every one (<see cref="WhenAllAsync"/>): nothing is fire-and-forget.
/// </summary>
public sealed class ConnectionSet<T>
    where T : notnull
{
    private readonly ConcurrentDictionary<T, Task> _running = new();

    /// <summary>Connections running now (a server's cap is checked against it).</summary>
    public int Count => _running.Count;

    internal IEnumerable<T> Items => _running.Keys;

    /// <summary>
    /// Starts <paramref name="run"/> for the connection; <paramref name="finished"/> runs after it, whatever happened.
    /// Returns the tracked task (a caller that serves the connection itself, like an HTTP request, may await it).
    /// </summary>
    public Task Start(T connection, Func<T, Task> run, Action<T>? finished = null)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task running = RunAsync(connection, gate.Task, run, finished);
        _running[connection] = running;
        gate.SetResult();
        return running;
    }

    /// <summary>Completes when every connection started so far has finished (shutdown awaits it).</summary>
    public Task WhenAllAsync() => Task.WhenAll(_running.Values);

    private async Task RunAsync(T connection, Task gate, Func<T, Task> run, Action<T>? finished)
    {
        await gate;
        try
        {
            await run(connection);
        }
        finally
        {
            finished?.Invoke(connection);
            _running.TryRemove(connection, out _);
        }
    }
}
