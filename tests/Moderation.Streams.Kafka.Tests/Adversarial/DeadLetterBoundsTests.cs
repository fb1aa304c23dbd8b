using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>
/// A DLQ record is bounded by construction: just under, at and just over each limit (record budget, value, key,
/// message), and every record built at a budget is accepted by a real producer whose <c>message.max.bytes</c> is
/// that budget (librdkafka's own size check, the one that refused the poison records).
/// </summary>
public sealed class DeadLetterBoundsTests : IDisposable
{
    private const int Budget = 50_000;
    private readonly EmbeddedKafkaBroker _broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });

    public void Dispose() => _broker.Dispose();

    private static ConsumeResult<byte[]?, byte[]?> Upload(byte[]? key, byte[] value, Headers? headers = null) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(Topics.Uploads, 0, 42),
        Message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = headers ?? [] },
    };

    private static OutboundMessage WithHeader(int headerBytes) =>
        DeadLetter.Create(Topics.Dlq, Upload("k"u8.ToArray(), new byte[10_000], new Headers { { "x", new byte[headerBytes] } }), ErrorCodes.InvalidEvent, "bad", maxRecordBytes: Budget);

    private static bool Kept(OutboundMessage dlq) => dlq.Headers.Any(h => h.Key == DeadLetter.OriginalHeaderPrefix + "x");

    /// <summary>Produces through a producer whose limit is the budget; the broker's answer or librdkafka's refusal.</summary>
    private ErrorCode ProduceAtBudget(OutboundMessage message)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, MessageMaxBytes = Budget }).Build();
        try
        {
            return producer.ProduceAsync(message.Topic, new Message<byte[]?, byte[]?> { Key = message.Key, Value = message.Value, Headers = message.Headers },
                TestContext.Current.CancellationToken).GetAwaiter().GetResult().Status == PersistenceStatus.Persisted ? ErrorCode.NoError : ErrorCode.Unknown;
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            return e.Error.Code;
        }
    }

    [Fact]
    public void An_upload_header_just_under_at_and_just_over_the_room_left_is_kept_kept_and_dropped_and_every_record_is_accepted()
    {
        // The largest header that still fits (found by search: the test does not restate the arithmetic).
        int low = 0, high = Budget;
        while (low < high)
        {
            int mid = (low + high + 1) / 2;
            if (Kept(WithHeader(mid))) low = mid; else high = mid - 1;
        }
        int at = low;
        // Little of the budget is left unused: only the reserve for the headers that say what was cut or dropped.
        long unused = Budget - DeadLetter.SizeOf(WithHeader(at));
        Assert.InRange(unused, 0, 128);

        foreach (var (size, kept) in new[] { (at - 1, true), (at, true), (at + 1, false) })
        {
            var dlq = WithHeader(size);
            Assert.Equal(kept, Kept(dlq));
            Assert.Equal(kept ? null : "1", dlq.Headers.TryGetLastBytes(DeadLetter.HeadersDroppedHeader, out var d) ? Encoding.ASCII.GetString(d) : null);
            Assert.InRange(DeadLetter.SizeOf(dlq), 0, Budget);
            Assert.Equal(10_000, dlq.Value.Length);
            Assert.Equal(ErrorCode.NoError, ProduceAtBudget(dlq));
        }

        // The same upload copied as it is (what the DLQ used to do) is refused by the same producer.
        var raw = new OutboundMessage(Topics.Dlq, "k"u8.ToArray(), new byte[10_000], new Headers { { "x", new byte[at + 2000] } });
        Assert.Equal(ErrorCode.MsgSizeTooLarge, ProduceAtBudget(raw));
    }

    [Fact]
    public void A_value_just_under_at_and_over_the_value_limit_is_kept_kept_and_cut_with_its_size_in_a_header()
    {
        foreach (var (size, cut) in new[] { (DeadLetter.DefaultMaxValueBytes - 1, false), (DeadLetter.DefaultMaxValueBytes, false), (DeadLetter.DefaultMaxValueBytes + 1, true) })
        {
            var dlq = DeadLetter.Create(Topics.Dlq, Upload("k"u8.ToArray(), new byte[size]), ErrorCodes.InvalidEvent, "bad");
            Assert.Equal(cut ? DeadLetter.DefaultMaxValueBytes : size, dlq.Value.Length);
            Assert.Equal(cut ? size.ToString() : null, dlq.Headers.TryGetLastBytes(DeadLetter.TruncatedHeader, out var t) ? Encoding.ASCII.GetString(t) : null);
            Assert.InRange(DeadLetter.SizeOf(dlq), 0, KafkaOptions.DefaultDlqMaxRecordBytes);
        }

        // A budget under the value limit cuts the value to what fits.
        var small = DeadLetter.Create(Topics.Dlq, Upload("k"u8.ToArray(), new byte[Budget]), ErrorCodes.InvalidEvent, "bad", maxRecordBytes: Budget);
        Assert.InRange(DeadLetter.SizeOf(small), Budget - 64, Budget);
        Assert.Equal(ErrorCode.NoError, ProduceAtBudget(small));
    }

    [Fact]
    public void A_key_just_under_at_and_over_its_limit_is_kept_kept_and_cut_with_its_size_in_a_header()
    {
        foreach (var (size, cut) in new[] { (DeadLetter.MaxKeyBytes - 1, false), (DeadLetter.MaxKeyBytes, false), (DeadLetter.MaxKeyBytes + 1, true) })
        {
            var key = Enumerable.Repeat((byte)'k', size).ToArray();
            var dlq = DeadLetter.Create(Topics.Dlq, Upload(key, []), ErrorCodes.InvalidEvent, "bad");
            Assert.Equal(key[..Math.Min(size, DeadLetter.MaxKeyBytes)], dlq.Key);
            Assert.Equal(cut ? size.ToString() : null, dlq.Headers.TryGetLastBytes(DeadLetter.KeyTruncatedHeader, out var t) ? Encoding.ASCII.GetString(t) : null);
        }
    }

    [Fact]
    public void The_error_message_header_is_escaped_and_cut()
    {
        var message = "line one\r\nforged: yes\u202E" + new string('m', 5000);
        var dlq = DeadLetter.Create(Topics.Dlq, Upload(null, []), ErrorCodes.InvalidEvent, message);
        var header = Encoding.UTF8.GetString(dlq.Headers.GetLastBytes(DlqHeaders.ErrorMessage));
        Assert.StartsWith("line one\\u000D\\u000Aforged: yes\\u202E", header);
        Assert.Equal(DeadLetter.MaxMessageChars, header.Length);
        Assert.True(SafeText.IsClean(header));
    }

    [Fact]
    public void A_stub_carries_only_the_contract_headers_and_the_stub_marker()
    {
        var stub = DeadLetter.Stub(Topics.Dlq, new TopicPartitionOffset(Topics.Uploads, 3, 77), new byte[5000], ErrorCodes.InvalidEvent, "refused\n");
        Assert.Equal([DlqHeaders.ErrorCode, DlqHeaders.ErrorMessage, DlqHeaders.SourceTopic, DlqHeaders.SourcePartition, DlqHeaders.SourceOffset,
            DeadLetter.KeyTruncatedHeader, DeadLetter.StubHeader], stub.Headers.Select(h => h.Key));
        Assert.Empty(stub.Value);
        Assert.Equal(DeadLetter.MaxKeyBytes, stub.Key!.Length);
        Assert.Equal("refused\\u000A", Encoding.UTF8.GetString(stub.Headers.GetLastBytes(DlqHeaders.ErrorMessage)));
    }

    [Fact]
    public void The_dlq_budget_is_the_configured_one_and_never_over_the_producers_message_max_bytes()
    {
        Assert.Equal(1_000_000, new KafkaOptions().DlqRecordBudget);
        Assert.Equal(200_000, new KafkaOptions { DlqMaxRecordBytes = 200_000 }.DlqRecordBudget);
        Assert.Equal(100_000, new KafkaOptions { Properties = { ["message.max.bytes"] = "100000" } }.DlqRecordBudget);
        Assert.Equal(2_000_000, new KafkaOptions { DlqMaxRecordBytes = 5_000_000, Properties = { ["message.max.bytes"] = "2000000" } }.DlqRecordBudget);
    }
}
