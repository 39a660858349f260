using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>`socketcam rooms`: asks a hub for its rooms, participants and tracks (LIST_ROOMS, docs/PROTOCOL.md §4.6.7).</summary>
internal static class RoomLister
{
    public static async Task<(List<RoomListing> Rooms, bool Truncated)> ListAsync(StreamEndpoint endpoint, ClientOptions options, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        EndPoint address = await endpoint.ToEndPointAsync(timeout.Token);
        using Socket socket = endpoint.CreateSocket(address);
        try
        {
            await using ConnectionStream stream = await HubHandshake.OpenAsync(socket, endpoint, address, options, boundBuffers: false, timeout.Token);
            await stream.SendAsync(MessageWriterV2.Preface(ProtocolV2.Version), timeout.Token);
            await stream.SendAsync(MessageWriterV2.ListRooms(options.Token ?? ""), timeout.Token);
            PipeReader reader = PipeReader.Create(stream.Stream, new StreamPipeReaderOptions(leaveOpen: true));
            try
            {
                bool prefaceDone = false;
                while (true)
                {
                    ReadResult result = await reader.ReadAsync(timeout.Token);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    try
                    {
                        if (!prefaceDone && MessageParserV2.TryReadPreface(ref buffer, out _, out ushort hubMax))
                        {
                            prefaceDone = true;
                            if (hubMax < ProtocolV2.Version)
                            {
                                throw new RemoteErrorException(ErrorCode.UnsupportedVersion, $"{endpoint.Host} speaks protocol v1 only; `socketcam rooms` needs v2 (a newer `socketcam serve`).");
                            }
                        }

                        if (prefaceDone && MessageParserV2.TryReadMessage(ref buffer, 0, out MessageType type, out ReadOnlySequence<byte> payload) == V2Read.Message)
                        {
                            return type switch
                            {
                                MessageType.RoomList => MessageParserV2.ParseRoomList(payload.ToArray()),
                                MessageType.Error or MessageType.Goodbye => throw ClientSession.ToRemoteError(MessageParser.ParseClose(payload)),
                                _ => throw new ProtocolException(ErrorCode.Malformed, $"Expected ROOM_LIST, got {type}."),
                            };
                        }

                        if (result.IsCompleted)
                        {
                            throw new IOException("The server closed the connection before it listed its rooms.");
                        }
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.Start, buffer.End);
                    }
                }
            }
            finally
            {
                await reader.CompleteAsync();
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{endpoint} did not answer within {options.ConnectTimeout.TotalSeconds:0.#} s.");
        }
        catch (ProtocolException ex) when (HubHandshake.WrongPort(endpoint, ex) is { } wrongPort)
        {
            throw wrongPort;
        }
    }
}
