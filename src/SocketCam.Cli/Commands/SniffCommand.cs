using System.CommandLine;
using System.Globalization;
using SocketCam.Cli.Output;
using SocketCam.Diagnostics;
using SocketCam.Sniff;

namespace SocketCam.Cli.Commands;

/// <summary>
/// `socketcam sniff`: SocketCam traffic as it crosses an interface, from a raw packet socket (docs/SNIFF.md). Frames are
/// read on a thread of their own (a blocking receive per frame, nothing else), the figures drawn once a second.
/// </summary>
internal static class SniffCommand
{
    /// <summary>The kernel's queue for the packet socket: a raw 1080p frame is 6 MB, and the reader may lose the CPU for a while.</summary>
    private const int ReceiveBufferBytes = 64 << 20;

    public static Command Create()
    {
        var iface = new Option<string?>("--interface", "-i")
        {
            HelpName = "IF",
            Description = "Capture on this interface only (e.g. lo, eth0; see `ip link`); default: every interface",
        };
        var ports = new Option<int[]>("--port", "-p")
        {
            HelpName = "PORT",
            Description = "Only traffic to or from this port (repeat for more); default: every port, SocketCam told by content",
            AllowMultipleArgumentsPerToken = false,
        };
        ports.Validators.Add(r =>
        {
            foreach (int p in r.GetValueOrDefault<int[]>() ?? [])
            {
                if (p is < 1 or > 65535)
                {
                    r.AddError($"--port {p} is not a port: use 1-65535.");
                }
            }
        });
        var pcap = new Option<string?>("--pcap")
        {
            HelpName = "FILE",
            Description = "Also write the SocketCam frames (with --port: every frame on those ports) to FILE in pcap format, for Wireshark or tshark",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON line per interval (the last one says \"final\": true) instead of the table" };
        var seconds = CommonOptions.Seconds("default: until Ctrl+C");
        var interval = new Option<double>("--interval")
        {
            HelpName = "SECONDS",
            Description = "How often the figures are drawn (or printed with --json)",
            DefaultValueFactory = _ => 1,
        };
        interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is not (>= 0.1 and <= 3600))
            {
                r.AddError("--interval must be between 0.1 and 3600 seconds.");
            }
        });
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("sniff", "Watch SocketCam traffic on the wire: sessions, messages, frames, chat, loss (needs root or CAP_NET_RAW)")
        {
            iface, ports, pcap, json, seconds, interval, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, (_, cancellationToken) =>
            RunAsync(r.GetValue(iface), r.GetValue(ports) ?? [], r.GetValue(pcap), r.GetValue(json), r.GetValue(seconds), r.GetValue(interval), cancellationToken)));
        return command;
    }

    private static async Task<int> RunAsync(string? iface, int[] ports, string? pcapPath, bool json, double seconds, double interval, CancellationToken cancellationToken)
    {
        // With ports on an interface whose frames start with Ethernet, the kernel drops the rest before queueing them.
        byte[]? filter = ports.Length is > 0 and <= PacketFilter.MaxPorts && iface is not null && PacketFilter.Fits(iface)
            ? PacketFilter.ForPorts(ports.Distinct().ToArray())
            : null;
        using var socket = new PacketSocket(iface, ReceiveBufferBytes, filter, timestamps: pcapPath is not null);
        using PcapWriter? pcap = pcapPath is null ? null : new PcapWriter(pcapPath);
        var sniffer = new Sniffer(new SnifferOptions { Ports = ports.ToHashSet() }, pcap);
        var output = new SniffOutput(sniffer, json, Console.IsOutputRedirected);
        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"sniffing {(iface is null ? "every interface" : iface)}{(ports.Length > 0 ? ", port " + string.Join(", ", ports) : "")}{(pcapPath is null ? "" : ", writing " + pcapPath)}; Ctrl+C to stop"));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (seconds > 0)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        Exception? failure = null;
        // Awaited rather than joined: a failing reader's Cancel runs the drawing loop's continuation on the reader's own
        // thread, which must not then wait for itself.
        var readerDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = new Thread(() =>
        {
            try
            {
                Read(socket, sniffer, stop.Token);
            }
            catch (Exception ex)
            {
                failure = ex; // reported as one line below; the figures so far are still printed
                stop.Cancel();
            }
            finally
            {
                readerDone.SetResult();
            }
        })
        { IsBackground = true, Name = "sniff reader", Priority = ThreadPriority.AboveNormal };
        reader.Start();

        var kernel = new KernelCounts();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(interval));
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                kernel.Add(socket.ReadAndResetStatistics());
                output.Draw(Clock.NowMicros(), kernel, final: false);
                if (pcap is { HasFailed: true })
                {
                    await stop.CancelAsync(); // a capture that cannot be kept ends now, with its reason, not hours later
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        await readerDone.Task;
        kernel.Add(socket.ReadAndResetStatistics());
        output.Draw(Clock.NowMicros(), kernel, final: true);
        if (pcap is not null)
        {
            pcap.Dispose(); // what its writer thread still has reaches the file (or a write error not yet thrown is)
        }

        if (pcap is not null && failure is null)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"wrote {pcap.Frames} frame{(pcap.Frames == 1 ? "" : "s")} ({pcap.Bytes / 1048576.0:0.0} MiB) to {pcapPath}"));
        }

        if (failure is not null)
        {
            throw failure is IOException ? failure : new IOException($"sniff stopped reading: {failure.Message}", failure);
        }

        return 0;
    }

    private static void Read(PacketSocket socket, Sniffer sniffer, CancellationToken stop)
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(PcapWriter.SnapLength, pinned: true);
        while (!stop.IsCancellationRequested)
        {
            int n = socket.Receive(buffer, out int original, out PacketOrigin origin);
            if (original > 0)
            {
                Hand(sniffer, buffer.AsSpan(0, n), original, origin);
            }
        }

        // What the kernel still holds (the last GOODBYEs and FINs), so the final figures include it; bounded.
        for (int i = 0; i < 1_000_000; i++)
        {
            int n = socket.ReceiveQueued(buffer, out int original, out PacketOrigin origin);
            if (original == 0)
            {
                break;
            }

            Hand(sniffer, buffer.AsSpan(0, n), original, origin);
        }
    }

    private static void Hand(Sniffer sniffer, ReadOnlySpan<byte> frame, int original, PacketOrigin origin)
    {
        long? captured = origin.ArrivalMicros > 0 ? origin.ArrivalMicros : null; // the wall clock, for the file only
        lock (sniffer.Sync)
        {
            sniffer.OnFrame(frame, original, origin, Clock.NowMicros(), captured);
        }
    }
}

/// <summary>The kernel's PACKET_STATISTICS, summed over the run.</summary>
internal sealed class KernelCounts
{
    public long Packets { get; private set; }
    public long Drops { get; private set; }

    public void Add((long Packets, long Drops) delta)
    {
        Packets += delta.Packets;
        Drops += delta.Drops;
    }
}
