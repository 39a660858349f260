using System.Net;

namespace SocketCam.Transfer;

/// <summary>What a finished transfer did, for the CLI's summary line and JSON.</summary>
internal sealed record TransferReport
{
    /// <summary><c>tcp</c> or <c>udp</c>.</summary>
    public required string Transport { get; init; }

    /// <summary>The other side (for a receiver: where the file came from).</summary>
    public required EndPoint Peer { get; init; }

    public required long Bytes { get; init; }

    public required uint Crc32 { get; init; }

    /// <summary>SHA-256 of the file, for comparing with <c>sha256sum</c>.</summary>
    public required byte[] Sha256 { get; init; }

    public required TimeSpan Elapsed { get; init; }

    /// <summary>UDP: how many parts the file was split into.</summary>
    public int Parts { get; init; }

    /// <summary>UDP: DATA datagrams sent (sender, retransmissions included) or received (receiver, duplicates included).</summary>
    public long Datagrams { get; init; }

    /// <summary>UDP sender: DATA sent again (answers to NACKs and probes).</summary>
    public long Retransmitted { get; init; }

    /// <summary>UDP: NACKs sent (receiver) or acted on (sender).</summary>
    public long Nacks { get; init; }

    /// <summary>UDP receiver: parts received more than once.</summary>
    public long Duplicates { get; init; }

    /// <summary>UDP receiver: datagrams that were not part of this transfer (garbage, other transfers, inconsistent headers).</summary>
    public long Ignored { get; init; }
}
