using System.Buffers.Binary;
using SocketCam.Protocol;
using Xunit;

namespace SocketCam.Tests.Protocol;

/// <summary>The chat messages of docs/PROTOCOL.md §4.15 on the wire: what is written parses back; what a correct peer never sends is malformed.</summary>
public sealed class ChatWireTests
{
    private static byte[] Payload(byte[] message) => message[ProtocolConstants.MessageHeaderSize..];

    [Fact]
    public void A_long_history_is_cut_into_chunks_under_64_KiB_that_parse_back_in_order_with_the_last_flagged()
    {
        var messages = Enumerable.Range(1, 40)
            .Select(i => new ChatMessage((ulong)i, 1_700_000_000_000_000 + i, 7, (ulong)(1000 + i), "Zoë", new string('é', ProtocolV2.MaxChatText / 2)))
            .ToList();
        List<byte[]> chunks = MessageWriterV2.ChatHistory(0xABCDEF, messages, truncated: true);
        Assert.True(chunks.Count >= 3);
        Assert.All(chunks, c => Assert.InRange(c.Length - ProtocolConstants.MessageHeaderSize, 1, ProtocolV2.MaxOptionalPayload));
        ChatHistoryChunk[] parsed = [.. chunks.Select(c => MessageParserV2.ParseChatHistory(Payload(c)))];
        Assert.Equal(Enumerable.Range(0, chunks.Count), parsed.Select(p => p.Chunk));
        Assert.Equal([.. Enumerable.Repeat(false, chunks.Count - 1), true], parsed.Select(p => p.Last));
        Assert.All(parsed, p => Assert.True(p.Truncated && p.Store == 0xABCDEF));
        Assert.Equal(messages, parsed.SelectMany(p => p.Messages));
    }

    [Fact]
    public void An_empty_history_is_one_last_chunk()
    {
        ChatHistoryChunk only = MessageParserV2.ParseChatHistory(Payload(Assert.Single(MessageWriterV2.ChatHistory(5, [], truncated: false))));
        Assert.True(only.Last);
        Assert.False(only.Truncated);
        Assert.Empty(only.Messages);
    }

    [Fact]
    public void Join_welcome_result_and_the_chat_event_carry_their_appended_fields()
    {
        JoinMessage join = MessageParserV2.ParseJoin(Payload(MessageWriterV2.Join(new JoinMessage(ProtocolV2.FeatureChat, false, "room", "Ana", "", "tests", 41, 99))));
        Assert.Equal((41UL, 99UL), (join.ChatAfter, join.ChatStore));
        // A JOIN without the fields (a v2 client from before chat) means no resume.
        JoinMessage old = MessageParserV2.ParseJoin(Payload(MessageWriterV2.Join(new JoinMessage(0, false, "room", "Ana", "", "tests", 41, 99))));
        Assert.Equal((0UL, 0UL), (old.ChatAfter, old.ChatStore));

        var terms = new ChatTerms(77, 4096, 10, 20, 50);
        WelcomeV2Message welcome = MessageParserV2.ParseWelcome(Payload(MessageWriterV2.Welcome(new WelcomeV2Message(1, 2, 3, 4, 5, ProtocolV2.FeatureChat, 7, 8, 9, 10, 11, 12, 13, 14, 15, terms))));
        Assert.Equal(terms, welcome.Chat);

        ResultMessage result = MessageParserV2.ParseResult(Payload(MessageWriterV2.Result(new ResultMessage(3, ErrorCode.Normal, 0, "", 12, 345))));
        Assert.Equal((12UL, 345L), (result.ChatSeq, result.ChatSentAtMicros));

        var message = new ChatMessage(9, 10, 11, 12, "<b>n</b>", "two\nlines\tand <script>");
        var e = (ChatMessageEvent)MessageParserV2.ParseEvent((byte)MessageType.ChatMessage, Payload(MessageWriterV2.ChatMessage(33, message)));
        Assert.Equal((33UL, message), (e.Sequence, e.Message));
    }

    [Theory]
    [InlineData("length", "text_len")]
    [InlineData("empty", "empty")]
    [InlineData("id", "client_msg_id 0")]
    [InlineData("utf8", "UTF-8")]
    [InlineData("control", "control character")]
    public void A_chat_send_a_correct_client_never_sends_is_malformed(string fault, string expected)
    {
        byte[] send = Payload(MessageWriterV2.ChatSend(new ChatSendMessage(1, 42, "hello")));
        switch (fault)
        {
            case "length":
                BinaryPrimitives.WriteUInt32BigEndian(send.AsSpan(12), 4);
                break;
            case "empty":
                send = Payload(MessageWriterV2.ChatSend(new ChatSendMessage(1, 42, "")));
                break;
            case "id":
                send.AsSpan(4, 8).Clear();
                break;
            case "utf8":
                send[16] = 0xFF;
                break;
            case "control":
                send[16] = 0x1B;
                break;
        }

        ProtocolException error = Assert.Throws<ProtocolException>(() => MessageParserV2.ParseChatSend(send));
        Assert.Equal(ErrorCode.Malformed, error.Code);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tab_newline_and_carriage_return_are_text_and_a_text_above_the_cap_parses_for_the_hub_to_refuse()
    {
        Assert.Equal("a\tb\r\nc", MessageParserV2.ParseChatSend(Payload(MessageWriterV2.ChatSend(new ChatSendMessage(1, 2, "a\tb\r\nc")))).Text);
        string big = new('x', ProtocolV2.MaxChatText + 1);
        Assert.Equal(big, MessageParserV2.ParseChatSend(Payload(MessageWriterV2.ChatSend(new ChatSendMessage(1, 2, big)))).Text);
    }
}
